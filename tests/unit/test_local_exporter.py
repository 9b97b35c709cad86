"""The cluster-state exporter: kube-state-metrics/cAdvisor series names and labels, over real HTTP."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from hpabench.deploy.local.exporter import Exporter, WorkloadState, cluster_families
from hpabench.deploy.local.pods import PodInfo
from hpabench.deploy.local.ports import PortAllocator

POD = PodInfo(
    name="web-abc-xyz12",
    deployment="web",
    phase="Running",
    ready=True,
    deleting=False,
    created_ts=1000.0,
    started_ts=1001.0,
    ready_ts=1003.0,
    restarts=2,
    pid=123,
    cpu_request_millicores=200,
    cpu_limit_millicores=500,
    memory_request_bytes=128 * 2**20,
    memory_limit_bytes=384 * 2**20,
    cpu_usage_seconds=12.5,
    memory_usage_bytes=50_000_000,
    cpu_throttled_periods=7,
    cpu_periods=40,
    cpu_throttled_seconds=0.3,
    memory_working_set_bytes=45_000_000,
)
STATE = [
    WorkloadState("Deployment", "web", 3, "web", (POD, replace(POD, name="web-abc-new01", ready=False, restarts=0))),
    WorkloadState("StatefulSet", "postgres", 1, "postgres", (replace(POD, name="postgres-0", deployment="postgres"),)),
]


def samples(families: list[Metric]) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in families:
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def value(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    matches = [v for ls, v in found[name] if all(ls.get(k) == want for k, want in labels.items())]
    assert len(matches) == 1, (name, labels, found.get(name))
    return matches[0]


def test_series_names_and_labels() -> None:
    found = samples(cluster_families(STATE, "hpabench"))
    assert value(found, "kube_deployment_spec_replicas", namespace="hpabench", deployment="web") == 3
    assert value(found, "kube_deployment_status_replicas", deployment="web") == 2
    assert value(found, "kube_deployment_status_replicas_ready", deployment="web") == 1
    assert value(found, "kube_statefulset_status_replicas_ready", statefulset="postgres") == 1
    assert value(found, "kube_pod_status_ready", pod="web-abc-xyz12", condition="true") == 1
    assert value(found, "kube_pod_status_ready", pod="web-abc-new01", condition="false") == 1
    assert value(found, "kube_pod_status_phase", pod="web-abc-xyz12", phase="Running") == 1
    assert value(found, "kube_pod_status_phase", pod="web-abc-xyz12", phase="Pending") == 0
    req = dict(pod="web-abc-xyz12", container="web", deployment="web", namespace="hpabench")
    assert value(found, "kube_pod_container_resource_requests", resource="cpu", unit="core", **req) == 0.2
    assert value(found, "kube_pod_container_resource_limits", resource="cpu", unit="core", **req) == 0.5
    assert value(found, "kube_pod_container_resource_limits", resource="memory", unit="byte", **req) == 384 * 2**20
    assert value(found, "kube_pod_container_status_restarts_total", **req) == 2
    assert value(found, "container_cpu_usage_seconds_total", **req) == 12.5
    assert value(found, "container_cpu_cfs_periods_total", **req) == 40
    assert value(found, "container_cpu_cfs_throttled_periods_total", **req) == 7
    assert value(found, "container_memory_working_set_bytes", **req) == 45_000_000
    assert value(found, "kube_pod_created", pod="web-abc-xyz12") == 1000.0
    assert value(found, "kube_pod_info", pod="postgres-0", created_by_kind="StatefulSet") == 1


def test_terminating_pods_do_not_count_as_replicas() -> None:
    state = [
        WorkloadState("Deployment", "web", 1, "web", (POD, replace(POD, name="web-old", deleting=True, ready=False)))
    ]
    found = samples(cluster_families(state, "hpabench"))
    assert value(found, "kube_deployment_status_replicas", deployment="web") == 1
    assert "kube_pod_deletion_timestamp" in found


def test_exporter_serves_http_with_extra_collectors() -> None:
    errors: list[str] = []
    exporter = Exporter(lambda: STATE, "hpabench", on_error=errors.append)

    def hpa_series() -> list[Metric]:
        family = GaugeMetricFamily(
            "kube_horizontalpodautoscaler_status_desired_replicas",
            "desired",
            labels=["namespace", "horizontalpodautoscaler"],
        )
        family.add_metric(["hpabench", "web"], 4)
        return [family]

    def broken() -> list[Any]:
        raise RuntimeError("boom")

    exporter.add_collector(hpa_series)
    exporter.add_collector(broken)
    ports = PortAllocator()
    exporter.start(ports.allocate())
    try:
        text = httpx.get(f"{exporter.url}/metrics", timeout=5).text
    finally:
        exporter.stop()
        ports.release_all()
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {
        "kube_deployment_spec_replicas",
        "container_cpu_usage_seconds",
        "kube_horizontalpodautoscaler_status_desired_replicas",
    } <= names
    labels = 'container="web",deployment="web",namespace="hpabench",pod="web-abc-xyz12"'
    assert f"container_cpu_usage_seconds_total{{{labels}}} 12.5" in text
    assert errors and "boom" in errors[0]  # a broken extra collector is reported, the rest still served
