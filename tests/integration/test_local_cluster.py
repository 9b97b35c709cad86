"""The local target with real servers: one stack (2 web replicas) shared by the module's tests.

Order matters and is the story of a stack: ready with limits → traffic through HAProxy → series in
Prometheus → scale 3 and back to 1 → a killed pod restarts → stop leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import psutil
import pytest

from hpabench.deploy.local.cluster import LocalCluster, LocalSettings
from hpabench.deploy.local.ports import is_port_free
from hpabench.rundir import RunDir, read_events
from tests.integration.test_local_support import base_objects, our_cgroups, processes_using, prom_query, wait_until

pytestmark = pytest.mark.integration

POD_NAME = re.compile(r"^web-[bcdfghjklmnpqrstvwxz2456789]+-[bcdfghjklmnpqrstvwxz2456789]{5}$")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, RunDir]]:
    run = RunDir.create(tmp_path_factory.mktemp("reports"), "local-it")
    settings = LocalSettings(scrape_interval_s=1.0, autoscale=False, restart_backoff_base_s=0.5, ready_timeout_s=90)
    cluster = LocalCluster.start(base_objects(web_replicas=2), run, settings)
    try:
        yield cluster, run
    finally:
        cluster.stop()
        run.close()


def web_pods(cluster: LocalCluster) -> list[Any]:
    return [p for p in cluster.deployment("web").pods() if not p.deleting]


def enabled_servers(cluster: LocalCluster) -> set[str]:
    return {name for name, row in cluster.haproxy_api.servers("web").items() if row["status"] != "MAINT"}


def test_all_pods_ready_with_kubelet_limits(stack: tuple[LocalCluster, RunDir]) -> None:
    cluster, run = stack
    pods = web_pods(cluster)
    assert len(pods) == 2 and all(p.ready and p.phase == "Running" for p in pods)
    assert all(POD_NAME.match(p.name) for p in pods)
    assert [p.name for p in cluster.deployment("postgres").pods()] == ["postgres-0"]
    assert {d.name for d in cluster.deployments()} == {"web", "postgres", "redis"}
    assert enabled_servers(cluster) == {p.name for p in pods}
    host = run.read_manifest()["host"]
    if host["cgroups_enforced"]:
        for path in cluster.cgroup_paths:
            folder = path / pods[0].name
            if (folder / "cpu.cfs_quota_us").exists():
                assert (folder / "cpu.cfs_quota_us").read_text().strip() == "50000"
                assert (folder / "cpu.shares").read_text().strip() == "204"
            if (folder / "cpu.max").exists():
                assert (folder / "cpu.max").read_text().split() == ["50000", "100000"]
            if (folder / "memory.limit_in_bytes").exists():
                assert int((folder / "memory.limit_in_bytes").read_text()) == 384 * 2**20
            procs = folder / "cgroup.procs"
            assert pods[0].pid is not None and pods[0].pid in [int(x) for x in procs.read_text().split()]
    else:
        assert any(
            e["kind"] == "warning" and "WITHOUT CPU and memory limits" in e["message"] for e in read_events(run.path)
        )


def test_requests_through_haproxy_hit_and_miss(stack: tuple[LocalCluster, RunDir]) -> None:
    cluster, _ = stack
    url = cluster.service_url("web")
    item = 4000 + os.getpid() % 1000  # not read before in this stack
    first = httpx.get(f"{url}/items/{item}", timeout=10)
    second = httpx.get(f"{url}/items/{item}", timeout=10)
    assert first.status_code == 200 and first.json()["id"] == item
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert second.json() == first.json()
    order = httpx.post(f"{url}/orders", json={"item_id": item, "quantity": 1}, timeout=10)
    assert order.status_code == 201
    assert httpx.get(f"{url}/items/{item}", timeout=10).headers["x-cache"] == "miss"  # invalidated by the write


def test_both_replicas_serve_traffic(stack: tuple[LocalCluster, RunDir]) -> None:
    cluster, _ = stack
    url = cluster.service_url("web")
    with httpx.Client(timeout=10) as client:
        for i in range(40):
            assert client.get(f"{url}/items/{1 + i % 20}").status_code == 200
    per_server = {name: int(row["stot"]) for name, row in cluster.haproxy_api.servers("web").items()}
    pods = web_pods(cluster)
    assert set(per_server) == {p.name for p in pods}
    assert all(count >= 10 for count in per_server.values()), per_server
    for pod in pods:  # each pod's own counters agree that it served requests
        metrics = httpx.get(f"http://127.0.0.1:{pod.port}/metrics", timeout=5).text
        served = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("http_requests_total{") and "/items/{id}" in line
        )
        assert served >= 10, (pod.name, served)


def test_series_in_prometheus(stack: tuple[LocalCluster, RunDir]) -> None:
    cluster, _ = stack
    prom = cluster.prometheus_url
    pods = {p.name for p in web_pods(cluster)}

    def web_targets() -> list[dict[str, Any]]:
        result = prom_query(prom, 'up{job="web"} == 1')
        return result if {r["metric"].get("pod") for r in result} == pods else []

    targets = wait_until(web_targets, 30, "both web pods scraped")
    labels = targets[0]["metric"]
    assert labels["namespace"] == "hpabench" and labels["container"] == "web" and labels["deployment"] == "web"
    for job in ("haproxy", "hpabench-exporter", "prometheus"):
        wait_until(lambda job=job: prom_query(prom, f'up{{job="{job}"}} == 1'), 30, f"job {job} up")
    spec = wait_until(lambda: prom_query(prom, 'kube_deployment_spec_replicas{deployment="web"}'), 30, "spec replicas")
    assert spec[0]["value"][1] == "2" and spec[0]["metric"]["namespace"] == "hpabench"
    cpu = wait_until(
        lambda: prom_query(prom, 'container_cpu_usage_seconds_total{namespace="hpabench",deployment="web"}'), 30, "cpu"
    )
    assert {r["metric"]["pod"] for r in cpu} >= pods
    # HAProxy's per-server series name the pods (both served traffic in the previous test).
    wait_until(
        lambda: (
            {
                r["metric"]["server"]
                for r in prom_query(prom, 'haproxy_server_http_responses_total{proxy="web",code="2xx"} > 0')
            }
            == pods
        ),
        30,
        "HAProxy per-pod series",
    )
    app = wait_until(lambda: prom_query(prom, 'http_requests_total{job="web"}'), 30, "app request counters")
    assert {r["metric"]["pod"] for r in app} <= pods


def test_scale_to_three_and_back_to_one(stack: tuple[LocalCluster, RunDir]) -> None:
    cluster, run = stack
    web = cluster.deployment("web")
    web.scale(3, by="user")
    assert web.spec_replicas == 3
    wait_until(lambda: sum(p.ready for p in web_pods(cluster)) == 3, 60, "3 ready web pods")
    wait_until(lambda: enabled_servers(cluster) == {p.name for p in web_pods(cluster)}, 10, "HAProxy has 3 servers")
    assert len(enabled_servers(cluster)) == 3
    web.scale(1, by="user")
    wait_until(lambda: len(web.pods()) == 1, 60, "scaled down to 1 pod")
    survivor = web.pods()[0].name
    wait_until(lambda: set(cluster.haproxy_api.servers("web")) == {survivor}, 10, "HAProxy follows to 1 server")
    with httpx.Client(timeout=10) as client:
        assert all(client.get(f"{cluster.service_url('web')}/items/7").status_code == 200 for _ in range(10))
    scales = [(e["from"], e["to"], e["by"]) for e in read_events(run.path) if e["kind"] == "scale"]
    assert scales[-2:] == [(2, 3, "user"), (3, 1, "user")]
    rows = [json.loads(line) for line in (run.data / "pods.jsonl").read_text().splitlines()]
    assert len([r for r in rows if r["deployment"] == "web"]) == 2  # the two deleted web pods
    assert all(r["deleted_ts"] >= r["created_ts"] and r["ready_ts"] for r in rows)


def test_killed_pod_is_restarted(stack: tuple[LocalCluster, RunDir]) -> None:
    cluster, run = stack
    web = cluster.deployment("web")
    pod = web.pods()[0]
    assert pod.pid is not None
    os.kill(pod.pid, signal.SIGKILL)
    restarted = wait_until(
        lambda: next((p for p in web.pods() if p.name == pod.name and p.restarts >= 1 and p.ready), None),
        60,
        "the killed pod restarted and ready",
    )
    assert restarted.pid != pod.pid
    kinds = [e["kind"] for e in read_events(run.path) if e.get("pod") == pod.name]
    assert "pod_crashed" in kinds and "pod_restarted" in kinds
    crash = next(e for e in read_events(run.path) if e["kind"] == "pod_crashed" and e["pod"] == pod.name)
    assert crash["exit_code"] == -signal.SIGKILL and crash["backoff_s"] == 0.0  # first restart is immediate
    wait_until(lambda: enabled_servers(cluster) == {pod.name}, 10, "HAProxy routes to the restarted pod")
    assert httpx.get(f"{cluster.service_url('web')}/items/3", timeout=10).status_code == 200


def test_stop_leaves_nothing_behind(stack: tuple[LocalCluster, RunDir]) -> None:
    cluster, run = stack
    pids = set(cluster.server_pids)
    for deployment in cluster.deployments():
        for pod in deployment.live_pods():
            pids.update(pod.cgroup_pids())
    assert len(pids) >= 5  # haproxy, prometheus, postgres (+ backends), redis, web
    ports = cluster.infra_ports + [p.port for d in cluster.deployments() for p in d.pods() if p.port]
    cgroup_paths = cluster.cgroup_paths
    temp_paths = cluster.temp_paths
    assert temp_paths  # at least HAProxy's socket folder
    cluster.stop()
    cluster.stop()  # idempotent
    alive = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    assert [p for p in cgroup_paths if p.exists()] == []
    assert our_cgroups() == []
    assert [port for port in ports if not is_port_free(port)] == []
    assert processes_using(run.path) == []
    assert not any(p.exists() for p in temp_paths)
    assert all(d.pods() == [] for d in cluster.deployments())
    pods = pd.read_parquet(run.data / "pods.parquet")
    assert len(pods) == 5  # postgres, redis and the three web pods (2 initial + 1 scaled up)
    assert pods["deleted_ts"].notna().all() and pods["ready_ts"].notna().all()
    assert int(pods[pods["restarts"] > 0]["restarts"].iloc[0]) >= 1  # the pod killed above
