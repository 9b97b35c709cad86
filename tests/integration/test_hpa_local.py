"""The HPA controller on the real local target: a CPU spike scales the web tier up, quiet scales it
back down after the downscale stabilization window; status series, events and the timeline exist.

Compressed settings (sync 2 s, metrics window 2 s, downscale window 10 s) on the base manifests'
CPU HPA (60 % of a 200m request) with the default behaviour (no `behavior`: the legacy limits).
Load is a bounded thread loop against the app's CPU-bound `/work` through HAProxy.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pytest

from hpabench.deploy.hpa.controller_settings import HpaSettings
from hpabench.deploy.local.cluster import LocalCluster, LocalSettings
from hpabench.rundir import RunDir, read_events
from tests.integration.test_local_support import base_objects, find, our_cgroups, prom_query, wait_until

pytestmark = pytest.mark.integration

HPA_SETTINGS = HpaSettings(
    sync_period_s=2.0,
    metrics_window_s=2.0,
    downscale_stabilization_s=10.0,
    initial_readiness_delay_s=5.0,
)
LOAD_THREADS = 4
LOAD_MAX_S = 240.0  # hard bound on the load loop, whatever happens (busy CI machines are slow)
# Generous deadlines: a shared 2-core runner with another job on it takes several times longer.
DEADLINE_S = 150.0


class Load:
    """`threads` clients requesting `/work` back to back until `stop()` or `max_s`."""

    def __init__(self, url: str, threads: int, max_s: float) -> None:
        self._url = url
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_s
        self.requests = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _loop(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                try:
                    client.get(f"{self._url}/work", params={"cost": 20000})
                except httpx.HTTPError:
                    continue  # a pod being replaced; keep the pressure on
                with self._lock:
                    self.requests += 1

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, RunDir]]:
    objects = base_objects(web_replicas=1)
    hpa = find(objects, "HorizontalPodAutoscaler", "web")
    hpa["spec"].update({"minReplicas": 1, "maxReplicas": 3})
    run = RunDir.create(tmp_path_factory.mktemp("reports"), "hpa-it")
    settings = LocalSettings(scrape_interval_s=1.0, hpa_settings=HPA_SETTINGS, ready_timeout_s=90)
    cluster = LocalCluster.start(objects, run, settings)
    try:
        yield cluster, run
    finally:
        cluster.stop()
        run.close()


def events(run: RunDir, kind: str) -> list[dict[str, Any]]:
    return [e for e in read_events(run.path) if e["kind"] == kind]


def test_spike_scales_up_then_down(stack: tuple[LocalCluster, RunDir]) -> None:
    cluster, run = stack
    web = cluster.deployment("web")
    # idle: one pod, nothing to do (and the HPA found its metrics)
    wait_until(lambda: any(r["scaling_active"] for r in _rows(run)), DEADLINE_S, "the HPA computing from metrics")
    assert web.spec_replicas == 1 and events(run, "hpa_rescale") == []

    load = Load(cluster.service_url("web"), LOAD_THREADS, LOAD_MAX_S)
    load_started = time.time()
    try:
        wait_until(lambda: web.spec_replicas > 1, DEADLINE_S, "a scale-up under load")
        up = events(run, "hpa_rescale")[0]
        assert (up["from"], up["hpa"]) == (1, "web") and up["to"] in (2, 3)
        assert up["reason"] == "cpu resource utilization (percentage of request) above target"
        ready = wait_until(
            lambda: [e for e in events(run, "pod_ready") if e["ts"] > up["ts"] and e.get("deployment") == "web"],
            DEADLINE_S,
            "a new web pod ready",
        )
        print(  # the issue asks for these numbers in the closing note (run with -s)
            f"\nHPA reaction: decision {up['ts'] - load_started:.1f}s after the load step, "
            f"new pod ready {ready[0]['ts'] - load_started:.1f}s after it "
            f"(budget: window {HPA_SETTINGS.metrics_window_s:g}s + sync {HPA_SETTINGS.sync_period_s:g}s + actuation)"
        )
        # How fast is a benchmark question (tests/benchmarks/bench_hpa.py), not a timed assertion here.
    finally:
        load.stop()
    load_stopped = time.time()
    assert load.requests > 0

    # The controller scales first and records the event right after: wait for the event itself.
    wait_until(
        lambda: [e for e in events(run, "hpa_rescale") if e["to"] < e["from"] and e["to"] == 1],
        DEADLINE_S + HPA_SETTINGS.downscale_stabilization_s,
        "the scale-down to 1 after the load",
    )
    assert web.spec_replicas == 1
    down = [e for e in events(run, "hpa_rescale") if e["to"] < e["from"]]
    rows = _rows(run)
    # no scale-down before the window: the last recommendation above 1 is ≥ 10 s older than it
    last_high = max(r["ts"] for r in rows if (r["raw_recommendation"] or 0) > 1 and r["ts"] < down[0]["ts"])
    assert down[0]["ts"] - last_high >= HPA_SETTINGS.downscale_stabilization_s
    assert down[0]["ts"] > load_stopped
    assert {c["type"] for c in events(run, "hpa_condition")} == {"AbleToScale", "ScalingActive", "ScalingLimited"}
    metrics = json.loads(rows[-1]["metrics"])
    assert metrics["cpu"]["target"] == 60.0 and metrics["cpu"]["type"] == "utilization"


def test_status_series_reach_prometheus(stack: tuple[LocalCluster, RunDir]) -> None:
    cluster, _ = stack
    series = wait_until(
        lambda: prom_query(
            cluster.prometheus_url,
            'kube_horizontalpodautoscaler_status_desired_replicas{horizontalpodautoscaler="web"}',
        ),
        DEADLINE_S,
        "the HPA's desired-replicas series",
    )
    assert series[0]["metric"]["namespace"] == "hpabench"
    peak = prom_query(
        cluster.prometheus_url,
        'max_over_time(kube_horizontalpodautoscaler_status_desired_replicas{horizontalpodautoscaler="web"}[10m])',
    )
    assert float(peak[0]["value"][1]) >= 2
    conditions = prom_query(
        cluster.prometheus_url, 'kube_horizontalpodautoscaler_status_condition{condition="AbleToScale",status="true"}'
    )
    assert conditions and conditions[0]["value"][1] == "1"


def test_stop_writes_the_parquet_and_leaves_nothing(stack: tuple[LocalCluster, RunDir]) -> None:
    cluster, run = stack
    cluster.stop()
    frame = pd.read_parquet(run.data / "hpa.parquet")
    assert len(frame) == len(_rows(run)) >= 5  # one row per 2 s sync over the ~20 s story
    assert frame["desired_replicas"].max() >= 2 and frame["desired_replicas"].iloc[-1] == 1
    assert not any(t.name.startswith("hpa-") for t in threading.enumerate())
    assert our_cgroups() == []


def _rows(run: RunDir) -> list[dict[str, Any]]:
    path = run.data / "hpa.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
