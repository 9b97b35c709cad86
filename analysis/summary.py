"""summary.json: every KPI of a run (docs/contracts.md shape), built from a RunData.

`build_summary(run)` is pure (RunData in, dict out); `analyze_run(path)` loads the run, builds
the summary and writes `summary.json` atomically. Keys beyond the contract's minimum:
`duration_s`, `slo` (with `source`: run|default), `capacity` (rps_per_pod, source, samples),
`load_changes` (one entry per change: timing, lag breakdown, p95 recovery), `routes` (per-route
client latency), `pods` (request share, time to fair share, start-to-ready), `notes` (what was
missing). KPIs whose inputs are missing are present with value null, never absent, so reports
and gates see the same table for every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hpabench.analysis import fairness as fairness_mod
from hpabench.analysis import generator as generator_mod
from hpabench.analysis import provisioning as prov
from hpabench.analysis import scaling, slo
from hpabench.analysis.events import event_entries
from hpabench.analysis.failcodes import load_fail_codes
from hpabench.analysis.kpi import Kpi, clean, kpi, kpis_as_dict
from hpabench.analysis.latency import ALL_ROUTES, ClientHistograms, LatencyStats, latency_stats, route_rows
from hpabench.analysis.phases import Phase, detect_phases, load_changes
from hpabench.analysis.rundata import RunData, load_run, numeric, prom_frame
from hpabench.analysis.timeline import (
    client_per_second,
    existing_pods,
    grid,
    interval_count,
    offered_rps,
    planned_on_grid,
    ready_replicas,
)
from hpabench.rundir import SUMMARY, write_json_atomic

SCHEMA_VERSION = 1
SLO_WINDOW_S = 10.0


def _latency_kpis(stats: LatencyStats) -> dict[str, Kpi]:
    return {
        "p50_ms": kpi(stats.p50_ms, "ms", "client p50 latency", "lower"),
        "p95_ms": kpi(stats.p95_ms, "ms", "client p95 latency", "lower"),
        "p99_ms": kpi(stats.p99_ms, "ms", "client p99 latency", "lower"),
        "p999_ms": kpi(stats.p999_ms, "ms", "client p99.9 latency", "lower"),
        "max_ms": kpi(stats.max_ms, "ms", "client max latency", "lower"),
        "mean_ms": kpi(stats.mean_ms, "ms", "client mean latency", "lower"),
        "error_rate": kpi(stats.error_rate, "ratio", "failed requests / requests", "lower"),
        "requests": kpi(stats.requests, "requests", "requests completed"),
        "throughput_rps": kpi(stats.throughput_rps, "req/s", "requests completed per second"),
    }


def _slo_of(run: RunData) -> dict[str, Any]:
    run_slo = run.slo
    merged = {**slo.DEFAULT_SLO, **{k: v for k, v in run_slo.items() if k in slo.DEFAULT_SLO}}
    return {**merged, "source": "run" if run_slo else "default"}


def _capacity(run: RunData, second: pd.DataFrame, ready: np.ndarray, slo_: dict[str, Any]) -> prov.Capacity:
    declared = run.manifest.get("capacity")
    if isinstance(declared, dict):
        value = clean(declared.get("rps_per_pod"))
        if value is not None and value > 0:
            return prov.Capacity(value, "manifest")
    achieved = np.asarray(second["achieved_rps"], dtype=float)
    return prov.estimate_capacity(
        achieved,
        ready,
        second["p95_ms"].to_numpy(dtype=float),
        second["error_ratio"].to_numpy(dtype=float),
        float(slo_["p95_ms"]),
        float(slo_["error_rate"]),
    )


def _cpu_request_cores(run: RunData, at_s: np.ndarray) -> np.ndarray | None:
    pods = run.web_pods()
    requests = numeric(pods, "cpu_request_millicores")
    if pods.empty or not np.isfinite(requests).any():
        return None
    created, deleted = numeric(pods, "created_t_s"), numeric(pods, "deleted_t_s")
    total = np.zeros(len(at_s))
    for start, end, request in zip(created, deleted, np.nan_to_num(requests), strict=True):
        alive = interval_count(np.array([start]), np.array([end]), at_s)
        total += alive * request / 1000.0
    return total


def _prom_stat(run: RunData, name: str, how: str, scale: float = 1.0) -> float | None:
    frame = prom_frame(run, name)
    if frame.empty:
        return None
    window = frame[(frame["t_s"] >= 0) & (frame["t_s"] < max(run.load_duration_s, 0.0))]
    values = numeric(window, "value")
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    return clean(float(values.max() if how == "max" else values.mean()) * scale)


def _phase_entry(
    phase: Phase,
    hists: ClientHistograms,
    slo_: dict[str, Any],
    at_s: np.ndarray,
    ready: np.ndarray,
    need: np.ndarray,
) -> dict[str, Any]:
    stats = latency_stats(hists, phase.start_s, phase.end_s)
    kpis = _latency_kpis(stats)
    windows = slo.evaluate_windows(hists, phase.start_s, phase.end_s, slo_["p95_ms"], slo_["error_rate"], SLO_WINDOW_S)
    mask = (at_s >= phase.start_s) & (at_s < phase.end_s)
    ready_in = ready[mask]
    elastic = prov.elasticity(ready_in, need[mask])
    kpis["slo_violation_pct"] = kpi(windows.violation_pct, "%", "time in SLO violation", "lower")
    kpis["ready_replicas_mean"] = kpi(
        float(np.nanmean(ready_in)) if np.isfinite(ready_in).any() else None, "replicas", "mean ready replicas"
    )
    kpis["under_provisioning_timeshare_pct"] = kpi(elastic.under_timeshare_pct, "%", "time under-provisioned", "lower")
    kpis["over_provisioning_timeshare_pct"] = kpi(elastic.over_timeshare_pct, "%", "time over-provisioned", "lower")
    return {
        "name": phase.name,
        "stage": phase.stage,
        "start_s": phase.start_s,
        "end_s": phase.end_s,
        "truncated": phase.truncated,
        "level": clean(phase.level),
        "level_unit": phase.unit,
        "kpis": kpis_as_dict(kpis),
    }


def build_summary(run: RunData, capacity_rps_per_pod: float | None = None) -> dict[str, Any]:
    """The summary.json dict of `run` (see the module docstring). `capacity_rps_per_pod`
    overrides the capacity used for demand (calibration done elsewhere)."""
    duration_s = run.load_duration_s
    at_s = grid(duration_s)
    hists = ClientHistograms(route_rows(run.client))
    slo_ = _slo_of(run)
    notes = list(run.notes)

    whole = latency_stats(hists, 0.0, duration_s)
    kpis = _latency_kpis(whole)
    if whole.requests and whole.hist_coverage is not None and whole.hist_coverage < 0.99:
        notes.append(f"client histograms cover {whole.hist_coverage:.1%} of requests")

    # --- SLO -------------------------------------------------------------------------------
    windows = slo.evaluate_windows(hists, 0.0, duration_s, slo_["p95_ms"], slo_["error_rate"], SLO_WINDOW_S)
    kpis["slo_violation_pct"] = kpi(
        windows.violation_pct, "%", f"time in SLO violation ({SLO_WINDOW_S:g} s windows)", "lower"
    )
    kpis["error_budget_burn"] = kpi(
        slo.error_budget_burn(whole.requests, whole.failures, slo_["error_rate"]),
        "ratio",
        "error budget consumed (1 = all of it)",
        "lower",
    )

    # --- timelines -------------------------------------------------------------------------
    ready = ready_replicas(run, at_s)
    pods_alive = existing_pods(run, at_s)
    second = client_per_second(run, at_s)
    second["achieved_rps"] = _per_second_achieved(run, at_s, second)
    planned, unit = planned_on_grid(run, at_s)

    # --- phases and autoscaling timing -----------------------------------------------------
    phases = detect_phases(run.planned, duration_s, run.load)
    changes = load_changes(phases)
    sync_period_s = float((run.manifest.get("hpa_settings") or {}).get("sync_period_s", 15.0) or 15.0)
    responses = scaling.responses(changes, duration_s, run.web_hpa(), at_s, ready, quiet_s=2 * sync_period_s)
    ups = [r for r in responses if r.direction == "up"]
    downs = [r for r in responses if r.direction == "down"]
    recoveries = []
    for index, change in enumerate(changes):
        end = changes[index + 1].t_s if index + 1 < len(changes) else duration_s
        recoveries.append(
            slo.p95_recovery_s(hists, change.t_s, end, slo_["p95_ms"]) if change.t_s < duration_s else None
        )
    kpis.update(
        {
            "p95_recovery_s": kpi(
                max((r for r in recoveries if r is not None), default=None),
                "s",
                "p95 back within SLO after a load change (worst)",
                "lower",
            ),
            "p95_unrecovered_changes": kpi(
                sum(1 for r in recoveries if r is None) if changes else None,
                "changes",
                "load changes after which p95 never recovered",
                "lower",
            ),
            "scale_up_reaction_s": kpi(
                scaling.mean_of([r.reaction_s for r in ups]), "s", "load rise → first scale-up decision", "lower"
            ),
            "scale_up_ready_s": kpi(
                scaling.mean_of([r.ready_s for r in ups]), "s", "load rise → ready replicas reach desired", "lower"
            ),
            "scale_up_settling_s": kpi(
                scaling.mean_of([r.settling_s for r in ups]), "s", "load rise → replicas stop changing", "lower"
            ),
            "scale_down_reaction_s": kpi(
                scaling.mean_of([r.reaction_s for r in downs]), "s", "load drop → first scale-down decision", "lower"
            ),
            "scale_down_settling_s": kpi(
                scaling.mean_of([r.settling_s for r in downs]), "s", "load drop → replicas stop changing", "lower"
            ),
            "lag_metrics_s": kpi(
                scaling.mean_of([r.metrics_s for r in ups]),
                "s",
                "scale-up lag: metrics not showing the change yet",
                "lower",
            ),
            "lag_sync_wait_s": kpi(
                scaling.mean_of([r.sync_wait_s for r in ups]), "s", "scale-up lag: waiting for the HPA sync", "lower"
            ),
            "lag_hold_s": kpi(
                scaling.mean_of([r.hold_s for r in ups]), "s", "scale-up lag: stabilization/policy hold", "lower"
            ),
            "lag_pod_start_s": kpi(
                scaling.mean_of([r.pod_start_s for r in ups]), "s", "scale-up lag: pod start to ready", "lower"
            ),
            "pod_ready_mean_s": kpi(_pod_ready_mean_s(run), "s", "new pod created → ready (mean)", "lower"),
            "pod_crashes": kpi(_pod_crashes(run, duration_s), "crashes", "web pod crashes during the load", "lower"),
            "ready_replicas_min": kpi(
                float(np.nanmin(ready)) if np.isfinite(ready).any() else None,
                "replicas",
                "fewest ready web replicas during the load",
                "higher",
            ),
        }
    )
    planned_known = any(p.level is not None for p in phases)
    stab = scaling.stability(run.web_hpa(), [c.t_s for c in changes])
    has_hpa = not run.web_hpa().empty
    kpis.update(
        {
            "scale_events": kpi(stab.scale_events if has_hpa else None, "events", "desired-replica changes"),
            "scale_reversals": kpi(stab.reversals if has_hpa else None, "events", "scale direction reversals"),
            # Without a planned curve no load change is known, so a reversal cannot be called a flap.
            "scale_flaps": kpi(
                stab.flaps if has_hpa and planned_known else None, "events", "reversals without a load change", "lower"
            ),
            "oscillation_index": kpi(
                stab.oscillation_index, "ratio", "replica movement / least needed (1 = clean)", "lower"
            ),
            "max_desired_replicas": kpi(stab.max_desired, "replicas", "max desired replicas"),
        }
    )

    # --- provisioning ------------------------------------------------------------------------
    capacity = (
        prov.Capacity(capacity_rps_per_pod, "argument") if capacity_rps_per_pod else _capacity(run, second, ready, slo_)
    )
    load_for_demand = planned if unit == "rps" else prov.rolling_mean(offered_rps(run, at_s), 5)
    need = prov.demand(load_for_demand, capacity.rps_per_pod)
    elastic = prov.elasticity(ready, need)
    spend = prov.cost(pods_alive, _cpu_request_cores(run, at_s))
    kpis.update(
        {
            "replica_seconds": kpi(spend.replica_seconds, "pod·s", "web pod-seconds (cost)", "lower"),
            "cpu_request_core_seconds": kpi(
                spend.cpu_request_core_seconds, "core·s", "CPU requested × time (cost)", "lower"
            ),
            "mean_replicas": kpi(spend.mean_replicas, "replicas", "mean web pods"),
            "max_replicas": kpi(spend.max_replicas, "replicas", "max web pods"),
            "capacity_rps_per_pod": kpi(
                capacity.rps_per_pod, "req/s", f"per-pod capacity at the SLO ({capacity.source})"
            ),
            "under_provisioning_accuracy_pct": kpi(
                elastic.under_accuracy_pct, "%", "mean relative shortfall of ready replicas", "lower"
            ),
            "over_provisioning_accuracy_pct": kpi(
                elastic.over_accuracy_pct, "%", "mean relative excess of ready replicas", "lower"
            ),
            "under_provisioning_timeshare_pct": kpi(
                elastic.under_timeshare_pct, "%", "time under-provisioned", "lower"
            ),
            "over_provisioning_timeshare_pct": kpi(elastic.over_timeshare_pct, "%", "time over-provisioned", "lower"),
            "provisioning_instability_pct": kpi(elastic.instability_pct, "%", "supply moving against demand", "lower"),
            "under_provisioned_replica_seconds": kpi(
                elastic.under_replica_seconds, "pod·s", "missing replica-seconds", "lower"
            ),
            "over_provisioned_replica_seconds": kpi(
                elastic.over_replica_seconds, "pod·s", "surplus replica-seconds", "lower"
            ),
        }
    )

    # --- server side, fairness, generator -----------------------------------------------------
    kpis.update(
        {
            "server_p95_ms_peak": kpi(
                _prom_stat(run, "server_p95_ms", "max"), "ms", "server p95 latency (peak)", "lower"
            ),
            "cpu_utilization_mean": kpi(
                _prom_stat(run, "pod_cpu_utilization", "mean"), "ratio", "pod CPU / request (mean)"
            ),
            "cpu_throttled_pct": kpi(
                _prom_stat(run, "pod_cpu_throttled_ratio", "mean", 100.0), "%", "CFS periods throttled (mean)", "lower"
            ),
            "lb_queue_max": kpi(
                _prom_stat(run, "haproxy_backend_queue", "max"), "requests", "load-balancer queue (peak)", "lower"
            ),
        }
    )
    pods = run.web_pods()
    ready_at = {str(p): float(t) for p, t in zip(pods["pod"], pods["ready_t_s"], strict=True) if pd.notna(t)}
    fair = fairness_mod.fairness(prom_frame(run, "pod_rps", "pod"), ready_at)
    kpis.update(
        {
            "fairness_jain": kpi(fair.jain_index, "index", "Jain fairness of per-pod traffic (1 = even)", "higher"),
            "max_share_deviation": kpi(
                fair.max_share_deviation, "ratio", "worst pod's |share / fair share − 1|", "lower"
            ),
            "time_to_fair_share_s": kpi(
                fair.mean_time_to_fair_share_s, "s", "new pod ready → 80 % of fair share", "lower"
            ),
        }
    )
    health = generator_mod.generator_health(
        run.load, [str(f) for f in run.manifest.get("flags") or []], [str(e.get("kind")) for e in run.events]
    )
    kpis.update(
        {
            "load_achieved_ratio": kpi(health.achieved_ratio, "ratio", "achieved / intended load", "higher"),
            "generator_behind_s": kpi(
                health.behind_s if not run.load.empty else None, "s", "seconds generator behind", "lower"
            ),
            "generator_cpu_max": kpi(health.cpu_max, "cores", "generator CPU (max process)"),
        }
    )
    flags = list(health.flags)
    host = run.manifest.get("host") or {}
    if isinstance(host, dict) and host.get("cgroups_enforced") is False and "cgroups_not_enforced" not in flags:
        flags.append("cgroups_not_enforced")
    if run.status in ("interrupted", "failed") and run.status not in flags:
        flags.append(run.status)

    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run.run_id,
        "status": run.status,
        "scenario": run.scenario_name,
        "variant": run.variant_name,
        "target": run.target,
        "duration_s": clean(duration_s),
        "slo": slo_,
        "capacity": {"rps_per_pod": capacity.rps_per_pod, "source": capacity.source, "samples": capacity.samples},
        "kpis": kpis_as_dict(kpis),
        "phases": [_phase_entry(p, hists, slo_, at_s, ready, need) for p in phases],
        "load_changes": [_change_entry(r, rec) for r, rec in zip(responses, recoveries, strict=False)],
        "routes": _routes(run, hists),
        "pods": _pods(run, fair),
        "events": event_entries(
            run.events,
            hists,
            slo_,
            duration_s,
            at_s,
            ready,
            load_fail_codes(run.path / "data", run.load_started_at),
            run.web_hpa(),
        ),
        "flags": sorted(set(flags)),
        "notes": notes,
    }


def _per_second_achieved(run: RunData, at_s: np.ndarray, second: pd.DataFrame) -> np.ndarray:
    load = run.load
    if not load.empty and pd.to_numeric(load["achieved_rps"], errors="coerce").notna().any():
        values = pd.to_numeric(load["achieved_rps"], errors="coerce").to_numpy(dtype=float)
        seconds = np.floor(load["t_s"].to_numpy(dtype=float))
        return pd.Series(values).groupby(seconds).mean().reindex(at_s).to_numpy(dtype=float)
    return second["requests"].to_numpy(dtype=float)


def _pod_crashes(run: RunData, duration_s: float) -> int | None:
    """Web `pod_crashed` events in [0, duration_s); None when the run has no pod events at all
    (a target that does not report them, not zero crashes)."""
    web = run.web_deployment()
    pod_events = [e for e in run.events if str(e.get("kind", "")).startswith("pod_")]
    if not pod_events:
        return None
    return sum(
        1
        for e in pod_events
        if e.get("kind") == "pod_crashed"
        and (e.get("deployment") == web or str(e.get("pod", "")).startswith(f"{web}-"))
        and 0.0 <= float(e["t_s"]) < duration_s
    )


def _pod_ready_mean_s(run: RunData) -> float | None:
    pods = run.web_pods()
    if pods.empty:
        return None
    new = pods[(pods["created_t_s"] >= 0) & pods["ready_t_s"].notna()]
    if new.empty:
        return None
    return float((new["ready_t_s"] - new["created_t_s"]).mean())


def _change_entry(response: scaling.ChangeResponse, recovery_s: float | None) -> dict[str, Any]:
    return {
        "t_s": response.t_s,
        "phase": response.phase,
        "direction": response.direction,
        "before": clean(response.before),
        "after": clean(response.after),
        "window_s": clean(response.window_s),
        "replicas_before": clean(response.replicas_before),
        "replicas_target": clean(response.replicas_target),
        "reaction_s": clean(response.reaction_s),
        "ready_s": clean(response.ready_s),
        "settling_s": clean(response.settling_s),
        "lag": {
            "metrics_s": clean(response.metrics_s),
            "sync_wait_s": clean(response.sync_wait_s),
            "hold_s": clean(response.hold_s),
            "pod_start_s": clean(response.pod_start_s),
        },
        "metrics_age_s": clean(response.metrics_age_s),
        "p95_recovery_s": clean(recovery_s),
        "capped": response.capped,
    }


def _routes(run: RunData, all_routes: ClientHistograms) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if run.client.empty:
        return out
    duration_s = run.load_duration_s
    for route in sorted(set(run.client["route"].dropna().astype(str))):
        hists = all_routes if route == ALL_ROUTES else ClientHistograms(route_rows(run.client, route))
        stats = latency_stats(hists, 0.0, duration_s)
        out[route] = {
            "requests": stats.requests,
            "error_rate": clean(stats.error_rate),
            "p50_ms": clean(stats.p50_ms),
            "p95_ms": clean(stats.p95_ms),
            "p99_ms": clean(stats.p99_ms),
        }
    return out


def _pods(run: RunData, fair: fairness_mod.Fairness) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    pods = run.web_pods()
    created, ready, deleted = (numeric(pods, f"{k}_t_s") for k in ("created", "ready", "deleted"))
    for index, name in enumerate(pods["pod"].astype(str).tolist()):
        out[name] = {
            "created_s": clean(created[index]),
            "ready_s": clean(ready[index]),
            "deleted_s": clean(deleted[index]),
            "start_to_ready_s": clean(ready[index] - created[index]),
            "request_share": clean(fair.per_pod_share.get(name)),
            "time_to_fair_share_s": clean(fair.time_to_fair_share_s.get(name)),
        }
    return out


def analyze_run(path: Path, capacity_rps_per_pod: float | None = None) -> dict[str, Any]:
    """Load the run at `path`, build its summary and write `summary.json`; returns the summary."""
    run = load_run(Path(path))
    summary = build_summary(run, capacity_rps_per_pod)
    write_json_atomic(Path(path) / SUMMARY, summary)
    return summary
