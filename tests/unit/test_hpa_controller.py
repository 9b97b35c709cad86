"""The controller loop with an honest fake cluster and a fake clock.

The fake Deployment keeps pods like a ReplicaSet (new pods start, then become Ready after a delay)
and integrates a CPU demand shared by its Ready pods into cumulative CPU seconds — what the local
target's cgroups report — so the loop's metrics-server emulation, the core and the actuation are
exercised together, deterministically.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hpabench.deploy.hpa.controller import HpaController
from hpabench.deploy.hpa.controller_settings import HpaSettings
from hpabench.deploy.hpa.custom import Sample
from hpabench.deploy.hpa.sync_log import COLUMNS
from hpabench.errors import SpecError
from hpabench.rundir import EventLog, read_events

START = 1_700_000_000.0
CPU_TARGET = {"type": "Utilization", "averageUtilization": 60}
RPS = {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}


def hpa_manifest(min_r: int = 1, max_r: int = 4, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "bench"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": min_r,
            "maxReplicas": max_r,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
                }
            ],
            **spec,
        },
    }


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Snapshot:
    name: str
    phase: str
    ready: bool
    deleting: bool
    created_ts: float
    started_ts: float | None
    ready_ts: float | None
    ready_transition_ts: float
    cpu_request_millicores: int | None
    memory_request_bytes: int | None
    cpu_usage_seconds: float
    memory_usage_bytes: int


@dataclass
class FakePod:
    name: str
    created_ts: float
    ready_ts: float | None = None
    cpu_s: float = 0.0


@dataclass
class FakeDeployment:
    """A Deployment whose pods are Ready `startup_s` after creation and share `demand_cores`."""

    clock: Callable[[], float]
    replicas: int
    startup_s: float = 5.0
    demand_cores: float = 0.0
    fail_scale: bool = False
    scale_calls: list[tuple[int, str]] = field(default_factory=list)
    pods_: list[FakePod] = field(default_factory=list)
    counter: int = 0
    integrated_to: float = 0.0

    def __post_init__(self) -> None:
        self.integrated_to = self.clock()
        self._reconcile()
        for pod in self.pods_:  # the initial pods have been up for a long time
            pod.created_ts = self.clock() - 3600
            pod.ready_ts = self.clock() - 3590

    @property
    def spec_replicas(self) -> int:
        return self.replicas

    def scale(self, replicas: int, by: str = "user") -> None:
        if self.fail_scale:
            raise RuntimeError("the API server said no")
        self.scale_calls.append((replicas, by))
        self.replicas = replicas
        self._reconcile()

    def _reconcile(self) -> None:
        while len(self.pods_) < self.replicas:
            self.counter += 1
            self.pods_.append(FakePod(f"web-{self.counter}", self.clock()))
        del self.pods_[self.replicas :]

    def advance_to(self, now: float) -> None:
        """Integrate the CPU demand over Ready pods in 1 s steps up to `now`."""
        while self.integrated_to < now:
            step = min(1.0, now - self.integrated_to)
            t = self.integrated_to + step
            for pod in self.pods_:
                if pod.ready_ts is None and t >= pod.created_ts + self.startup_s:
                    pod.ready_ts = pod.created_ts + self.startup_s
            ready = [p for p in self.pods_ if p.ready_ts is not None]
            for pod in ready:
                pod.cpu_s += self.demand_cores / len(ready) * step
            self.integrated_to = t

    def pods(self) -> list[Snapshot]:
        self.advance_to(self.clock())
        return [
            Snapshot(
                name=p.name,
                phase="Running",
                ready=p.ready_ts is not None,
                deleting=False,
                created_ts=p.created_ts,
                started_ts=p.created_ts,
                ready_ts=p.ready_ts,
                ready_transition_ts=p.ready_ts if p.ready_ts is not None else p.created_ts,
                cpu_request_millicores=200,
                memory_request_bytes=128 * 2**20,
                cpu_usage_seconds=p.cpu_s,
                memory_usage_bytes=64 * 2**20,
            )
            for p in self.pods_
        ]


@dataclass
class FakeCluster:
    deployments: dict[str, FakeDeployment]
    collectors: list[Any] = field(default_factory=list)
    prometheus_url: str | None = None

    def deployment(self, name: str) -> FakeDeployment:
        try:
            return self.deployments[name]
        except KeyError:
            raise KeyError(f"deployment {name!r} not found") from None

    def add_collector(self, fn: Any) -> None:
        self.collectors.append(fn)


@pytest.fixture
def world(tmp_path: Path) -> Any:
    class World:
        clock = Clock()
        web = FakeDeployment(clock, replicas=1, demand_cores=0.1)
        cluster = FakeCluster({"web": web})
        events = EventLog(tmp_path / "events.jsonl")
        data = tmp_path / "data"

        def controller(self, hpa: dict[str, Any] | None = None, **settings: Any) -> HpaController:
            settings.setdefault("metrics_offset_s", 0.0)  # scrapes right before syncs: exact timelines
            return HpaController(
                hpa or hpa_manifest(), self.cluster, HpaSettings(**settings), self.events, self.data, clock=self.clock
            )

        def run_until(self, controller: HpaController, until: float) -> None:
            while self.clock.now < until:
                due = controller.run_due(self.clock.now)
                self.clock.now = min(max(due, self.clock.now + 0.001), until)
            controller.run_due(self.clock.now)

        def kinds(self, kind: str) -> list[dict[str, Any]]:
            return [e for e in read_events(tmp_path) if e["kind"] == kind]

    instance = World()
    yield instance
    instance.events.close()


def test_spike_scales_up_then_down_after_the_window(world: Any) -> None:
    controller = world.controller()
    controller.start(thread=False)
    assert world.cluster.collectors == [controller.collect]
    # calm: 0.1 core on one 200m pod = 50 % of request vs a 60 % target → no change
    world.run_until(controller, START + 60)
    assert world.web.scale_calls == []
    # load step at +60 s: 0.6 cores → 300 % → wants 5, the legacy limit allows max(2 × 1, 4) = 4 = max
    world.web.advance_to(START + 60)
    world.web.demand_cores = 0.6
    world.run_until(controller, START + 200)
    assert world.web.scale_calls == [(4, "hpa")]
    rescale = world.kinds("hpa_rescale")[0]
    assert (rescale["from"], rescale["to"], rescale["hpa"]) == (1, 4, "web")
    assert rescale["reason"] == "cpu resource utilization (percentage of request) above target"
    # metrics-server reports the step within one window, the HPA acts at the next sync
    assert START + 60 < rescale["ts"] <= START + 60 + 15 + 15
    # load gone at +200 s: the 300 s downscale window keeps 4 replicas until ~+200 + 300
    world.web.advance_to(START + 200)
    world.web.demand_cores = 0.05
    world.run_until(controller, START + 450)
    assert world.web.replicas == 4
    world.run_until(controller, START + 560)
    assert world.web.scale_calls[0] == (4, "hpa") and world.web.replicas == 1
    down = world.kinds("hpa_rescale")[1]
    assert down["reason"] == "All metrics below target"
    # the first scale-down comes a full window after the last recommendation of 4
    last_four = max(r["ts"] for r in controller._timeline.rows if (r["raw_recommendation"] or 0) >= 4)
    assert last_four + 300 <= down["ts"] <= last_four + 300 + 15
    controller.stop()

    rows = [json.loads(line) for line in (world.data / "hpa.jsonl").read_text().splitlines()]
    assert len(rows) == 560 // 15 + 1  # a sync at start, then every 15 s
    assert all(set(row) == set(COLUMNS) for row in rows)
    first_with_metrics = next(r for r in rows if r["scaling_active"])
    assert json.loads(first_with_metrics["metrics"])["cpu"] == {"current": 50.0, "target": 60.0, "type": "utilization"}
    assert 0 <= first_with_metrics["metrics_age_s"] <= 15
    frame = pd.read_parquet(world.data / "hpa.parquet")
    assert list(frame.columns) == list(COLUMNS) and len(frame) == len(rows)
    assert frame["desired_replicas"].max() == 4 and frame["desired_replicas"].iloc[-1] == 1
    assert str(frame["raw_recommendation"].dtype) == "Int64"


def test_scrapes_sit_half_a_window_before_syncs_by_default(world: Any) -> None:
    controller = HpaController(
        hpa_manifest(), world.cluster, HpaSettings(), world.events, world.data, clock=world.clock
    )
    controller.start(thread=False)
    scrapes: list[float] = []
    real_scrape = controller.scrape
    controller.scrape = lambda now: (scrapes.append(now), real_scrape(now))[1]  # type: ignore[method-assign]
    world.run_until(controller, START + 60)
    assert scrapes == [START + 7.5, START + 22.5, START + 37.5, START + 52.5]
    ages = [r["metrics_age_s"] for r in controller._timeline.rows if r["metrics_age_s"] is not None]
    assert ages == [7.5, 7.5, 7.5, 7.5]  # the syncs at +15, +30, +45, +60
    controller.stop()


def test_first_sync_reports_missing_metrics_like_a_new_hpa(world: Any) -> None:
    controller = world.controller()
    controller.start(thread=False)
    status = controller.status()
    assert (status.current_replicas, status.desired_replicas) == (1, 0)
    reasons = {(c["type"], c["status"], c["reason"]) for c in world.kinds("hpa_condition")}
    assert ("AbleToScale", "True", "SucceededGetScale") in reasons
    assert ("ScalingActive", "False", "FailedGetResourceMetric") in reasons
    world.run_until(controller, START + 15)  # second scrape → metrics exist
    assert controller.status().conditions[1].reason == "ValidMetricFound"
    # conditions are emitted on change only
    world.run_until(controller, START + 90)
    active = [c for c in world.kinds("hpa_condition") if c["type"] == "ScalingActive"]
    assert [c["reason"] for c in active] == ["FailedGetResourceMetric", "ValidMetricFound"]
    controller.stop()


def test_start_brings_the_target_within_min_and_max(world: Any) -> None:
    controller = world.controller(hpa_manifest(min_r=3, max_r=5))
    controller.start(thread=False)
    assert world.web.scale_calls == [(3, "hpa")]
    assert world.kinds("hpa_rescale")[0]["reason"] == "Current number of replicas below Spec.MinReplicas"
    controller.stop()


def test_new_pods_are_missing_then_unready_then_counted(world: Any) -> None:
    world.web.startup_s = 20.0
    controller = world.controller(hpa_manifest(min_r=2, max_r=2))
    controller.start(thread=False)  # 1 → 2: the new pod starts now, Ready after 20 s
    world.run_until(controller, START + 15)
    row = controller._timeline.rows[-1]
    # at +15 s the new pod has only one scrape: "missing" (before readiness is even looked at)
    assert (row["ready_pods"], row["missing_pods"]) == (1, 1)
    world.run_until(controller, START + 30)
    row = controller._timeline.rows[-1]
    # at +30 s it has a rate, but inside the CPU initialization period its window (+15..+30)
    # began before it became Ready (+20): set aside as unready
    assert (row["ready_pods"], row["unready_pods"], row["missing_pods"]) == (1, 1, 0)
    world.run_until(controller, START + 45)
    assert controller._timeline.rows[-1]["ready_pods"] == 2
    controller.stop()


def test_failed_scale_update_is_reported_and_not_remembered(world: Any) -> None:
    controller = world.controller(hpa_manifest(min_r=2, max_r=4, behavior={}))
    world.web.fail_scale = True
    controller.start(thread=False)
    decision = controller.last_decision
    assert decision is not None and decision.rescale is False
    assert decision.history.scale_up_events == ()
    assert controller.status().conditions[0].reason == "FailedUpdateScale"
    assert world.kinds("hpa_rescale") == []
    assert "FailedRescale: New size: 2" in world.kinds("warning")[0]["message"]
    world.web.fail_scale = False
    world.run_until(controller, START + 15)
    assert world.web.scale_calls == [(2, "hpa")]
    controller.stop()


def test_vanished_target_is_failed_get_scale(world: Any) -> None:
    controller = world.controller()
    controller.start(thread=False)
    del world.cluster.deployments["web"]
    world.run_until(controller, START + 15)
    assert controller.status().conditions[0].reason == "FailedGetScale"
    assert controller._timeline.rows[-1]["able_to_scale"] is False
    controller.stop()


def test_custom_pods_metric_from_a_query(world: Any) -> None:
    asked: list[tuple[str, float]] = []

    def query(promql: str, at: float) -> list[Sample]:
        asked.append((promql, at))
        return [Sample({"pod": p.name}, at - 2, 30.0) for p in world.web.pods_]

    settings = HpaSettings(custom_metrics={"rps": "sum by (pod) (rate(http_requests_total[30s]))"})
    controller = HpaController(
        hpa_manifest(max_r=10, metrics=[RPS]), world.cluster, settings, world.events, world.data,
        clock=world.clock, query=query,
    )  # fmt: skip
    controller.start(thread=False)
    assert asked == [("sum by (pod) (rate(http_requests_total[30s]))", START)]
    assert world.web.scale_calls == [(3, "hpa")]  # 30 per pod vs 10 → ×3
    metric = controller.status().metrics[0]
    assert (metric.name, metric.current, metric.target, metric.target_type) == ("rps", 30.0, 10.0, "average")
    assert '"rps" on pods:' in controller.status().describe() and "30 / 10" in controller.status().describe()
    controller.stop()


def test_custom_metric_without_prometheus_is_a_failed_metric(world: Any) -> None:
    controller = world.controller(hpa_manifest(metrics=[RPS]), custom_metrics={"rps": "q"})
    controller.start(thread=False)
    active = controller.status().conditions[1]
    assert (active.status, active.reason) == ("False", "FailedGetPodsMetric")
    assert "no Prometheus to query" in active.message
    controller.stop()


def test_invalid_hpa_is_refused_at_construction(world: Any) -> None:
    with pytest.raises(SpecError, match=r"spec\.maxReplicas: must be greater than or equal to `minReplicas`"):
        world.controller(hpa_manifest(min_r=5, max_r=2))
    with pytest.raises(SpecError, match="no PromQL query for Pods metric 'rps'"):
        world.controller(hpa_manifest(metrics=[RPS]))


def test_status_describe_and_kube_state_metrics(world: Any) -> None:
    controller = world.controller()
    controller.start(thread=False)
    world.run_until(controller, START + 30)
    text = controller.status().describe()
    assert "Reference:" in text and "Deployment/web" in text
    assert "resource cpu on pods  (as a percentage of request):" in text and "50% (100m) / 60%" in text
    assert "Deployment pods:" in text and "1 current / 1 desired" in text
    assert "ScalingActive   True    ValidMetricFound" in text
    families = {f.name: f for f in controller.collect()}
    assert set(families) >= {
        "kube_horizontalpodautoscaler_info",
        "kube_horizontalpodautoscaler_spec_min_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_status_desired_replicas",
        "kube_horizontalpodautoscaler_spec_target_metric",
        "kube_horizontalpodautoscaler_status_target_metric",
        "kube_horizontalpodautoscaler_status_condition",
    }
    desired = families["kube_horizontalpodautoscaler_status_desired_replicas"].samples[0]
    assert desired.labels == {"namespace": "bench", "horizontalpodautoscaler": "web"} and desired.value == 1
    target = {(s.labels["metric_name"], s.labels["metric_target_type"]): s.value
              for s in families["kube_horizontalpodautoscaler_status_target_metric"].samples}  # fmt: skip
    assert target == {("cpu", "utilization"): 50.0, ("cpu", "average"): 0.1}
    conditions = {(s.labels["condition"], s.labels["status"]): s.value
                  for s in families["kube_horizontalpodautoscaler_status_condition"].samples}  # fmt: skip
    assert conditions[("ScalingActive", "true")] == 1.0 and conditions[("ScalingActive", "false")] == 0.0
    assert conditions[("ScalingLimited", "false")] == 1.0
    controller.stop()


def test_status_and_collect_before_start(world: Any) -> None:
    controller = world.controller()
    status = controller.status()
    assert status.conditions == () and status.metrics[0].current is None
    assert "<unknown> / 60%" in status.describe()
    assert any(f.name == "kube_horizontalpodautoscaler_spec_target_metric" for f in controller.collect())
    controller.stop()  # safe without start: writes an empty, typed parquet
    assert pd.read_parquet(world.data / "hpa.parquet").empty


def test_thread_runs_syncs_and_stop_is_idempotent(tmp_path: Path) -> None:
    web = FakeDeployment(time.time, replicas=1, demand_cores=0.1)
    cluster = FakeCluster({"web": web})
    events = EventLog(tmp_path / "events.jsonl")
    settings = HpaSettings(sync_period_s=0.05, metrics_window_s=0.05)
    controller = HpaController(hpa_manifest(), cluster, settings, events, tmp_path / "data")
    try:
        controller.start()
        deadline = time.monotonic() + 10
        while len(controller._timeline.rows) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        controller.stop()
        controller.stop()
        events.close()
    assert len(controller._timeline.rows) >= 4
    assert not any(t.name == "hpa-web" for t in threading.enumerate())
    assert (tmp_path / "data" / "hpa.parquet").exists()


def test_an_unexpected_error_is_reported_and_the_loop_goes_on(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    controller = world.controller()
    controller.start(thread=False)
    real_sync = controller.sync
    calls: list[float] = []

    def flaky(now: float) -> Any:
        calls.append(now)
        if len(calls) == 1:
            raise ZeroDivisionError("boom")
        return real_sync(now)

    monkeypatch.setattr(controller, "sync", flaky)
    world.run_until(controller, START + 30)
    assert calls == [START + 15, START + 30]
    assert "ZeroDivisionError('boom')" in world.kinds("warning")[0]["message"]
    assert controller._timeline.rows[-1]["ts"] == START + 30
    controller.stop()


def test_two_hpas_share_the_timeline_files(world: Any) -> None:
    world.cluster.deployments["api"] = FakeDeployment(world.clock, replicas=2, demand_cores=0.1)
    api_hpa = hpa_manifest()
    api_hpa["metadata"]["name"] = "api"
    api_hpa["spec"]["scaleTargetRef"]["name"] = "api"
    web, api = world.controller(), world.controller(api_hpa)
    web.start(thread=False)
    api.start(thread=False)
    world.run_until(web, START + 15)
    world.run_until(api, START + 15)
    web.stop()
    assert not (world.data / "hpa.parquet").exists()  # the api controller still writes
    api.stop()
    frame = pd.read_parquet(world.data / "hpa.parquet")
    assert sorted(frame["hpa"].unique()) == ["api", "web"]
    assert len(frame) == len(web._timeline.rows) + len(api._timeline.rows) == 4


def test_settings_as_a_mapping_and_the_targets_namespace(world: Any) -> None:
    world.cluster.settings = type("LocalSettingsLike", (), {"namespace": "hpabench"})()
    controller = HpaController(
        hpa_manifest(),
        world.cluster,
        {"sync_period_s": 2, "tolerance": 0.2},
        world.events,
        world.data,
        clock=world.clock,
    )
    assert (controller.settings.sync_period_s, controller.settings.tolerance) == (2.0, 0.2)
    assert controller.status().namespace == "hpabench"  # the exporter's label wins over the manifest's "bench"
    with pytest.raises(SpecError, match="sync_period_s"):
        HpaController(hpa_manifest(), world.cluster, {"sync_period_s": 0}, world.events, world.data)
    controller.stop()


@dataclass(frozen=True)
class BareSnapshot:
    """A pod snapshot without `ready_transition_ts`: the controller derives it."""

    name: str
    phase: str
    ready: bool
    started_ts: float | None
    ready_ts: float | None
    deleting: bool = False
    created_ts: float = START - 100
    cpu_request_millicores: int | None = 200
    memory_request_bytes: int | None = None
    cpu_usage_seconds: float = 0.0
    memory_usage_bytes: int = 0


def test_ready_transition_is_derived_when_the_snapshot_lacks_it() -> None:
    from hpabench.deploy.hpa.controller import _Readiness

    readiness = _Readiness()
    pending = readiness.state(BareSnapshot("a", "Pending", False, None, None), START)
    assert (pending.start_ts, pending.ready_transition_ts) == (None, None)  # no Ready condition yet
    starting = readiness.state(BareSnapshot("a", "Running", False, START - 5, None), START + 1)
    assert starting.ready_transition_ts == START - 5  # Ready=False since the start
    ready = readiness.state(BareSnapshot("a", "Running", True, START - 5, START + 2), START + 3)
    assert ready.ready_transition_ts == START + 2
    lost = readiness.state(BareSnapshot("a", "Running", False, START - 5, START + 2), START + 40)
    assert lost.ready_transition_ts == START + 40  # first seen unready
    again = readiness.state(BareSnapshot("a", "Running", False, START - 5, START + 2), START + 55)
    assert again.ready_transition_ts == START + 40
    assert again.requests_milli == {"cpu": 200}
