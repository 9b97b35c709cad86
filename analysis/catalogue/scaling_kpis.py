"""Autoscaling timing after each load change, its lag breakdown, and the pods it started."""

from __future__ import annotations

import numpy as np

from hpabench.analysis import scaling
from hpabench.analysis.catalogue import Compute, KpiDefinition, register
from hpabench.analysis.facts import RunFacts, Window


def _mean(direction: str, attribute: str) -> Compute:
    def compute(facts: RunFacts, window: Window) -> float | None:
        return scaling.mean_of([getattr(r, attribute) for r in facts.responses_in(direction)])

    return compute


def _pod_ready_mean_s(facts: RunFacts, window: Window) -> float | None:
    pods = facts.run.web_pods()
    if pods.empty:
        return None
    new = pods[(pods["created_t_s"] >= 0) & pods["ready_t_s"].notna()]
    if new.empty:
        return None
    return float((new["ready_t_s"] - new["created_t_s"]).mean())


def _pod_crashes(facts: RunFacts, window: Window) -> int | None:
    """Web `pod_crashed` events during the load; None when the run has no pod events at all
    (a target that does not report them, not zero crashes)."""
    run = facts.run
    web = run.web_deployment()
    pod_events = [e for e in run.events if str(e.get("kind", "")).startswith("pod_")]
    if not pod_events:
        return None
    return sum(
        1
        for e in pod_events
        if e.get("kind") == "pod_crashed"
        and (e.get("deployment") == web or str(e.get("pod", "")).startswith(f"{web}-"))
        and 0.0 <= float(e["t_s"]) < facts.duration_s
    )


def _ready_min(facts: RunFacts, window: Window) -> float | None:
    return float(np.nanmin(facts.ready)) if np.isfinite(facts.ready).any() else None


def _skip_if_missing(kpi: str, op: str, value: str) -> dict[str, str]:
    return {"kpi": kpi, "op": op, "value": value, "on_missing": "skip"}


register(
    KpiDefinition(
        "scale_up_reaction_s",
        "s",
        "load rise → first scale-up decision",
        _mean("up", "reaction_s"),
        "lower",
        headline=5,
    ),
    KpiDefinition(
        "scale_up_ready_s",
        "s",
        "load rise → ready replicas reach desired",
        _mean("up", "ready_s"),
        "lower",
        headline=6,
        key=True,
        threshold=_skip_if_missing("scale_up_ready_s", "<=", "+25%"),
    ),
    KpiDefinition(
        "scale_up_settling_s", "s", "load rise → replicas stop changing", _mean("up", "settling_s"), "lower", headline=7
    ),
    KpiDefinition(
        "scale_down_reaction_s", "s", "load drop → first scale-down decision", _mean("down", "reaction_s"), "lower"
    ),
    KpiDefinition(
        "scale_down_settling_s", "s", "load drop → replicas stop changing", _mean("down", "settling_s"), "lower"
    ),
    KpiDefinition(
        "lag_metrics_s", "s", "scale-up lag: metrics not showing the change yet", _mean("up", "metrics_s"), "lower"
    ),
    KpiDefinition(
        "lag_sync_wait_s", "s", "scale-up lag: waiting for the HPA sync", _mean("up", "sync_wait_s"), "lower"
    ),
    KpiDefinition("lag_hold_s", "s", "scale-up lag: stabilization/policy hold", _mean("up", "hold_s"), "lower"),
    KpiDefinition("lag_pod_start_s", "s", "scale-up lag: pod start to ready", _mean("up", "pod_start_s"), "lower"),
    KpiDefinition("pod_ready_mean_s", "s", "new pod created → ready (mean)", _pod_ready_mean_s, "lower"),
    KpiDefinition(
        "pod_crashes",
        "crashes",
        "web pod crashes during the load",
        _pod_crashes,
        "lower",
        threshold=_skip_if_missing("pod_crashes", "<=", "+0"),
    ),
    KpiDefinition("ready_replicas_min", "replicas", "fewest ready web replicas during the load", _ready_min, "higher"),
)
