"""Plotly figures on a report page: the one place that turns a `plotly.graph_objects.Figure`
into an HTML fragment, plus the shared look (layout, axes, time axis) and text escaping.
Any page (run, comparison, a future study page) builds a Figure and passes it to `chart`.

Contract:
* `plot_text(s)` escapes a raw user string for plotly's pseudo-HTML (names, hover text,
  annotations, button labels): plotly renders entities as text, so `<b>` stays literal.
* `figure_json(fig)` is JSON safe inside <script type="application/json">: `<`, `>`, `&`,
  U+2028 and U+2029 are \\u-escaped, so no string in the figure can end the element.
* `chart(fig, chart_id, ...)` returns <figure> with a note that the chart needs JavaScript, an
  empty plot <div> the page's boot script fills (removing the note), the figure JSON and a
  caption (plain HTML). The note is a plain element, not <noscript>: a viewer that blocks
  scripts by Content-Security-Policy still runs "with scripting" and would hide <noscript>.
  The page shell (`htmlkit.page`) loads plotly.js and draws every such chart.
* numeric arrays are sent as float32 typed arrays (plotly's base64 `bdata`): half the bytes of
  float64 with more precision than a pixel; time is milliseconds since the load started, from
  `ORIGIN_MS`, on a date axis (`time_ms`), so ticks and hover read as m:ss or h:mm:ss.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from hpabench.analysis.report.downsample import FloatArray
from hpabench.analysis.report.htmlkit import esc, script_safe

FONT = 'system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif'
GRID = "#eef0f3"
AXIS_LINE = "#d1d5db"
MS_PER_S = 1000.0
# The load's start is drawn at 1970-01-02 00:00:00 of the date axis, not at the epoch: plotly
# first reads a number on a date axis as a date string, so values of 2 or 4 digits (10–99 ms,
# 1–9.999 s) would become years. From one day on every value has 8+ digits, and float32 still
# resolves 8 ms (up to ~24 h; hours of the tick labels wrap after that).
ORIGIN_MS = 86_400_000.0
NO_SCRIPT_NOTE = (
    "This chart is interactive and needs JavaScript, which is blocked here. "
    "The numbers are in the cards and tables of this page."
)


def plot_text(value: object) -> str:
    """A raw string made literal in plotly text (newlines become line breaks)."""
    return html.escape(str(value), quote=False).replace("\n", "<br>")


def figure_json(fig: go.Figure) -> str:
    """The figure's JSON, safe inside a <script type="application/json"> element."""
    return script_safe(pio.to_json(fig, validate=False, remove_uids=True))


def f32(values: object) -> npt.NDArray[np.float32]:
    """Values as float32 (compact typed array in the figure JSON); NaN stays NaN (a gap)."""
    return np.asarray(values, dtype=np.float32)


def time_ms(t_s: FloatArray) -> npt.NDArray[np.float32]:
    """Seconds since the load started → x values of the date axis (ms, from `ORIGIN_MS`)."""
    return f32(ORIGIN_MS + np.asarray(t_s, dtype=np.float64) * MS_PER_S)


def time_ms_at(t_s: float) -> float:
    """One time (a range end, a shape's edge) on the date axis, at full precision."""
    return ORIGIN_MS + float(t_s) * MS_PER_S


def time_axis(span_s: float) -> dict[str, Any]:
    """A date axis that reads as elapsed time: m:ss, or h:mm:ss for runs of an hour or more."""
    fmt = "%-H:%M:%S" if span_s >= 3600 else "%-M:%S"
    return {
        "type": "date",
        "tickformat": fmt,
        "hoverformat": "%-H:%M:%S",  # the data is per second; float32 x is exact to 8 ms
        **axis_style(),
    }


def axis_style() -> dict[str, Any]:
    return {
        "gridcolor": GRID,
        "linecolor": AXIS_LINE,
        "showline": True,
        "zeroline": False,
        "ticks": "outside",
        "ticklen": 3,
        "tickcolor": AXIS_LINE,
        "tickfont": {"size": 11, "color": "#6b7280"},
    }


def base_layout(**overrides: Any) -> dict[str, Any]:
    """The reports' common layout (no template: a few explicit settings keep the JSON small)."""
    layout: dict[str, Any] = {
        "template": "none",
        "font": {"family": FONT, "size": 12, "color": "#1f2937"},
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "margin": {"l": 64, "r": 16, "t": 24, "b": 36},
        "hoverlabel": {"font": {"family": FONT, "size": 12}, "namelength": -1},
        "legend": {"font": {"size": 11}, "bgcolor": "rgba(255,255,255,0.8)"},
    }
    layout.update(overrides)
    return layout


def chart(fig: go.Figure, chart_id: str, *, label: str, caption: str = "") -> str:
    """The HTML of one chart (see the module docstring); `label` names it for screen readers."""
    data_id = f"{chart_id}-figure"
    caption_html = f'<figcaption class="note">{esc(caption)}</figcaption>' if caption else ""
    return (
        f'<figure class="chart" id="{esc(chart_id)}">'
        f'<p class="nojs">{esc(label)}: {esc(NO_SCRIPT_NOTE)}</p>'
        f'<div class="plot" data-figure="{esc(data_id)}" role="img" aria-label="{esc(label)}"></div>'
        f'<script type="application/json" id="{esc(data_id)}">{figure_json(fig)}</script>'
        f"{caption_html}</figure>"
    )


def pareto_front(x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Mask of the points no other point beats on both (lower x and lower y are better)."""
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(xs) & np.isfinite(ys)
    front = np.zeros(xs.size, dtype=bool)
    for i in np.flatnonzero(ok):
        beaten = ok & (xs <= xs[i]) & (ys <= ys[i]) & ((xs < xs[i]) | (ys < ys[i]))
        front[i] = not beaten.any()
    return front


def pareto_scatter(
    frame: pd.DataFrame, x: str, y: str, name: str, *, x_title: str, y_title: str, group: str | None = None
) -> go.Figure:
    """A scatter of one point per row (a run of a study), hover naming the run, the Pareto front
    (lower is better on both axes) joined by a line. `frame` columns `x`, `y`, `name`, `group`."""
    fig = go.Figure(layout=base_layout(hovermode="closest", height=420))
    groups = [("", frame)] if group is None else list(frame.groupby(group, sort=False))
    for key, rows in groups:
        fig.add_scatter(
            x=f32(rows[x]),
            y=f32(rows[y]),
            mode="markers",
            name=plot_text(key or "runs"),
            text=[plot_text(v) for v in rows[name]],
            marker={"size": 9},
            hovertemplate=f"%{{text}}<br>{plot_text(x_title)}: %{{x:.4~g}}<br>{plot_text(y_title)}: %{{y:.4~g}}"
            "<extra></extra>",
        )
    mask = pareto_front(frame[x].to_numpy(), frame[y].to_numpy())
    front = frame[mask].sort_values(x)
    fig.add_scatter(
        x=f32(front[x]),
        y=f32(front[y]),
        mode="lines",
        name="Pareto front",
        line={"color": "#6b7280", "dash": "dot"},
        hoverinfo="skip",
    )
    fig.update_xaxes(title={"text": plot_text(x_title)}, **axis_style())
    fig.update_yaxes(title={"text": plot_text(y_title)}, **axis_style())
    return fig


__all__ = [
    "axis_style",
    "base_layout",
    "chart",
    "f32",
    "figure_json",
    "pareto_front",
    "pareto_scatter",
    "plot_text",
    "time_axis",
    "time_ms",
    "time_ms_at",
]
