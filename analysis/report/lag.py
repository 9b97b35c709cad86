"""The scale-up lag breakdown section: for each scale-up, where the time from the load change to
ready capacity went — metrics delay, waiting for the HPA sync, stabilization/policy hold, pod
start → ready — as stacked horizontal bars (one per scale-up, plus the run's mean).

The numbers come from the analysis API (`scale_lag_breakdown`) or, failing that, from the
summary's whole-run lag KPIs; this module computes nothing itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hpabench.analysis.report.bars import BarRow, Segment, render_stacked_bars
from hpabench.analysis.report.summaryview import kpis, number
from hpabench.analysis.rundata import RunData

SEGMENTS = (
    Segment("metrics_delay_s", "metrics delay", "#7c3aed"),
    Segment("sync_wait_s", "waiting for the HPA sync", "#0891b2"),
    Segment("hold_s", "stabilization / policy hold", "#ca8a04"),
    Segment("pod_start_to_ready_s", "pod start → ready", "#15803d"),
)
# summary KPI name → segment key, for the whole-run mean breakdown.
SUMMARY_KPIS = {
    "lag_metrics_delay_s": "metrics_delay_s",
    "lag_sync_wait_s": "sync_wait_s",
    "lag_hold_s": "hold_s",
    "lag_pod_start_to_ready_s": "pod_start_to_ready_s",
}


def rows_from_summary(summary: Mapping[str, Any]) -> list[BarRow]:
    entries = kpis(summary)
    parts: dict[str, float | None] = {}
    for name, key in SUMMARY_KPIS.items():
        entry = entries.get(name)
        parts[key] = number(entry.get("value")) if entry else None
    if all(v is None for v in parts.values()):
        return []
    return [BarRow("mean over scale-ups", parts)]


def lag_rows(run: RunData, summary: Mapping[str, Any]) -> list[BarRow]:
    return rows_from_summary(summary)


def render_lag_section(run: RunData, summary: Mapping[str, Any]) -> str:
    rows: Sequence[BarRow] = lag_rows(run, summary)
    return render_stacked_bars(rows, SEGMENTS, "s", empty_note="no scale-up in this run (no data)")
