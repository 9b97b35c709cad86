"""The cluster-state exporter: the kube-state-metrics and cAdvisor series a cluster would have.

An HTTP `/metrics` server on 127.0.0.1 whose custom collector reads a `StateSource` on every
scrape (nothing cached, nothing stale). Series and labels follow kube-state-metrics / cAdvisor:

Deployments (labels namespace, deployment): `kube_deployment_spec_replicas`,
`kube_deployment_status_replicas`, `kube_deployment_status_replicas_ready`,
`kube_deployment_status_replicas_available`.

Pods (labels namespace, pod): `kube_pod_info` (+ created_by_kind, created_by_name),
`kube_pod_created`, `kube_pod_start_time`, `kube_pod_deletion_timestamp`,
`kube_pod_status_ready` (+ condition = true/false/unknown), `kube_pod_status_phase` (+ phase).

Containers (labels namespace, pod, container): `kube_pod_container_resource_requests` and
`kube_pod_container_resource_limits` (+ resource = cpu/memory, unit = core/byte),
`kube_pod_container_status_restarts_total`, and from the pod's cgroup
`container_cpu_usage_seconds_total`, `container_cpu_cfs_periods_total`,
`container_cpu_cfs_throttled_periods_total`, `container_cpu_cfs_throttled_seconds_total`,
`container_memory_working_set_bytes`, `container_memory_usage_bytes`.

StatefulSets publish `kube_statefulset_*` instead of `kube_deployment_*` (label `statefulset`).
Every pod series also carries `deployment` (the owning workload), which kube-state-metrics does
not have but which saves a join in the PromQL profile. `add_collector(fn)` adds families from
other components (the HPA controller's `kube_horizontalpodautoscaler_*`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")


class PodLike(Protocol):
    """What the exporter reads from a pod (`PodInfo` satisfies it)."""

    name: str
    deployment: str
    phase: str
    ready: bool
    deleting: bool
    created_ts: float
    started_ts: float | None
    restarts: int
    cpu_request_millicores: int | None
    cpu_limit_millicores: int | None
    memory_request_bytes: int | None
    memory_limit_bytes: int | None
    cpu_usage_seconds: float
    memory_usage_bytes: int
    cpu_throttled_periods: int


@dataclass(frozen=True)
class WorkloadState:
    """One Deployment/StatefulSet at scrape time, with its pods and container name."""

    kind: str
    name: str
    spec_replicas: int
    container: str
    pods: tuple[Any, ...]  # PodLike, plus optional cpu_periods / cpu_throttled_seconds / memory_working_set_bytes


StateSource = Callable[[], list[WorkloadState]]
ExtraCollector = Callable[[], Iterable[Metric]]


def _opt(pod: Any, name: str, default: float = 0.0) -> float:
    value = getattr(pod, name, default)
    return default if value is None else float(value)


def cluster_families(workloads: list[WorkloadState], namespace: str) -> list[Metric]:
    """All metric families for a cluster state (pure; the unit tests pin names and labels)."""
    dep = {
        "spec": GaugeMetricFamily(
            "kube_deployment_spec_replicas", "Desired replicas.", labels=["namespace", "deployment"]
        ),
        "status": GaugeMetricFamily(
            "kube_deployment_status_replicas", "Non-terminated pods.", labels=["namespace", "deployment"]
        ),
        "ready": GaugeMetricFamily(
            "kube_deployment_status_replicas_ready", "Ready pods.", labels=["namespace", "deployment"]
        ),
        "available": GaugeMetricFamily(
            "kube_deployment_status_replicas_available", "Available pods.", labels=["namespace", "deployment"]
        ),
    }
    sts = {
        "spec": GaugeMetricFamily(
            "kube_statefulset_replicas", "Desired replicas.", labels=["namespace", "statefulset"]
        ),
        "status": GaugeMetricFamily("kube_statefulset_status_replicas", "Pods.", labels=["namespace", "statefulset"]),
        "ready": GaugeMetricFamily(
            "kube_statefulset_status_replicas_ready", "Ready pods.", labels=["namespace", "statefulset"]
        ),
    }
    pod_labels = ["namespace", "pod", "deployment"]
    ctr_labels = ["namespace", "pod", "container", "deployment"]
    info = GaugeMetricFamily(
        "kube_pod_info", "Pod information.", labels=[*pod_labels, "created_by_kind", "created_by_name"]
    )
    created = GaugeMetricFamily("kube_pod_created", "Unix creation timestamp.", labels=pod_labels)
    start_time = GaugeMetricFamily("kube_pod_start_time", "Unix start timestamp.", labels=pod_labels)
    deletion = GaugeMetricFamily("kube_pod_deletion_timestamp", "Unix deletion timestamp.", labels=pod_labels)
    ready = GaugeMetricFamily("kube_pod_status_ready", "Pod ready condition.", labels=[*pod_labels, "condition"])
    phase = GaugeMetricFamily("kube_pod_status_phase", "Pod phase.", labels=[*pod_labels, "phase"])
    requests = GaugeMetricFamily(
        "kube_pod_container_resource_requests", "Requested resources.", labels=[*ctr_labels, "resource", "unit"]
    )
    limits = GaugeMetricFamily(
        "kube_pod_container_resource_limits", "Resource limits.", labels=[*ctr_labels, "resource", "unit"]
    )
    restarts = CounterMetricFamily("kube_pod_container_status_restarts_total", "Container restarts.", labels=ctr_labels)
    cpu = CounterMetricFamily("container_cpu_usage_seconds_total", "Cumulative CPU time (cgroup).", labels=ctr_labels)
    periods = CounterMetricFamily("container_cpu_cfs_periods_total", "Elapsed CFS periods.", labels=ctr_labels)
    throttled = CounterMetricFamily(
        "container_cpu_cfs_throttled_periods_total", "Throttled CFS periods.", labels=ctr_labels
    )
    throttled_s = CounterMetricFamily("container_cpu_cfs_throttled_seconds_total", "Throttled time.", labels=ctr_labels)
    working_set = GaugeMetricFamily("container_memory_working_set_bytes", "Working set (cgroup).", labels=ctr_labels)
    mem_usage = GaugeMetricFamily("container_memory_usage_bytes", "Memory usage (cgroup).", labels=ctr_labels)

    for workload in workloads:
        live = [p for p in workload.pods if not p.deleting]
        n_ready = sum(1 for p in live if p.ready)
        if workload.kind == "StatefulSet":
            key = [namespace, workload.name]
            sts["spec"].add_metric(key, workload.spec_replicas)
            sts["status"].add_metric(key, len(live))
            sts["ready"].add_metric(key, n_ready)
        else:
            key = [namespace, workload.name]
            dep["spec"].add_metric(key, workload.spec_replicas)
            dep["status"].add_metric(key, len(live))
            dep["ready"].add_metric(key, n_ready)
            dep["available"].add_metric(key, n_ready)
        owner_kind = "StatefulSet" if workload.kind == "StatefulSet" else "ReplicaSet"
        for pod in workload.pods:
            pl = [namespace, pod.name, workload.name]
            cl = [namespace, pod.name, workload.container, workload.name]
            info.add_metric([*pl, owner_kind, workload.name], 1)
            created.add_metric(pl, pod.created_ts)
            if pod.started_ts is not None:
                start_time.add_metric(pl, pod.started_ts)
            if pod.deleting:
                deletion.add_metric(pl, _opt(pod, "deleted_ts", pod.created_ts))
            for condition, value in (("true", pod.ready), ("false", not pod.ready), ("unknown", False)):
                ready.add_metric([*pl, condition], 1.0 if value else 0.0)
            for name in PHASES:
                phase.add_metric([*pl, name], 1.0 if pod.phase == name else 0.0)
            for family, cpu_m, mem_b in (
                (requests, pod.cpu_request_millicores, pod.memory_request_bytes),
                (limits, pod.cpu_limit_millicores, pod.memory_limit_bytes),
            ):
                if cpu_m is not None:
                    family.add_metric([*cl, "cpu", "core"], cpu_m / 1000.0)
                if mem_b is not None:
                    family.add_metric([*cl, "memory", "byte"], float(mem_b))
            restarts.add_metric(cl, pod.restarts)
            cpu.add_metric(cl, pod.cpu_usage_seconds)
            periods.add_metric(cl, _opt(pod, "cpu_periods"))
            throttled.add_metric(cl, pod.cpu_throttled_periods)
            throttled_s.add_metric(cl, _opt(pod, "cpu_throttled_seconds"))
            working_set.add_metric(cl, _opt(pod, "memory_working_set_bytes", float(pod.memory_usage_bytes)))
            mem_usage.add_metric(cl, pod.memory_usage_bytes)
    return [
        *dep.values(),
        *sts.values(),
        info,
        created,
        start_time,
        deletion,
        ready,
        phase,
        requests,
        limits,
        restarts,
        cpu,
        periods,
        throttled,
        throttled_s,
        working_set,
        mem_usage,
    ]


class _Collector(Collector):
    def __init__(self, exporter: Exporter) -> None:
        self.exporter = exporter

    def collect(self) -> Iterable[Metric]:
        yield from cluster_families(self.exporter.state(), self.exporter.namespace)
        for extra in self.exporter.extra_collectors():
            # One misbehaving extra collector must not blank the whole scrape.
            try:
                yield from list(extra())
            except Exception as exc:
                self.exporter.on_error(f"exporter collector {getattr(extra, '__name__', extra)!r} failed: {exc}")


class Exporter:
    """The HTTP exporter. `start(port)` serves in a daemon thread; `stop()` shuts it down."""

    def __init__(self, state: StateSource, namespace: str, on_error: Callable[[str], None] | None = None) -> None:
        self.state = state
        self.namespace = namespace
        self.on_error = on_error or (lambda message: None)
        self._extra: list[ExtraCollector] = []
        self._lock = threading.Lock()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    def add_collector(self, fn: ExtraCollector) -> None:
        """Publish the metric families `fn()` returns on every scrape."""
        with self._lock:
            self._extra.append(fn)

    def extra_collectors(self) -> list[ExtraCollector]:
        with self._lock:
            return list(self._extra)

    def start(self, port: int) -> None:
        self._server, self._thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
