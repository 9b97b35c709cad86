"""A realistic synthetic run directory for unit tests, report tests and benchmarks.

`make_synthetic_run(path, ...)` simulates a *spike* scenario against an autoscaled web tier, one
row per run second:

* planned load: `baseline` (first 20 % of the run), `spike` (next 30 %), `recovery` (the rest), an
  open model (requests/s) by default, or a closed model (users) with `closed_model=True`;
* the web tier: each ready pod serves up to `capacity_rps_per_pod`; excess load queues, so the
  client latency rises and, past 1 s of queueing, requests start failing;
* an HPA like upstream's: a sync every `sync_period_s`, CPU utilisation against the request from
  metrics `metrics_age_s` old, tolerance 0.1, a scale-up policy (+100 % or +4 pods per sync) and a
  downscale stabilisation window, new pods ready a few seconds after creation;
* per-pod request rates where a new pod needs a few seconds to get its fair share.

Only the *numbers* are simulated. Every file is written by the product's own writers, so the
synthetic run cannot drift from the run-directory contract (hpabench/contract.py):

| file | written by |
|---|---|
| `manifest.json` | `RunDir.update_manifest`, checked by `contract.Manifest`; a real `Scenario` and `Variant` |
| `events.jsonl` | `RunDir.events` (`hpabench.rundir.EventLog`) |
| `data/planned.parquet` | `hpabench.stage_deploy.write_planned` from the compiled `Plan` |
| `data/client_stats.*`, `data/load.*` | the recorder's `SecondRecorder` + `JsonlWriter`, merged by `write_results` |
| `data/hpa.*` | the HPA controller's `TimelineWriter` |
| `data/pods.*` | the local target's `PodLog` |
| `data/prom/*.parquet` | `hpabench.analysis.collect.collect`, asking `SyntheticPrometheus` (a fake) |

Everything is seeded; the same arguments give identical frames. Nothing here is used in
production code (shipped code never imports tests/).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hpabench.analysis.collect import collect
from hpabench.analysis.profile import load_profile, render_queries
from hpabench.contract import MANIFEST_SCHEMA_VERSION, Manifest
from hpabench.deploy.hpa.sync_log import TimelineWriter
from hpabench.deploy.local.podlog import PodLog
from hpabench.deploy.variant import Variant
from hpabench.run_inputs import rate_window_variables
from hpabench.rundir import RunDir
from hpabench.scenarios.drive.recording import JsonlWriter, SecondRecorder
from hpabench.scenarios.drive.results import write_results
from hpabench.scenarios.plan import Plan, compile_plan
from hpabench.scenarios.spec import Scenario
from hpabench.slo import resolve_slo
from hpabench.stage_deploy import write_planned

START_TS = 1_760_000_000.0
ROUTES = {"/items/{id}": (0.7, 3.0), "/orders": (0.2, 8.0), "/work": (0.1, 30.0)}
"""route → (share of the traffic mix, unloaded median latency in ms)."""

CPU_LIMIT_MILLICORES = 500.0
CPU_REQUEST_MILLICORES = 200.0
TARGET_UTILIZATION = 0.6
TOLERANCE = 0.1
HPA_NAME = "web"
DEPLOYMENT = "web"
NAMESPACE = "hpabench"
TIMEOUT_S = 2.0
PROCESS = "main"  # a standalone Locust process, as the driver names it
SCRAPE_INTERVAL_S = 5.0
USERS_PER_RPS = 0.1  # closed model: a user (think time ~0.1 s … ) offers about 10 requests/s

PROFILE_QUERIES = (
    "server_rps_by_route",
    "server_error_ratio",
    "server_errors_rps_by_route",
    "server_p50_ms_by_route",
    "server_p95_ms_by_route",
    "server_p99_ms_by_route",
    "server_p95_ms",
    "pod_cpu_cores",
    "pod_cpu_request_cores",
    "pod_cpu_utilization",
    "pod_cpu_throttled_ratio",
    "pod_rps",
    "server_requests_total_by_pod",
    "ready_replicas",
    "spec_replicas",
    "hpa_desired_replicas",
    "hpa_current_replicas",
    "haproxy_backend_queue",
    "haproxy_backend_sessions",
    "haproxy_server_sessions",
    "haproxy_client_connections_rps",
    "haproxy_backend_connections_rps",
    "haproxy_backend_reuses_rps",
)
"""The query names of analysis/profiles/default.yaml this generator fakes."""


@dataclass
class _Pod:
    name: str
    created_t: float
    started_t: float
    ready_t: float
    deleted_t: float = math.nan
    share_rps: float = 0.0


@dataclass
class _Sim:
    """Mutable simulation state (only inside this module)."""

    pods: list[_Pod] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    hpa_rows: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    desired: int = 1
    pod_seq: int = 0


def _new_pod(sim: _Sim, t: float, rng: np.random.Generator) -> _Pod:
    sim.pod_seq += 1
    suffix = "".join(rng.choice(list("bcdfghjklmnpqrstvwxz2456789"), size=5))
    start_delay = float(rng.uniform(1.0, 3.0))
    ready_delay = float(rng.uniform(4.0, 7.0))
    pod = _Pod(f"web-6d9c7b5f4-{suffix}", t, t + start_delay, t + start_delay + ready_delay)
    sim.pods.append(pod)
    return pod


def _emit(sim: _Sim, t: float, kind: str, **fields: Any) -> None:
    sim.events.append({"ts": START_TS + t, "kind": kind, **fields})


def _hpa_sync(
    sim: _Sim,
    t: float,
    cpu_history: list[tuple[float, float, int]],
    rng: np.random.Generator,
    *,
    min_replicas: int,
    max_replicas: int,
    downscale_stabilization_s: float,
    metrics_window_s: float,
) -> None:
    """One HPA sync at load time `t` (seconds): decide, record a row, create/delete pods."""
    current = sim.desired
    metrics_age_s = float(rng.uniform(5.0, metrics_window_s))
    lo, hi = t - metrics_age_s - metrics_window_s, t - metrics_age_s
    window = [(cpu, n) for (ts, cpu, n) in cpu_history if lo <= ts < hi and n > 0]
    ready = sum(1 for p in sim.pods if p.ready_t <= t and math.isnan(p.deleted_t))
    unready = sum(1 for p in sim.pods if p.ready_t > t and math.isnan(p.deleted_t))
    if window:
        utilization = float(np.mean([cpu / n for cpu, n in window])) / CPU_REQUEST_MILLICORES
    else:
        utilization = TARGET_UTILIZATION
    ratio = utilization / TARGET_UTILIZATION
    raw = current if abs(ratio - 1.0) <= TOLERANCE else max(1, math.ceil(max(ready, 1) * ratio))
    sim.recommendations.append((t, raw))
    sim.recommendations = [(ts, r) for ts, r in sim.recommendations if ts > t - downscale_stabilization_s]
    # Upstream's stabilisation: scale-up window 0 (take raw), scale-down window = the max of recent.
    down_recommendation = max(r for _, r in sim.recommendations)
    stabilized = current
    if stabilized < raw:
        stabilized = raw
    if stabilized > down_recommendation:
        stabilized = down_recommendation
    policy_max = max(2 * current, current + 4)
    desired = max(min_replicas, min(max_replicas, stabilized, policy_max))
    limited = stabilized > max_replicas or raw < min_replicas
    if desired > current:
        reason = "cpu resource utilization (percentage of request) above target"
    elif desired < current:
        reason = "All metrics below target"
    elif raw != current:
        reason = "recommendation held by stabilization window or limits"
    else:
        reason = "within tolerance"
    sim.hpa_rows.append(
        {
            "ts": START_TS + t,
            "hpa": HPA_NAME,
            "current_replicas": current,
            "desired_replicas": desired,
            "raw_recommendation": raw,
            "stabilized_recommendation": stabilized,
            "metrics": json.dumps({"cpu": {"current": round(utilization * 100, 1), "target": 60, "type": "Resource"}}),
            "ready_pods": ready,
            "unready_pods": unready,
            "missing_pods": 0,
            "able_to_scale": True,
            "scaling_active": True,
            "scaling_limited": bool(limited),
            "reason": reason,
            "metrics_age_s": metrics_age_s,
        }
    )
    if desired == current:
        return
    _emit(sim, t, "hpa_rescale", hpa=HPA_NAME, **{"from": current, "to": desired}, reason=reason)
    _emit(sim, t, "scale", deployment=DEPLOYMENT, **{"from": current, "to": desired}, by="hpa")
    if desired > current:
        for _ in range(desired - current):
            pod = _new_pod(sim, t + float(rng.uniform(0.05, 0.3)), rng)
            _emit(sim, pod.created_t, "pod_created", pod=pod.name, deployment=DEPLOYMENT)
            _emit(sim, pod.started_t, "pod_started", pod=pod.name, deployment=DEPLOYMENT)
            _emit(sim, pod.ready_t, "pod_ready", pod=pod.name, deployment=DEPLOYMENT)
    else:
        alive = [p for p in sim.pods if math.isnan(p.deleted_t)]
        for pod in sorted(alive, key=lambda p: p.created_t)[desired:]:
            pod.deleted_t = t + 0.1
            _emit(sim, pod.deleted_t, "pod_deleted", pod=pod.name, deployment=DEPLOYMENT)
    sim.desired = desired


def synthetic_scenario(
    duration_s: float, base: float, peak: float, *, closed_model: bool, slo: dict[str, float]
) -> Scenario:
    """The synthetic spike as a real, validated `Scenario` (stage levels in rps, or users)."""

    def level(rps: float) -> dict[str, float | int]:
        return {"users": round(rps * USERS_PER_RPS)} if closed_model else {"rps": rps}

    return Scenario.model_validate(
        {
            "name": "synthetic-spike",
            "description": "synthetic spike",
            "stages": [
                {"name": "baseline", "duration_s": 0.2 * duration_s, **level(base)},
                {"name": "spike", "duration_s": 0.3 * duration_s, **level(peak)},
                {"name": "recovery", "duration_s": 0.5 * duration_s, **level(base)},
            ],
            "slo": slo,
        }
    )


def synthetic_variant(
    max_replicas: int, sync_period_s: float, downscale_stabilization_s: float, slo: dict[str, float]
) -> Variant:
    """The synthetic variant as a real, validated `Variant` (its HPA knobs and controller settings)."""
    return Variant.model_validate(
        {
            "name": "synthetic",
            "description": "synthetic variant",
            "hpa": {"min_replicas": 1, "max_replicas": max_replicas, "target_cpu_utilization": 60},
            "controller": {
                "sync_period_s": sync_period_s,
                "tolerance": TOLERANCE,
                "downscale_stabilization_s": downscale_stabilization_s,
                "cpu_initialization_period_s": 300.0,
                "initial_readiness_delay_s": 30.0,
                "metrics_window_s": 15.0,
            },
            "slo": slo,
        }
    )


def make_synthetic_run(
    path: Path,
    *,
    duration_s: float = 300.0,
    pods_max: int = 4,
    seed: int = 0,
    scale_events: bool = True,
    interrupted: bool = False,
    capacity_rps_per_pod: float = 100.0,
    base_rps: float | None = None,
    peak_rps: float | None = None,
    closed_model: bool = False,
    with_prom: bool = True,
    generator_overloaded: bool = False,
    scenario: str = "spike",
    variant: str = "baseline",
    run_id: str | None = None,
    sync_period_s: float = 15.0,
    downscale_stabilization_s: float = 60.0,
    slo_p95_ms: float = 300.0,
    slo_error_rate: float = 0.01,
) -> Path:
    """Write a run directory at `path` (created) and return it. See the module docstring.

    `scale_events=False` pins the HPA at one replica (max=1): the spike overloads it.
    `interrupted=True` cuts the data in the middle of the spike and marks the run `interrupted`.
    `base_rps`/`peak_rps` default to 22 % of one pod's capacity and 80 % of `pods_max` pods'.
    `scenario` is the name recorded in the manifest (any text: report tests pass hostile ones).
    """
    rng = np.random.default_rng(seed)
    run = RunDir(path)
    run.data.mkdir(parents=True, exist_ok=True)
    max_replicas = pods_max if scale_events else 1
    base = base_rps if base_rps is not None else 0.22 * capacity_rps_per_pod
    peak = peak_rps if peak_rps is not None else 0.8 * pods_max * capacity_rps_per_pod
    slo = {"p95_ms": slo_p95_ms, "error_rate": slo_error_rate}
    spec = synthetic_scenario(duration_s, base, peak, closed_model=closed_model, slo=slo)
    plan = compile_plan(spec, 1.0)
    end_t = 0.35 * duration_s if interrupted else duration_s
    knobs = synthetic_variant(max_replicas, sync_period_s, downscale_stabilization_s, slo)
    resolved_slo = resolve_slo(spec.slo, knobs.slo)
    run.update_manifest(
        **_checked(
            schema_version=MANIFEST_SCHEMA_VERSION,
            run_id=run_id or f"20251125-120000-{scenario}-{variant}",
            status="running",
            # The names are free text here (report tests pass hostile ones); the rest is the models'.
            scenario={**spec.model_dump(mode="json"), "name": scenario},
            variant={**knobs.model_dump(mode="json"), "name": variant},
            target="local",
            time_scale=1.0,
            workers=0,
            locustfile=None,
            hpa_settings=knobs.controller.model_dump(mode="json"),
            scrape_interval_s=SCRAPE_INTERVAL_S,
            slo=resolved_slo.as_manifest(),
            slo_sources=resolved_slo.sources,
            versions={"hpabench": "0.1.0", "python": "3.11"},
            git_sha="0" * 40,
            host={
                "hostname": "synthetic",
                "cpus": 2,
                "mem_bytes": 24 * 2**30,
                "kernel": "6.1.0",
                "cgroup_version": 1,
                "cgroups_enforced": True,
            },
            created_at=START_TS - 45.0,
            flags=[],
        )
    )
    write_planned(run, plan)

    sim = _Sim()
    _emit(sim, -40.0, "stage", stage="render", state="started")
    _emit(sim, -39.5, "stage", stage="render", state="finished", planned_duration_s=plan.duration_s)
    _emit(sim, -39.0, "stage", stage="deploy", state="started")
    for name in ("postgres-0", "redis-5c8d9f7b6-xk2lp"):
        _emit(sim, -38.0, "pod_created", pod=name, deployment=name.split("-")[0])
        _emit(sim, -36.0, "pod_ready", pod=name, deployment=name.split("-")[0])
    first = _new_pod(sim, -35.0, rng)
    _emit(sim, first.created_t, "pod_created", pod=first.name, deployment=DEPLOYMENT)
    _emit(sim, first.started_t, "pod_started", pod=first.name, deployment=DEPLOYMENT)
    _emit(sim, first.ready_t, "pod_ready", pod=first.name, deployment=DEPLOYMENT)
    _emit(sim, -20.0, "stage", stage="deploy", state="finished")
    _emit(sim, -20.0, "stage", stage="warmup", state="started")
    _emit(sim, -0.5, "stage", stage="warmup", state="finished")
    _emit(sim, 0.0, "stage", stage="load", state="started")

    load = _simulate_load(
        sim,
        run.data,
        plan,
        rng,
        end_t=end_t,
        peak=peak,
        capacity_rps_per_pod=capacity_rps_per_pod,
        max_replicas=max_replicas,
        downscale_stabilization_s=downscale_stabilization_s,
        sync_period_s=sync_period_s,
        generator_overloaded=generator_overloaded,
    )
    # The driver's merge: per-process jsonl → client_stats.parquet + load.parquet, flags, episodes.
    merged = write_results(run.data, plan, spec.arrivals.behind_window_s)
    for episode in merged.episodes:
        sim.events.append({"ts": episode.start_ts, "kind": episode.kind, "until_ts": episode.end_ts, **episode.details})

    load_end_t = min(end_t, duration_s)
    if not interrupted:
        _emit(sim, load_end_t, "stage", stage="load", state="finished", interrupted=False)
    else:
        _emit(sim, load_end_t, "stage", stage="load", state="failed")
        _emit(sim, load_end_t, "warning", message="interrupted by the user (SIGINT)")
    _emit(sim, load_end_t + 0.5, "stage", stage="collect", state="started")
    if with_prom:
        _collect_prom(run.data, _prom_series(sim, merged.client_stats, *load, rng), load_end_t)
    _emit(sim, load_end_t + 3.0, "stage", stage="collect", state="finished")
    _emit(sim, load_end_t + 3.0, "stage", stage="teardown", state="started")
    for pod in sim.pods:
        if math.isnan(pod.deleted_t):
            pod.deleted_t = load_end_t + 3.5
            _emit(sim, pod.deleted_t, "pod_deleted", pod=pod.name, deployment=DEPLOYMENT)
    _emit(sim, load_end_t + 5.0, "stage", stage="teardown", state="finished", complete=True, leftovers=[])

    hpa_log = TimelineWriter(run.data)
    for row in sim.hpa_rows:
        hpa_log.append(row)
    hpa_log.close()
    _write_pods(run.data, sim)
    for event in sorted(sim.events, key=lambda e: e["ts"]):
        run.events.emit(**event)
    run.close()
    run.update_manifest(
        **_checked(
            status="interrupted" if interrupted else "completed",
            load_started_at=START_TS,
            load_ended_at=START_TS + load_end_t,
            finished_at=START_TS + load_end_t + 6.0,
            flags=sorted(merged.flags),
            error="interrupted by the user" if interrupted else None,
        )
    )
    return path


def _checked(**fields: Any) -> dict[str, Any]:
    """`fields` once the contract's Manifest model accepts them (a synthetic run must stay valid)."""
    Manifest.model_validate(fields)
    return fields


def _simulate_load(
    sim: _Sim,
    data_dir: Path,
    plan: Plan,
    rng: np.random.Generator,
    *,
    end_t: float,
    peak: float,
    capacity_rps_per_pod: float,
    max_replicas: int,
    downscale_stabilization_s: float,
    sync_period_s: float,
    generator_overloaded: bool,
) -> tuple[list[tuple[float, str, float, float]], list[tuple[float, float]]]:
    """Run the simulation second by second, recording the client side the way a Locust process
    does (`client_stats.main.jsonl`, `load.main.jsonl`); returns the per-pod rows
    (t, pod, rps, cpu_millicores) and the load balancer's queue (t, backlog) for Prometheus."""
    recorder = SecondRecorder(PROCESS)
    recorder.start(START_TS, START_TS)
    client_out = JsonlWriter(data_dir / f"client_stats.{PROCESS}.jsonl")
    load_out = JsonlWriter(data_dir / f"load.{PROCESS}.jsonl")
    pod_rps_rows: list[tuple[float, str, float, float]] = []
    queue_rows: list[tuple[float, float]] = []
    cpu_history: list[tuple[float, float, int]] = []
    backlog = 0.0
    next_sync = 3.0
    prev_stage = ""
    planned = plan.per_second()
    try:
        for t, stage, planned_users, planned_rps in zip(
            planned["t_s"].astype(float).tolist(),
            planned["stage"].astype(str).tolist(),
            planned["users"].astype(float).tolist(),
            planned["rps"].astype(float).tolist(),
            strict=True,
        ):
            if t >= end_t:
                break
            closed = math.isnan(planned_rps)
            offered_target = planned_users / USERS_PER_RPS if closed else planned_rps
            if stage != prev_stage:
                _emit(
                    sim, t, "load_stage", name=stage, **({"users": planned_users} if closed else {"rps": planned_rps})
                )
                prev_stage = stage
            while next_sync <= t:
                _hpa_sync(
                    sim,
                    next_sync,
                    cpu_history,
                    rng,
                    min_replicas=1,
                    max_replicas=max_replicas,
                    downscale_stabilization_s=downscale_stabilization_s,
                    metrics_window_s=15.0,
                )
                next_sync += sync_period_s
            ready = [p for p in sim.pods if p.ready_t <= t and math.isnan(p.deleted_t)]
            capacity = len(ready) * capacity_rps_per_pod
            offered = max(0.0, rng.normal(offered_target, 0.03 * offered_target))
            if generator_overloaded and stage == "spike":
                offered *= 0.85
            served = min(offered + backlog, capacity)
            backlog = max(0.0, backlog + offered - served)
            # Clients give up after TIMEOUT_S: what would wait longer fails (and leaves the queue).
            timed_out = max(0.0, backlog - capacity * TIMEOUT_S)
            backlog -= timed_out
            rho = min(offered / capacity, 0.95) if capacity > 0 else 0.95
            wait_ms = 1000.0 * backlog / capacity if capacity > 0 else 1000.0 * TIMEOUT_S
            total_requests = round(served + timed_out)
            fail_ratio = 0.001 + (timed_out / total_requests if total_requests else 0.0)
            completed_at = START_TS + t + 0.5
            for route, (share, median_ms) in ROUTES.items():
                n = int(rng.binomial(total_requests, share)) if total_requests else 0
                center = median_ms / (1.0 - rho) + wait_ms
                samples = rng.lognormal(math.log(center), 0.45, size=n)
                failures = int(rng.binomial(n, fail_ratio)) if n else 0
                for i, latency_ms in enumerate(samples.tolist()):
                    # A failed request here is a client timeout: no response (status 0).
                    recorder.record(completed_at, route, latency_ms, i < failures, None)
            client_rows, completed = recorder.rows_before(int(t) + 1)
            client_out.write(client_rows)
            # The generator sends what was intended (responses may come late): achieved ≈ offered.
            sent = round(offered * float(rng.uniform(0.985, 1.0)))
            cpu = 0.35 + 0.3 * offered / max(peak, 1.0) + (0.3 if generator_overloaded and stage == "spike" else 0)
            load_out.write(
                [
                    {
                        "ts": START_TS + t,
                        "t_s": int(t),
                        "process": PROCESS,
                        "role": "standalone",
                        "users": round(planned_users) if closed else math.ceil(offered / 10.0),
                        "completed": completed.get(int(t), 0),
                        "sent": sent,
                        "intended": None if closed else round(offered),
                        "dropped": None if closed else 0,
                        "cpu": round(min(cpu, 1.0), 4),
                    }
                ]
            )
            # Per-pod traffic: a fresh pod ramps to its fair share over ~6 s (connection reuse).
            weights = np.array([min(1.0, 0.15 + (t - p.ready_t) / 6.0) for p in ready])
            weights = weights / weights.sum() if len(ready) else weights
            busy_cores = 0.0
            for pod, weight in zip(ready, weights, strict=True):
                rps = sent * float(weight) * float(rng.uniform(0.95, 1.05))
                pod_cpu = min(CPU_LIMIT_MILLICORES, CPU_LIMIT_MILLICORES * rps / capacity_rps_per_pod)
                busy_cores += pod_cpu
                pod_rps_rows.append((t, pod.name, rps, pod_cpu))
            cpu_history.append((t, busy_cores, len(ready)))
            queue_rows.append((t, backlog))
    finally:
        client_out.close()
        load_out.close()
    return pod_rps_rows, queue_rows


def _write_pods(data_dir: Path, sim: _Sim) -> None:
    """pods.jsonl → pods.parquet through the local target's pod log."""
    pods = PodLog(data_dir)
    for name, deployment, cpu in (("postgres-0", "postgres", 500.0), ("redis-5c8d9f7b6-xk2lp", "redis", 100.0)):
        pods.append(
            {
                "pod": name,
                "deployment": deployment,
                "created_ts": START_TS - 38.0,
                "started_ts": START_TS - 37.0,
                "ready_ts": START_TS - 36.0,
                "deleted_ts": None,
                "restarts": 0,
                "cpu_request_millicores": cpu,
                "cpu_limit_millicores": cpu * 2,
            }
        )
    for p in sim.pods:
        pods.append(
            {
                "pod": p.name,
                "deployment": DEPLOYMENT,
                "created_ts": START_TS + p.created_t,
                "started_ts": START_TS + p.started_t,
                "ready_ts": START_TS + p.ready_t,
                "deleted_ts": None if math.isnan(p.deleted_t) else START_TS + p.deleted_t,
                "restarts": 0,
                "cpu_request_millicores": CPU_REQUEST_MILLICORES,
                "cpu_limit_millicores": CPU_LIMIT_MILLICORES,
            }
        )
    pods.write_parquet()


class SyntheticPrometheus:
    """An honest fake of Prometheus' range-query API (the collector's `RangeQuerier`): a query
    of the profile answers with the synthetic series filed under its name, within the range;
    any other query has no data."""

    def __init__(self, by_query: dict[str, pd.DataFrame]) -> None:
        self.by_query = by_query
        self.queries: list[str] = []

    def custom_query_range(
        self,
        query: str,
        start_time: datetime,
        end_time: datetime,
        step: str,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        self.queries.append(query)
        frame = self.by_query.get(query)
        if frame is None:
            return []
        frame = frame[(frame["ts"] >= start_time.timestamp()) & (frame["ts"] <= end_time.timestamp())]
        labels = [column for column in frame.columns if column not in ("ts", "value")]
        groups = frame.groupby(labels, sort=False) if labels else [((), frame)]
        result = []
        for key, part in groups:
            values = key if isinstance(key, tuple) else (key,)
            samples = [[ts, repr(value)] for ts, value in zip(part["ts"].tolist(), part["value"].tolist(), strict=True)]
            result.append({"metric": dict(zip(labels, values, strict=True)), "values": samples})
        return result


def _collect_prom(data_dir: Path, series: dict[str, pd.DataFrame], load_end_t: float) -> None:
    """data/prom/*.parquet by the collector itself, over the window the pipeline asks for."""
    variables = {**rate_window_variables(SCRAPE_INTERVAL_S), "namespace": NAMESPACE}
    queries = render_queries(load_profile(None), variables)
    fake = SyntheticPrometheus({queries[name]: frame for name, frame in series.items() if name in queries})
    collect(
        data_dir,
        "http://prometheus.synthetic.invalid",
        START_TS - 30.0,
        START_TS + load_end_t + 5.0,
        variables=variables,
        client=fake,
    )


def _prom_series(
    sim: _Sim,
    client: pd.DataFrame,
    pod_rows: list[tuple[float, str, float, float]],
    queue_rows: list[tuple[float, float]],
    rng: np.random.Generator,
) -> dict[str, pd.DataFrame]:
    """What Prometheus would answer for each query of the default profile (`PROFILE_QUERIES`):
    `ts`, `value`, one column per label."""
    series: dict[str, pd.DataFrame] = {}
    resolution_s = 1.0

    def save(name: str, frame: pd.DataFrame) -> None:
        series[name] = frame

    routes = client[client["route"] != "ALL"]
    save(
        "server_rps_by_route",
        pd.DataFrame({"ts": routes["ts"], "value": routes["requests"] / resolution_s, "route": routes["route"]}),
    )
    everything = client[client["route"] == "ALL"]
    ratio = (everything["failures"] / everything["requests"].where(everything["requests"] > 0)).fillna(0.0)
    save("server_error_ratio", pd.DataFrame({"ts": everything["ts"], "value": ratio}))
    save(
        "server_errors_rps_by_route",
        pd.DataFrame({"ts": routes["ts"], "value": routes["failures"] / resolution_s, "route": routes["route"]}),
    )
    # Server-side latency excludes the client's network and queueing in HAProxy: a bit lower.
    for q in ("p50", "p95", "p99"):
        save(
            f"server_{q}_ms_by_route",
            pd.DataFrame({"ts": routes["ts"], "value": routes[f"{q}_ms"] * 0.9, "route": routes["route"]}).dropna(),
        )
    save("server_p95_ms", pd.DataFrame({"ts": everything["ts"], "value": everything["p95_ms"] * 0.9}).dropna())
    pods = pd.DataFrame(pod_rows, columns=["t", "pod", "rps", "cpu_millicores"])
    ts = START_TS + pods["t"]
    save("pod_rps", pd.DataFrame({"ts": ts, "value": pods["rps"], "pod": pods["pod"]}))
    served = (pods["rps"] * resolution_s).groupby(pods["pod"]).cumsum()  # the app's counter, from 0
    save("server_requests_total_by_pod", pd.DataFrame({"ts": ts, "value": served, "pod": pods["pod"]}))
    save("pod_cpu_cores", pd.DataFrame({"ts": ts, "value": pods["cpu_millicores"] / 1000.0, "pod": pods["pod"]}))
    save(
        "pod_cpu_request_cores",
        pd.DataFrame({"ts": ts, "value": CPU_REQUEST_MILLICORES / 1000.0, "pod": pods["pod"]}),
    )
    save(
        "pod_cpu_utilization",
        pd.DataFrame({"ts": ts, "value": pods["cpu_millicores"] / CPU_REQUEST_MILLICORES, "pod": pods["pod"]}),
    )
    throttled = np.clip((pods["cpu_millicores"] / CPU_LIMIT_MILLICORES - 0.85) * 4.0, 0.0, 1.0)
    save("pod_cpu_throttled_ratio", pd.DataFrame({"ts": ts, "value": throttled, "pod": pods["pod"]}))
    grid = np.array(sorted({t for t, *_ in pod_rows} | {t for t, _ in queue_rows}))
    hpa = pd.DataFrame(sim.hpa_rows)
    ready = [sum(1 for p in sim.pods if p.ready_t <= t and not (p.deleted_t <= t)) for t in grid]
    spec = [sum(1 for p in sim.pods if p.created_t <= t and not (p.deleted_t <= t)) for t in grid]
    save("ready_replicas", pd.DataFrame({"ts": START_TS + grid, "value": np.array(ready, dtype=float)}))
    save("spec_replicas", pd.DataFrame({"ts": START_TS + grid, "value": np.array(spec, dtype=float)}))
    for column, name in (("desired_replicas", "hpa_desired_replicas"), ("current_replicas", "hpa_current_replicas")):
        if hpa.empty:
            values = np.ones(len(grid))
        else:
            idx = np.searchsorted(hpa["ts"].to_numpy(), START_TS + grid, side="right") - 1
            values = np.where(idx >= 0, hpa[column].to_numpy()[np.clip(idx, 0, None)], 1).astype(float)
        save(name, pd.DataFrame({"ts": START_TS + grid, "value": values, "horizontalpodautoscaler": HPA_NAME}))
    queue = pd.DataFrame(queue_rows, columns=["t", "backlog"])
    save(
        "haproxy_backend_queue",
        pd.DataFrame({"ts": START_TS + queue["t"], "value": np.round(queue["backlog"]), "proxy": "web"}),
    )
    sessions = np.maximum(0.0, np.round(pods["rps"] * 0.05 + rng.normal(0, 0.3, len(pods))))
    save(
        "haproxy_server_sessions",
        pd.DataFrame({"ts": ts, "value": sessions, "proxy": "web", "server": pods["pod"]}),
    )
    backend = pd.DataFrame({"ts": ts, "value": sessions}).groupby("ts", as_index=False)["value"].sum()
    save("haproxy_backend_sessions", backend.assign(proxy="web"))
    # Keep-alive clients: a handful of new connections; the balancer reuses its pod connections.
    rps = pd.DataFrame({"ts": ts, "rps": pods["rps"]}).groupby("ts", as_index=False)["rps"].sum()
    save("haproxy_client_connections_rps", pd.DataFrame({"ts": rps["ts"], "value": 0.5, "proxy": "web"}))
    save("haproxy_backend_connections_rps", pd.DataFrame({"ts": rps["ts"], "value": 0.5, "proxy": "web"}))
    save("haproxy_backend_reuses_rps", pd.DataFrame({"ts": rps["ts"], "value": rps["rps"] - 0.5, "proxy": "web"}))
    return series
