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

import pandas as pd

from hpabench.analysis import catalogue, errors, scaling
from hpabench.analysis import fairness as fairness_mod
from hpabench.analysis.events import event_entries
from hpabench.analysis.facts import SLO_WINDOW_S, RunFacts, Window
from hpabench.analysis.failcodes import load_fail_codes
from hpabench.analysis.faults import fault_notes
from hpabench.analysis.kpi import Kpi, clean, kpi, kpis_as_dict
from hpabench.analysis.latency import ALL_ROUTES, ClientHistograms, latency_stats, route_rows
from hpabench.analysis.phases import Phase
from hpabench.analysis.rundata import RunData, load_run, numeric
from hpabench.rundir import SUMMARY, write_json_atomic

SCHEMA_VERSION = 1
__all__ = ["SCHEMA_VERSION", "SLO_WINDOW_S", "analyze_run", "build_summary", "evaluate_kpis"]


def evaluate_kpis(facts: RunFacts, window: Window, scope: str) -> dict[str, Kpi]:
    """Every catalogue KPI of `scope` (run|phase) evaluated over `window`, in catalogue order."""
    return {
        d.name: kpi(d.compute(facts, window), d.unit, d.label_in(scope, facts), d.better)
        for d in catalogue.definitions(scope)
    }


def _phase_entry(facts: RunFacts, phase: Phase) -> dict[str, Any]:
    window = Window(phase.start_s, phase.end_s, phase)
    return {
        "name": phase.name,
        "stage": phase.stage,
        "start_s": phase.start_s,
        "end_s": phase.end_s,
        "truncated": phase.truncated,
        "level": clean(phase.level),
        "level_unit": phase.unit,
        "kpis": kpis_as_dict(evaluate_kpis(facts, window, catalogue.PHASE)),
    }


def build_summary(run: RunData, capacity_rps_per_pod: float | None = None) -> dict[str, Any]:
    """The summary.json dict of `run` (see the module docstring). `capacity_rps_per_pod`
    overrides the capacity used for demand (calibration done elsewhere)."""
    facts = RunFacts(run, capacity_rps_per_pod)
    notes = list(run.notes)
    kpis = evaluate_kpis(facts, facts.whole, catalogue.RUN)
    whole = facts.latency(facts.whole)
    if whole.requests and whole.hist_coverage is not None and whole.hist_coverage < 0.99:
        notes.append(f"client histograms cover {whole.hist_coverage:.1%} of requests")
    flags = list(facts.generator.flags)
    host = run.manifest.get("host") or {}
    if isinstance(host, dict) and host.get("cgroups_enforced") is False and "cgroups_not_enforced" not in flags:
        flags.append("cgroups_not_enforced")
    if run.status in ("interrupted", "failed") and run.status not in flags:
        flags.append(run.status)
    notes += fault_notes(run.events, run.prom, _expected_series(run))
    notes += tier_link_notes(run.manifest.get("tier_links"))
    capacity = facts.capacity
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run.run_id,
        "status": run.status,
        "scenario": run.scenario_name,
        "variant": run.variant_name,
        "target": run.target,
        "duration_s": clean(facts.duration_s),
        "slo": facts.slo,
        "capacity": {"rps_per_pod": capacity.rps_per_pod, "source": capacity.source, "samples": capacity.samples},
        "kpis": kpis_as_dict(kpis),
        "phases": [_phase_entry(facts, p) for p in facts.phases],
        "load_changes": [_change_entry(r, rec) for r, rec in zip(facts.responses, facts.recoveries_s, strict=False)],
        "routes": _routes(run, facts.hists),
        "pods": _pods(run, facts.fairness),
        "events": event_entries(
            run.events,
            facts.hists,
            facts.slo,
            facts.duration_s,
            facts.at_s,
            facts.ready,
            load_fail_codes(run.path / "data", run.load_started_at),
            run.web_hpa(),
        ),
        "flags": sorted(set(flags)),
        "notes": notes,
    }


def tier_link_notes(links: Any) -> list[str]:
    """One line per impaired tier link of the manifest's `tier_links` (how the delay was applied:
    netem, or the userspace delay relay where the kernel has no sch_netem)."""
    notes = []
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict) or link.get("mechanism") in (None, "none"):
            continue
        what = "client→web" if link.get("tier") == "client_web" else f"web→{link.get('service')}"
        delay, jitter = link.get("delay_ms") or 0, link.get("jitter_ms") or 0
        applied = f"{delay:g} ms one-way delay" + (f" (±{jitter:g} ms jitter)" if jitter else "") if delay else ""
        if link.get("mechanism") == "userspace-relay":
            reason = f"; {link['reason']}" if link.get("reason") else ""
            notes.append(f"{what}: {applied} applied by the userspace delay relay, not netem{reason}")
        else:
            notes.append(
                f"{what}: impairment applied with {link.get('mechanism')} ({' '.join(link.get('qdisc') or [])})"
            )
    return notes


def _expected_series(run: RunData) -> list[str]:
    """The default profile's series, once a load phase ran (before that none could exist)."""
    if run.manifest.get("load_ended_at") is None:
        return []
    from hpabench.analysis.profile import load_profile

    return load_profile().names()


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
    everything = run.client[run.client["route"] == ALL_ROUTES] if "route" in run.client else run.client.iloc[:0]
    requests, failures = (int(pd.to_numeric(everything[c], errors="coerce").sum()) for c in ("requests", "failures"))
    errors.annotate_summary(summary, errors.read_errors(Path(path) / "data"), requests, failures)
    write_json_atomic(Path(path) / SUMMARY, summary)
    return summary
