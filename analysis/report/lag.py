"""The scale-lag breakdown section: for each load change, where the time from the change to ready
capacity went — waiting for the HPA sync, metrics delay, stabilization/policy hold, pod start →
ready — as a plotly chart of stacked horizontal bars (one per load change, then the run's
scale-up mean), with the same numbers as a plain HTML table (readable without JavaScript) and
the timing of every change.

The numbers come from summary.json (`load_changes[].lag` and the `lag_*` KPIs, built by
`hpabench.analysis.summary` / `analysis.scaling`); this module computes nothing itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from hpabench.analysis.report.figures import axis_style, base_layout, chart, f32, plot_text
from hpabench.analysis.report.htmlkit import esc, format_value, table
from hpabench.analysis.report.scales import format_elapsed, format_number
from hpabench.analysis.report.summaryview import kpis, number

ROW_PX = 30


@dataclass(frozen=True)
class Segment:
    key: str
    label: str
    color: str


@dataclass(frozen=True)
class BarRow:
    label: str
    parts: dict[str, float | None]  # segment key → seconds

    def total(self) -> float:
        return sum(v for v in self.parts.values() if v is not None and _drawable(v))


def _drawable(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


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


def lag_frame(rows: Sequence[BarRow]) -> pd.DataFrame:
    """One row per bar: `label`, one column per segment key (seconds, NaN = unknown), `total_s`."""
    frame = pd.DataFrame(
        [{"label": r.label, **{seg.key: _or_nan(r.parts.get(seg.key)) for seg in SEGMENTS}} for r in rows],
        columns=["label", *[seg.key for seg in SEGMENTS]],
    )
    frame["total_s"] = [r.total() for r in rows]
    return frame


def _or_nan(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) else math.nan


def lag_figure(frame: pd.DataFrame) -> go.Figure:
    """Stacked horizontal bars, one trace per segment (legend toggles a segment), first row on top."""
    labels = [plot_text(v) for v in frame["label"]]
    fig = go.Figure(
        layout=base_layout(
            barmode="stack",
            height=100 + ROW_PX * len(frame),
            hovermode="closest",
            margin={"l": 150, "r": 16, "t": 40, "b": 44},
            legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "font": {"size": 11}},
        )
    )
    for seg in SEGMENTS:
        values = frame[seg.key].where(frame[seg.key] > 0)
        fig.add_bar(
            x=f32(values),
            y=labels,
            orientation="h",
            name=plot_text(seg.label),
            marker={"color": seg.color},
            hovertemplate=f"%{{y}}<br>{plot_text(seg.label)}: %{{x:.3~g}} s<extra></extra>",
        )
    fig.add_scatter(
        x=f32(frame["total_s"]),
        y=labels,
        mode="text",
        text=[f"{format_number(v)} s" for v in frame["total_s"]],
        textposition="middle right",
        showlegend=False,
        hoverinfo="skip",
    )
    fig.update_xaxes(
        title={"text": "seconds from the load change", "font": {"size": 11}}, rangemode="tozero", **axis_style()
    )
    fig.update_yaxes(autorange="reversed", **axis_style())
    return fig


def lag_table(frame: pd.DataFrame) -> str:
    """The bars' numbers as a table (plain HTML)."""
    rows = [
        [esc(r["label"]), *[format_value(number(r[seg.key]), "s") for seg in SEGMENTS], format_value(r["total_s"], "s")]
        for r in frame.to_dict("records")
    ]
    return table(["change", *[seg.label for seg in SEGMENTS], "total"], rows, "lag")


def render_lag_section(summary: Mapping[str, Any]) -> str:
    rows = lag_rows(summary)
    if not rows:
        return '<p class="note">no load change with a scale response</p>' + changes_table(summary)
    frame = lag_frame(rows)
    figure = chart(lag_figure(frame), "lag-chart", label="Scale-lag breakdown")
    return figure + lag_table(frame) + changes_table(summary)
