"""Benchmark: the HPA controller's own cost per sync, and its reaction time on a real spike.

    .venv/bin/python -m tests.benchmarks.bench_hpa [--pods 50] [--syncs 2000] [--json]
    .venv/bin/python -m tests.benchmarks.bench_hpa --spike [--sync-period-s 15] [--metrics-window-s 15] [--steps 2]

Default mode (no servers): `--pods` Running pods near the 60 % CPU target (so every sync does the
whole computation and no scaling muddies the numbers) behind an in-memory cluster; reports CPU time
(`time.process_time`) and wall time per operation:

* `decide`       — the pure core alone on a prepared observation (CPU metric + a Pods metric);
* `sync`         — `HpaController.sync`: read the target, map pods, build readings, decide, write
                   the `hpa.jsonl` row (real file I/O), diff conditions;
* `scrape`       — the metrics-server emulation over all pods;
* `collect`      — the kube-state-metrics families for one exporter scrape.

`--spike` (real servers): starts the local target with the base manifests (CPU HPA, default
behaviour = no `behavior` block) and the given controller settings, then `--steps` times: idle,
a load step against `/work`, and measures the time from the step to the first scale-up decision
and to the first new pod Ready, next to the Kubernetes reaction budget (metrics delay ≤ one
metrics window after a full window of load + one sync period + actuation). Between steps the load
stops and the HPA scales back to 1 (downscale window shortened to 5 s to keep it quick); each step
starts at a seeded random phase of the sync/scrape grid.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpabench.deploy.hpa.admission import parse_hpa
from hpabench.deploy.hpa.controller import HpaController
from hpabench.deploy.hpa.controller_settings import HpaSettings
from hpabench.deploy.hpa.core import decide
from hpabench.deploy.hpa.custom import Sample
from hpabench.deploy.hpa.history import History
from hpabench.deploy.hpa.inputs import Observation, PodMetric, PodMetrics, PodState
from hpabench.rundir import EventLog

START = 1_700_000_000.0
CPU_METRIC = {
    "type": "Resource",
    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
}
RPS_METRIC = {
    "type": "Pods",
    "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "100"}},
}


def hpa_manifest(max_replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": max_replicas,
            "metrics": [CPU_METRIC, RPS_METRIC],
        },
    }


@dataclass(frozen=True)
class Snapshot:
    name: str
    phase: str
    ready: bool
    deleting: bool
    created_ts: float
    started_ts: float
    ready_ts: float
    ready_transition_ts: float
    cpu_request_millicores: int
    memory_request_bytes: int
    cpu_usage_seconds: float
    memory_usage_bytes: int


class SteadyDeployment:
    """`pods` pods using 0.12 core ± 2 % each (60 % of a 200m request): always within tolerance."""

    def __init__(self, clock: Callable[[], float], pods: int) -> None:
        self._clock = clock
        self._names = [f"web-abc12-{i:05d}" for i in range(pods)]
        self.replicas = pods

    @property
    def spec_replicas(self) -> int:
        return self.replicas

    def scale(self, replicas: int, by: str = "user") -> None:
        self.replicas = replicas

    def pods(self) -> list[Snapshot]:
        elapsed = self._clock() - (START - 3600)
        return [
            Snapshot(
                name=name,
                phase="Running",
                ready=True,
                deleting=False,
                created_ts=START - 3600,
                started_ts=START - 3600,
                ready_ts=START - 3590,
                ready_transition_ts=START - 3590,
                cpu_request_millicores=200,
                memory_request_bytes=128 * 2**20,
                cpu_usage_seconds=elapsed * (0.12 + 0.0024 * ((i % 5) - 2) / 2),
                memory_usage_bytes=64 * 2**20,
            )
            for i, name in enumerate(self._names)
        ]


class MemoryCluster:
    def __init__(self, deployment: SteadyDeployment) -> None:
        self._deployment = deployment
        self.collectors: list[Any] = []

    def deployment(self, name: str) -> SteadyDeployment:
        return self._deployment

    def add_collector(self, fn: Any) -> None:
        self.collectors.append(fn)


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per call of `fn`, over `repeat` calls."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.process_time() - cpu0) / repeat * 1e6, (time.perf_counter() - wall0) / repeat * 1e6


def bench_costs(pods: int, syncs: int) -> dict[str, Any]:
    now = [START]
    clock = lambda: now[0]  # noqa: E731 - a fake clock the benchmark advances
    deployment = SteadyDeployment(clock, pods)
    settings = HpaSettings(custom_metrics={"rps": "sum by (pod) (rate(http_requests_total[30s]))"})

    def query(promql: str, at: float) -> list[Sample]:
        return [Sample({"pod": name}, at - 1, 95.0) for name in deployment._names]

    results: dict[str, Any] = {"pods": pods, "syncs": syncs}
    with tempfile.TemporaryDirectory(prefix="hpabench-bench-hpa-") as tmp:
        events = EventLog(Path(tmp) / "events.jsonl")
        controller = HpaController(
            hpa_manifest(max_replicas=pods * 2), MemoryCluster(deployment), settings, events, Path(tmp) / "data",
            clock=clock, query=query,
        )  # fmt: skip
        controller.start(thread=False)
        for _ in range(3):  # warm: two scrapes give every pod a rate
            now[0] += settings.metrics_window_s
            controller.scrape(now[0])
            controller.sync(now[0])
        last = controller.last_decision
        assert last is not None and last.metrics[0].current is not None, "the benchmark's HPA has no metrics"

        def one_sync() -> None:
            now[0] += settings.sync_period_s
            controller.sync(now[0])

        def one_scrape() -> None:
            now[0] += settings.metrics_window_s
            controller.scrape(now[0])

        results["sync_cpu_us"], results["sync_wall_us"] = _time(one_sync, syncs)
        results["scrape_cpu_us"], results["scrape_wall_us"] = _time(one_scrape, syncs)
        results["collect_cpu_us"], results["collect_wall_us"] = _time(controller.collect, syncs)

        spec = parse_hpa(hpa_manifest(max_replicas=pods * 2), "bench", settings)
        states = tuple(
            PodState(n, "Running", True, False, START - 3600, START - 3590, {"cpu": 200}) for n in deployment._names
        )
        readings = (
            PodMetrics({n: PodMetric(120, now[0] - 1, 15.0) for n in deployment._names}),
            PodMetrics({n: PodMetric(95_000, now[0] - 1, 15.0) for n in deployment._names}),
        )
        observation = Observation(pods, states, readings)
        history = History().with_initial_recommendation(pods, now[0] - 30)
        results["decide_cpu_us"], results["decide_wall_us"] = _time(
            lambda: decide(spec, settings, observation, history, now[0]), syncs
        )
        results["decision"] = {
            "desired": last.desired_replicas,
            "reason": last.reason,
            "cpu_utilization_pct": last.metrics[0].current,
        }
        controller.stop()
        events.close()
    results["cpu_share_at_default_sync_pct"] = (
        (results["sync_cpu_us"] / 1e6) / settings.sync_period_s
        + (results["scrape_cpu_us"] / 1e6) / settings.metrics_window_s
    ) * 100
    return results


# --- spike on the real local target ---------------------------------------------------------------


def bench_spike(sync_period_s: float, metrics_window_s: float, steps: int, threads: int) -> dict[str, Any]:
    from hpabench.deploy.local.cluster import LocalCluster, LocalSettings
    from hpabench.rundir import RunDir, read_events
    from tests.integration.test_hpa_local import Load
    from tests.integration.test_local_support import base_objects, find

    settings = HpaSettings(
        sync_period_s=sync_period_s, metrics_window_s=metrics_window_s, downscale_stabilization_s=5.0
    )
    objects = base_objects(web_replicas=1)
    find(objects, "HorizontalPodAutoscaler", "web")["spec"].update({"minReplicas": 1, "maxReplicas": 3})
    results: dict[str, Any] = {"sync_period_s": sync_period_s, "metrics_window_s": metrics_window_s, "steps": []}
    phases = random.Random(4)
    with tempfile.TemporaryDirectory(prefix="hpabench-bench-spike-") as tmp:
        run = RunDir.create(Path(tmp), "bench-hpa-spike")
        cluster = LocalCluster.start(objects, run, LocalSettings(scrape_interval_s=1.0, hpa_settings=settings))
        try:
            web = cluster.deployment("web")
            for _ in range(steps):
                _wait(lambda: web.spec_replicas == 1 and sum(p.ready for p in web.pods()) == 1, 120)
                # a quiet window, then a random phase against the sync/scrape grid
                time.sleep(2 * metrics_window_s + phases.uniform(0, max(sync_period_s, metrics_window_s)))
                load = Load(cluster.service_url("web"), threads, max_s=4 * (sync_period_s + metrics_window_s) + 60)
                step_ts = time.time()
                try:
                    ups = _wait(
                        lambda step_ts=step_ts: [
                            e for e in read_events(run.path) if e["kind"] == "hpa_rescale" and e["ts"] > step_ts
                        ],
                        3 * (sync_period_s + metrics_window_s) + 30,
                    )
                    up = ups[0]
                    ready = _wait(lambda up_ts=up["ts"]: _web_ready_after(run.path, up_ts), 120)
                finally:
                    load.stop()
                results["steps"].append(
                    {
                        "decision_s": round(up["ts"] - step_ts, 2),
                        "pod_ready_s": round(ready[0]["ts"] - step_ts, 2),
                        "actuation_s": round(ready[0]["ts"] - up["ts"], 2),
                        "to": up["to"],
                    }
                )
        finally:
            cluster.stop()
            run.close()
    decisions = [s["decision_s"] for s in results["steps"]]
    results["decision_median_s"] = statistics.median(decisions)
    results["budget_decision_max_s"] = 2 * metrics_window_s + sync_period_s
    return results


def _web_ready_after(run_path: Path, ts: float) -> list[dict[str, Any]]:
    from hpabench.rundir import read_events

    return [
        e for e in read_events(run_path) if e["kind"] == "pod_ready" and e.get("deployment") == "web" and e["ts"] > ts
    ]


def _wait(check: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"condition not met within {timeout_s:.0f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_hpa", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--syncs", type=int, default=2000)
    parser.add_argument("--spike", action="store_true", help="measure the reaction on the real local target")
    parser.add_argument("--sync-period-s", type=float, default=15.0)
    parser.add_argument("--metrics-window-s", type=float, default=15.0)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="load threads against /work (spike mode)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.spike:
        result = bench_spike(args.sync_period_s, args.metrics_window_s, args.steps, args.threads)
    else:
        result = bench_costs(args.pods, args.syncs)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if args.spike:
        print(f"spike on the local target: sync {args.sync_period_s:g}s, metrics window {args.metrics_window_s:g}s")
        for index, step in enumerate(result["steps"]):
            print(
                f"  step {index + 1}: first scale-up decision {step['decision_s']:6.1f}s after the load step "
                f"(→ {step['to']}), new pod Ready {step['pod_ready_s']:6.1f}s (actuation {step['actuation_s']:.1f}s)"
            )
        print(
            f"  budget for the decision: ≤ 2 × window + 1 sync = {result['budget_decision_max_s']:g}s "
            "(a full window of load, up to one window of metrics age, then the next sync)"
        )
        return 0
    print(f"HPA controller cost with {result['pods']} pods, 2 metrics (CPU + Pods), {result['syncs']} iterations")
    print(f"  {'operation':<10} {'CPU µs':>10} {'wall µs':>10}")
    for name in ("decide", "sync", "scrape", "collect"):
        print(f"  {name:<10} {result[f'{name}_cpu_us']:>10.0f} {result[f'{name}_wall_us']:>10.0f}")
    print(f"  share of one core at sync 15 s / window 15 s: {result['cpu_share_at_default_sync_pct']:.4f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
