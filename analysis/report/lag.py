"""The scale-lag breakdown section: for each load change, where the time from the change to ready
capacity went — waiting for the HPA sync, metrics delay, stabilization/policy hold, pod start →
ready — as stacked horizontal bars (one per load change, then the run's scale-up mean), with a
table of the same numbers.

The numbers come from summary.json (`load_changes[].lag` and the `lag_*` KPIs, built by
`hpabench.analysis.summary` / `analysis.scaling`); this module computes nothing itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hpabench.analysis.report.bars import BarRow, Segment, render_stacked_bars
from hpabench.analysis.report.htmlkit import esc, format_value, table
from hpabench.analysis.report.scales import format_elapsed, format_number
from hpabench.analysis.report.summaryview import kpis, number

# In time order: the partition of `ready_s` documented in analysis/scaling.py.
SEGMENTS = (
    Segment("sync_wait_s", "waiting for the HPA sync", "#0891b2"),
    Segment("metrics_s", "metrics delay (change not yet in the metrics)", "#7c3aed"),
    Segment("hold_s", "stabilization / policy hold", "#ca8a04"),
    Segment("pod_start_s", "pod start → ready", "#15803d"),
)
# Whole-run scale-up means in the summary's KPIs, per segment.
MEAN_KPIS = {
    "metrics_s": "lag_metrics_s",
    "sync_wait_s": "lag_sync_wait_s",
    "hold_s": "lag_hold_s",
    "pod_start_s": "lag_pod_start_s",
}


def load_changes(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = summary.get("load_changes")
    return [dict(c) for c in raw if isinstance(c, Mapping)] if isinstance(raw, list) else []


def _change_label(change: Mapping[str, Any]) -> str:
    """`↑ 1:00 1→4 pods` — when, which way, and the replica move it called for."""
    arrow = "↑" if change.get("direction") == "up" else "↓"
    when = format_elapsed(number(change.get("t_s")) or 0.0)
    before, target = number(change.get("replicas_before")), number(change.get("replicas_target"))
    pods = f" {format_number(before)}→{format_number(target)} pods" if before is not None and target is not None else ""
    return f"{arrow} {when}{pods}"


def lag_rows(summary: Mapping[str, Any]) -> list[BarRow]:
    """One bar per load change with a lag breakdown, then the scale-up mean (from the KPIs)."""
    rows = []
    for change in load_changes(summary):
        lag = change.get("lag")
        if not isinstance(lag, Mapping):
            continue
        parts = {seg.key: number(lag.get(seg.key)) for seg in SEGMENTS}
        if any(v is not None for v in parts.values()):
            rows.append(BarRow(_change_label(change), parts))
    entries = kpis(summary)
    means = {key: number(entries[name].get("value")) if name in entries else None for key, name in MEAN_KPIS.items()}
    if any(v is not None for v in means.values()):
        rows.append(BarRow("mean of scale-ups", means))
    return rows


def changes_table(summary: Mapping[str, Any]) -> str:
    """The timing of every load change: reaction, ready capacity, settling, p95 recovery."""
    changes = load_changes(summary)
    if not changes:
        return ""
    rows = []
    for change in changes:
        before, after = number(change.get("before")), number(change.get("after"))
        load = f"{format_number(before)} → {format_number(after)}"
        notes = []
        if change.get("capped"):
            notes.append("capped at min/max replicas")
        if number(change.get("ready_s")) is None:
            notes.append("capacity never reached the desired count")
        rows.append(
            [
                esc(_change_label(change)),
                esc(change.get("phase", "")),
                esc(load),
                *[format_value(number(change.get(k)), "s") for k in ("reaction_s", "ready_s", "settling_s")],
                format_value(number(change.get("p95_recovery_s")), "s"),
                format_value(number(change.get("metrics_age_s")), "s"),
                esc("; ".join(notes)),
            ]
        )
    header = [
        "change",
        "phase",
        "planned load",
        "reaction",
        "ready capacity",
        "settled",
        "p95 recovered",
        "age of the metrics used",
        "notes",
    ]
    return table(header, rows)


def render_lag_section(summary: Mapping[str, Any]) -> str:
    bars = render_stacked_bars(lag_rows(summary), SEGMENTS, "s", empty_note="no load change with a scale response")
    return bars + changes_table(summary)
