"""The shared-time-axis chart: `Panel`s stacked as subplots of one plotly figure whose x axes
all match the first, so zooming or panning one panel moves every panel; run-wide markers shade
the load stages and draw scale decisions across all panels; scenario events (`spans`) are shaded
from their start to their end across all panels in their kind's colour (`panels.event_color`),
their kind written at the top of the span (hover: name, state); buttons select a stage's range.

Contract: `timeline_figure(panels, t_min_s, t_max_s, markers, ..., spans=()) -> (Figure, Reduction)`.
Lines are reduced for drawing only (min and max per pixel column, `downsample`), NaN samples
are gaps, a panel without data says so, every user string is escaped (`figures.plot_text`).
`Reduction` counts samples in and points drawn, so the page can say how much was reduced.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from hpabench.analysis.report.downsample import as_float_array, minmax_downsample
from hpabench.analysis.report.figures import axis_style, base_layout, f32, plot_text, time_axis, time_ms, time_ms_at
from hpabench.analysis.report.panels import Marker, Panel, Series, Span, event_color
from hpabench.analysis.report.scales import format_elapsed

# About one bucket per pixel column of a ~1100 px wide page: more points cannot be seen.
DRAW_BUCKETS = 1000
PANEL_HEIGHT_PX = 190
GAP_PX = 46  # room between panels for the x tick labels and the next panel's title
TOP_PX = 88  # the stage buttons, then the stage names, then the first panel title
LEGEND_PX = 200  # right margin holding each panel's legend
MAX_STAGE_BUTTONS = 10
MARKER_COLORS = {"scale_up": "#c2410c", "scale_down": "#1d4ed8", "fault": "#b3261e"}
STAGE_SHADES = ("rgba(243,244,246,0.9)", "rgba(229,231,235,0.55)")
SPAN_ALPHA = 0.14
SPAN_LABEL_ROW_PX = 14  # overlapping spans write their labels one row lower each
SPAN_SHAPE_PREFIX = "event:"  # shape `name`s of event spans (tests and the page find them by it)


@dataclass(frozen=True)
class Reduction:
    """Samples given and points drawn over all reduced lines; `bucket_s` is one pixel's time."""

    samples: int
    drawn: int
    bucket_s: float

    @property
    def reduced(self) -> bool:
        return self.drawn < self.samples

    def describe(self) -> str:
        if not self.reduced:
            return ""
        return (
            f"Lines are drawn from the minimum and maximum of every {self.bucket_s:.2g} s "
            f"({self.samples:,} samples → {self.drawn:,} points), so spikes stay visible; zooming in "
            "shows the same points. Every number in the cards and tables uses the full data."
        )


def _axis_name(kind: str, index: int) -> str:
    return kind if index == 0 else f"{kind}{index + 1}"


def _line_trace(s: Series, t0_s: float, t1_s: float, ref: dict[str, str], unit: str, fmt: str) -> tuple[Any, int, int]:
    t, y = as_float_array(s.t_s), as_float_array(s.y)
    inside = (t >= t0_s) & (t <= t1_s)
    t, y = t[inside], y[inside]
    samples = int(t.size)
    if not s.stack:
        t, y = minmax_downsample(t, y, DRAW_BUCKETS, t0_s, t1_s)
    trace = go.Scatter(
        x=time_ms(t),
        y=f32(y),
        mode="lines",
        name=plot_text(s.name),
        line={"color": s.color, "width": s.width, "dash": s.dash, "shape": "hv" if s.step else "linear"},
        opacity=s.opacity,
        hovertemplate=f"%{{y:{fmt}}} {plot_text(unit)}",
        visible=True if s.visible else "legendonly",
        connectgaps=False,
        **ref,
    )
    if s.stack:
        trace.update(stackgroup=f"stack-{ref['yaxis']}", line={"width": 0.5, "shape": "linear"}, fillcolor=s.color)
    return trace, samples, int(t.size)


def _panel_traces(panel: Panel, index: int, t0_s: float, t1_s: float, legend: str) -> tuple[list[Any], int, int]:
    """The traces of one panel (bands, lines, references, points) and (samples, drawn)."""
    ref = {"xaxis": _axis_name("x", index), "yaxis": _axis_name("y", index), "legend": legend}
    traces: list[Any] = []
    samples = drawn = 0
    for band in panel.bands:
        t = as_float_array(band.t_s)
        common = {"legendgroup": plot_text(band.legend_group or band.name), "hoverinfo": "skip", **ref}
        traces.append(
            go.Scatter(x=time_ms(t), y=f32(band.low), mode="lines", line={"width": 0}, showlegend=False, **common)
        )
        traces.append(
            go.Scatter(
                x=time_ms(t),
                y=f32(band.high),
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=_translucent(band.color),
                name=plot_text(band.name),
                showlegend=not band.legend_group,
                **common,
            )
        )
    seen_groups: set[str] = set()
    for s in panel.series:
        trace, n_in, n_out = _line_trace(s, t0_s, t1_s, ref, panel.unit, panel.value_format)
        samples, drawn = samples + n_in, drawn + n_out
        if s.legend_group:
            trace.update(legendgroup=plot_text(s.legend_group), legendgrouptitle=None)
            if s.legend_group in seen_groups:
                trace.update(showlegend=False)
            else:
                trace.update(name=plot_text(s.legend_group))
            seen_groups.add(s.legend_group)
        traces.append(trace)
    for h in panel.hlines:
        traces.append(
            go.Scatter(
                x=time_ms(np.array([t0_s, t1_s])),
                y=f32([h.y, h.y]),
                mode="lines",
                name=plot_text(h.label),
                line={"color": h.color, "width": 1.2, "dash": h.dash},
                hoverinfo="skip",
                **ref,
            )
        )
    for p in panel.points:
        traces.append(
            go.Scatter(
                x=time_ms(as_float_array(p.t_s)),
                y=f32(p.y),
                mode="markers",
                name=plot_text(p.name),
                marker={"color": p.color, "symbol": p.symbol, "size": p.size, "line": {"width": 1, "color": "#fff"}},
                text=[plot_text(h) for h in p.hover],
                hovertemplate="%{text}<extra></extra>",
                **ref,
            )
        )
    return traces, samples, drawn


def _translucent(color: str, alpha: float = 0.18) -> str:
    """`#rrggbb` → rgba with `alpha` (band fill); other colour strings are kept."""
    if len(color) == 7 and color.startswith("#"):
        r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
        return f"rgba({r},{g},{b},{alpha})"
    return color


def _has_data(panel: Panel) -> bool:
    arrays = [s.y for s in panel.series] + [p.y for p in panel.points] + [b.high for b in panel.bands]
    return any(np.isfinite(as_float_array(a)).any() for a in arrays if len(a))


def _stage_decor(
    markers: Sequence[Marker], t0_s: float, t1_s: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, float, float]]]:
    """Stage shading (shapes), stage names (annotations) and scale/fault lines (shapes)."""
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    stages = sorted((m for m in markers if m.kind == "stage" and t0_s <= m.t_s < t1_s), key=lambda m: m.t_s)
    ranges: list[tuple[str, float, float]] = []
    for i, m in enumerate(stages):
        end = stages[i + 1].t_s if i + 1 < len(stages) else t1_s
        ranges.append((m.label, m.t_s, end))
        x0, x1 = time_ms_at(m.t_s), time_ms_at(end)
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": x0,
                "x1": x1,
                "y0": 0,
                "y1": 1,
                "layer": "below",
                "fillcolor": STAGE_SHADES[i % 2],
                "line": {"width": 0},
            }
        )
        notes.append(
            {
                "xref": "x",
                "yref": "paper",
                "x": x0,
                "y": 1,
                "xanchor": "left",
                "yanchor": "bottom",
                "text": plot_text(m.label),
                "showarrow": False,
                "font": {"size": 11, "color": "#374151"},
                "yshift": 18,
            }
        )
    for m in markers:
        if m.kind == "stage" or not t0_s <= m.t_s <= t1_s:
            continue
        x = time_ms_at(m.t_s)
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": x,
                "x1": x,
                "y0": 0,
                "y1": 1,
                "layer": "below",
                "line": {
                    "color": MARKER_COLORS.get(m.kind, "#6b7280"),
                    "width": 1,
                    "dash": "dot" if m.kind == "fault" else "solid",
                },
                "opacity": 0.4,
            }
        )
    return shapes, notes, ranges


def _span_decor(spans: Sequence[Span], t0_s: float, t1_s: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A shaded rectangle over every panel per scenario event (clipped to the range) and its label."""
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    row_ends: list[float] = []  # per label row, where its last span ends
    for span in sorted(spans, key=lambda s: (s.t0_s, s.t1_s)):
        lo, hi = max(span.t0_s, t0_s), min(span.t1_s, t1_s)
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo or lo > t1_s:
            continue
        color = event_color(span.kind)
        shapes.append(
            {
                "type": "rect",
                "name": plot_text(f"{SPAN_SHAPE_PREFIX}{span.label}"),
                "xref": "x",
                "yref": "paper",
                "x0": time_ms_at(lo),
                "x1": time_ms_at(hi),
                "y0": 0,
                "y1": 1,
                "layer": "below",
                "fillcolor": _translucent(color, SPAN_ALPHA),
                "line": {"width": 1, "color": _translucent(color, 0.5)},
            }
        )
        row = next((i for i, end in enumerate(row_ends) if end <= lo), len(row_ends))
        if row == len(row_ends):
            row_ends.append(hi)
        else:
            row_ends[row] = hi
        notes.append(
            {
                "xref": "x",
                "yref": "paper",
                "x": time_ms_at(lo),
                "y": 1,
                "xanchor": "left",
                "yanchor": "top",
                "yshift": -2 - row * SPAN_LABEL_ROW_PX,
                "text": plot_text(span.label),
                "hovertext": plot_text(span.detail or span.label),
                "showarrow": False,
                "font": {"size": 10, "color": color},
                "bgcolor": "rgba(255,255,255,0.75)",
            }
        )
    return shapes, notes


def _stage_buttons(ranges: list[tuple[str, float, float]], t0_s: float, t1_s: float, y: float) -> list[dict[str, Any]]:
    """One button per load stage zooming every panel to it, and one back to the whole run; the
    row's top at `y` (plot-area fraction: above 1 is the top margin)."""
    if not ranges:
        return []

    def args(lo: float, hi: float) -> list[dict[str, Any]]:
        return [{"xaxis.range": [time_ms_at(lo), time_ms_at(hi)]}]

    buttons = [{"label": "whole run", "method": "relayout", "args": args(t0_s, t1_s)}]
    buttons += [
        {
            "label": plot_text(f"{name} ({format_elapsed(lo)}–{format_elapsed(hi)})"),
            "method": "relayout",
            "args": args(lo, hi),
        }
        for name, lo, hi in ranges
    ]
    kind = "buttons" if len(buttons) <= MAX_STAGE_BUTTONS else "dropdown"
    return [
        {
            "type": kind,
            "direction": "right" if kind == "buttons" else "down",
            "x": 0,
            "xanchor": "left",
            "y": y,
            "yanchor": "top",
            "pad": {"t": 4, "l": 4},
            "showactive": True,
            "buttons": buttons,
            "font": {"size": 11},
            "bgcolor": "#fff",
            "bordercolor": "#d1d5db",
        }
    ]


def timeline_figure(
    panels: Sequence[Panel],
    t_min_s: float,
    t_max_s: float,
    markers: Sequence[Marker] = (),
    *,
    one_legend: bool = False,
    spans: Sequence[Span] = (),
) -> tuple[go.Figure, Reduction]:
    """All panels stacked on one shared x axis [t_min_s, t_max_s] (see the module docstring).
    `one_legend`: a single legend whose groups toggle in every panel (comparisons); else one
    legend beside each panel. `spans`: scenario events shaded across every panel."""
    if not (math.isfinite(t_min_s) and math.isfinite(t_max_s)) or t_max_s <= t_min_s:
        t_min_s, t_max_s = 0.0, max(t_max_s, 1.0) if math.isfinite(t_max_s) else 1.0
    n = max(len(panels), 1)
    height = TOP_PX + n * PANEL_HEIGHT_PX + (n - 1) * GAP_PX + 40
    layout = base_layout(
        height=height,
        hovermode="x unified",
        margin={"l": 64, "r": LEGEND_PX, "t": TOP_PX, "b": 40},
        showlegend=True,
    )
    traces: list[Any] = []
    annotations: list[dict[str, Any]] = []
    samples = drawn = 0
    plot_h = height - TOP_PX - 40
    for i, panel in enumerate(panels):
        top_px = i * (PANEL_HEIGHT_PX + GAP_PX)
        domain = [1 - (top_px + PANEL_HEIGHT_PX) / plot_h, 1 - top_px / plot_h]
        domain = [max(0.0, domain[0]), min(1.0, domain[1])]
        x_name, y_name = _axis_name("xaxis", i), _axis_name("yaxis", i)
        x_axis = time_axis(t_max_s - t_min_s) | {"anchor": _axis_name("y", i), "showticklabels": True}
        x_axis["range"] = [time_ms_at(t_min_s), time_ms_at(t_max_s)]
        if i:
            x_axis["matches"] = "x"
        layout[x_name] = x_axis
        y_axis: dict[str, Any] = {"domain": domain, "anchor": _axis_name("x", i), **axis_style()}
        y_axis["title"] = {"text": plot_text(panel.unit), "font": {"size": 11, "color": "#6b7280"}}
        if panel.log_y:
            y_axis["type"] = "log"
        elif panel.y_floor is not None:
            y_axis["rangemode"] = "tozero" if panel.y_floor == 0 else "normal"
        if any(s.stack for s in panel.series):
            y_axis["range"] = [0, 100]
        layout[y_name] = y_axis
        legend = "legend" if one_legend or i == 0 else f"legend{i + 1}"
        if not one_legend or i == 0:
            layout[legend] = {
                "x": 1.01,
                "xanchor": "left",
                "y": domain[1],
                "yanchor": "top",
                "font": {"size": 11},
                "bgcolor": "rgba(255,255,255,0.85)",
                "tracegroupgap": 2,
                "groupclick": "togglegroup",
            }
        title = f"<b>{plot_text(panel.title)}</b>" + (
            f"  <span style='color:#6b7280'>{plot_text(panel.note)}</span>" if panel.note else ""
        )
        annotations.append(
            {
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": domain[1],
                "xanchor": "left",
                "yanchor": "bottom",
                "text": title,
                "showarrow": False,
                "font": {"size": 13},
                "yshift": 2,
            }
        )
        if not _has_data(panel):
            annotations.append(
                {
                    "xref": f"{_axis_name('x', i)} domain",
                    "yref": f"{_axis_name('y', i)} domain",
                    "x": 0.5,
                    "y": 0.5,
                    "text": f"<i>{plot_text(panel.empty_note)}</i>",
                    "showarrow": False,
                    "font": {"size": 14, "color": "#9ca3af"},
                }
            )
        panel_traces, n_in, n_out = _panel_traces(panel, i, t_min_s, t_max_s, legend)
        if one_legend and i:
            for trace in panel_traces:
                trace.update(showlegend=False)
        traces += panel_traces
        samples, drawn = samples + n_in, drawn + n_out
    shapes, stage_notes, ranges = _stage_decor(markers, t_min_s, t_max_s)
    span_shapes, span_notes = _span_decor(spans, t_min_s, t_max_s)
    layout["shapes"] = shapes + span_shapes  # after the stage shading: drawn over it, under the data
    layout["annotations"] = annotations + stage_notes + span_notes
    layout["updatemenus"] = _stage_buttons(ranges, t_min_s, t_max_s, 1 + (TOP_PX - 4) / plot_h)
    fig = go.Figure(data=traces, layout=layout)
    return fig, Reduction(samples, drawn, (t_max_s - t_min_s) / DRAW_BUCKETS)


__all__ = ["DRAW_BUCKETS", "Reduction", "timeline_figure"]
