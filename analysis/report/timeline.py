"""The shared-time-axis chart: stacked SVG panels that all use one x scale (seconds of load).

Why hand-written inline SVG rather than plotly.js: a report must open offline and stay small
and fast for a 1-hour run. Inline plotly.js is 4.8 MB per page before any data and needs
JavaScript (which CI artefact viewers with a strict Content-Security-Policy block); the SVG
page is a few hundred kB, draws with scripts disabled, and a tiny optional script adds the
hover read-out. Numbers measured in `python -m hpabench.analysis.report.benchmark`.

Contract: `render_timeline(panels, ...)` returns an HTML fragment (a <div>) in which every
user-provided string is escaped. Series are downsampled for drawing only (min/max per pixel
bucket, see `downsample`), NaN samples are gaps, a panel without data says "no data".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hpabench.analysis.report.downsample import FloatArray, as_float_array, minmax_downsample
from hpabench.analysis.report.htmlkit import esc, json_for_script
from hpabench.analysis.report.scales import (
    format_elapsed,
    format_tick,
    linear_ticks,
    log_ticks,
    time_ticks,
)

WIDTH_PX = 1100
MARGIN_LEFT_PX = 64
MARGIN_RIGHT_PX = 16
PANEL_HEIGHT_PX = 150
PLOT_TOP_PX = 8
PLOT_BOTTOM_PX = 22
EVENT_STRIP_HEIGHT_PX = 46
# One bucket per pixel column: more vertices than pixels cannot be seen.
DRAW_BUCKETS = WIDTH_PX - MARGIN_LEFT_PX - MARGIN_RIGHT_PX


@dataclass(frozen=True)
class Series:
    """One line. `t_s` seconds since load start, `y` in the panel's unit; NaN = no sample."""

    name: str
    t_s: FloatArray
    y: FloatArray
    color: str
    dash: str = ""  # SVG stroke-dasharray, e.g. "6 4"
    step: bool = False  # hold the value until the next sample (replica counts)
    width: float = 1.6
    legend_group: str = ""  # series sharing a group get one legend entry (per-pod lines)
    opacity: float = 1.0
    hover: bool = True  # listed in the hover read-out (off for many per-pod lines)


@dataclass(frozen=True)
class HLine:
    """A horizontal reference (an SLO, a request, a target) in the panel's unit."""

    y: float
    label: str
    color: str = "#b3261e"
    dash: str = "5 4"


@dataclass(frozen=True)
class Tick:
    """A point event drawn as a small triangle at the bottom of one panel (e.g. pod ready)."""

    t_s: float
    label: str
    color: str = "#2e7d32"


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    series: Sequence[Series] = ()
    hlines: Sequence[HLine] = ()
    ticks: Sequence[Tick] = ()
    log_y: bool = False
    y_floor: float | None = 0.0  # lower bound of the y range (None: from the data)
    empty_note: str = "no data"


@dataclass(frozen=True)
class Marker:
    """A run-wide event drawn across all panels: a scale decision or a load-stage boundary."""

    t_s: float
    label: str
    kind: str  # "scale_up" | "scale_down" | "stage" | "fault"
    detail: str = ""


@dataclass
class _XScale:
    t0_s: float
    t1_s: float
    x0_px: float = MARGIN_LEFT_PX
    x1_px: float = WIDTH_PX - MARGIN_RIGHT_PX

    def __call__(self, t_s: float) -> float:
        span = self.t1_s - self.t0_s or 1.0
        return self.x0_px + (t_s - self.t0_s) / span * (self.x1_px - self.x0_px)


@dataclass
class _YScale:
    lo: float
    hi: float
    log: bool
    top_px: float
    bottom_px: float
    ticks: list[float] = field(default_factory=list)

    def __call__(self, y: float) -> float:
        if self.log:
            y = math.log10(max(y, self.lo))
            lo, hi = math.log10(self.lo), math.log10(self.hi)
        else:
            lo, hi = self.lo, self.hi
        frac = (y - lo) / (hi - lo or 1.0)
        return self.bottom_px - frac * (self.bottom_px - self.top_px)


MARKER_COLORS = {"scale_up": "#c2410c", "scale_down": "#1d4ed8", "stage": "#9ca3af", "fault": "#b3261e"}


def render_timeline(
    panels: Sequence[Panel],
    t_min_s: float,
    t_max_s: float,
    markers: Sequence[Marker] = (),
    chart_id: str = "timeline",
) -> str:
    """All panels stacked on one shared x axis [t_min_s, t_max_s], with run-wide markers."""
    if not (math.isfinite(t_min_s) and math.isfinite(t_max_s)) or t_max_s <= t_min_s:
        t_min_s, t_max_s = 0.0, max(t_max_s, 1.0) if math.isfinite(t_max_s) else 1.0
    xs = _XScale(t_min_s, t_max_s)
    parts = [f'<div class="timeline" id="{esc(chart_id)}">']
    if markers:
        parts.append(_event_strip(xs, markers))
    hover_data: list[dict[str, object]] = []
    for index, panel in enumerate(panels):
        svg, data = _panel_svg(panel, xs, markers, index)
        parts.append(_legend(panel))
        parts.append(svg)
        hover_data.append(data)
    parts.append(f'<script type="application/json" class="timeline-data">{json_for_script(hover_data)}</script>')
    parts.append("</div>")
    return "\n".join(parts)


def _event_strip(xs: _XScale, markers: Sequence[Marker]) -> str:
    """Stage names and scale decisions along the top, so vertical lines below have labels."""
    h = EVENT_STRIP_HEIGHT_PX
    out = [f'<svg class="tl-strip" viewBox="0 0 {WIDTH_PX} {h}" role="img" aria-label="run events">']
    stages = sorted((m for m in markers if m.kind == "stage"), key=lambda m: m.t_s)
    for i, m in enumerate(stages):
        x = xs(m.t_s)
        end = xs(stages[i + 1].t_s) if i + 1 < len(stages) else xs.x1_px
        if end <= xs.x0_px or x >= xs.x1_px:
            continue
        x = max(x, xs.x0_px)
        shade = "#f3f4f6" if i % 2 == 0 else "#e5e7eb"
        out.append(
            f'<rect x="{x:.1f}" y="0" width="{max(end - x, 0):.1f}" height="18" fill="{shade}">'
            f"<title>{esc(m.label)} from {format_elapsed(m.t_s)}</title></rect>"
        )
        if end - x > 40:
            out.append(
                f'<text x="{x + 4:.1f}" y="13" class="tl-stage" textLength="{min(end - x - 8, 7 * len(m.label)):.0f}"'
                f' lengthAdjust="spacingAndGlyphs">{esc(m.label)}</text>'
            )
    last_label_x = -1e9
    for m in sorted((m for m in markers if m.kind != "stage"), key=lambda m: m.t_s):
        x = xs(m.t_s)
        if not xs.x0_px <= x <= xs.x1_px:
            continue
        color = MARKER_COLORS.get(m.kind, "#6b7280")
        up = m.kind == "scale_up"
        path = (
            f"M{x - 5:.1f},38 L{x + 5:.1f},38 L{x:.1f},29 Z" if up else f"M{x - 5:.1f},29 L{x + 5:.1f},29 L{x:.1f},38 Z"
        )
        title = f"{format_elapsed(m.t_s)} {m.label}" + (f" — {m.detail}" if m.detail else "")
        out.append(f'<path d="{path}" fill="{color}"><title>{esc(title)}</title></path>')
        if x - last_label_x > 34:  # skip labels that would overlap the previous one
            out.append(f'<text x="{x:.1f}" y="27" class="tl-mark" fill="{color}">{esc(m.label)}</text>')
            last_label_x = x
    out.append("</svg>")
    return "".join(out)


def _legend(panel: Panel) -> str:
    items: list[str] = []
    seen: set[str] = set()
    for s in panel.series:
        key = s.legend_group or s.name
        if key in seen:
            continue
        seen.add(key)
        dash = f' stroke-dasharray="{esc(s.dash)}"' if s.dash else ""
        swatch = (
            f'<svg width="22" height="8" aria-hidden="true"><line x1="1" y1="4" x2="21" y2="4" '
            f'stroke="{esc(s.color)}" stroke-width="2.5"{dash}/></svg>'
        )
        items.append(f'<span class="lg">{swatch}{esc(key)}</span>')
    for h in panel.hlines:
        items.append(
            f'<span class="lg"><svg width="22" height="8" aria-hidden="true"><line x1="1" y1="4" x2="21" y2="4" '
            f'stroke="{esc(h.color)}" stroke-width="1.5" stroke-dasharray="{esc(h.dash)}"/></svg>{esc(h.label)}</span>'
        )
    if panel.ticks:
        items.append('<span class="lg"><span class="tri">▲</span>pod ready</span>')
    unit = f' <span class="unit">({esc(panel.unit)})</span>' if panel.unit else ""
    return f'<div class="tl-head"><span class="tl-title">{esc(panel.title)}</span>{unit}{"".join(items)}</div>'


def _y_range(panel: Panel, drawn: list[tuple[FloatArray, FloatArray]]) -> tuple[float, float]:
    values = [y[np.isfinite(y)] for _, y in drawn]
    values += [np.asarray([h.y], dtype=np.float64) for h in panel.hlines if math.isfinite(h.y)]
    stacked = np.concatenate(values) if values else np.empty(0)
    if panel.log_y:
        stacked = stacked[stacked > 0]
    if stacked.size == 0:
        return (0.0, 1.0) if not panel.log_y else (1.0, 10.0)
    lo, hi = float(stacked.min()), float(stacked.max())
    if panel.y_floor is not None and not panel.log_y:
        lo = min(lo, panel.y_floor)
    return lo, hi * (1.04 if hi > 0 else 1.0)


def _panel_svg(panel: Panel, xs: _XScale, markers: Sequence[Marker], index: int) -> tuple[str, dict[str, object]]:
    h = PANEL_HEIGHT_PX
    top, bottom = PLOT_TOP_PX, h - PLOT_BOTTOM_PX
    drawn: list[tuple[FloatArray, FloatArray]] = []
    for s in panel.series:
        t = as_float_array(s.t_s)
        y = as_float_array(s.y)
        inside = (t >= xs.t0_s) & (t <= xs.t1_s)
        drawn.append(minmax_downsample(t[inside], y[inside], DRAW_BUCKETS, xs.t0_s, xs.t1_s))
    has_data = any(np.isfinite(y).any() for _, y in drawn)
    lo, hi = _y_range(panel, drawn)
    if panel.log_y:
        lo, hi, yticks = log_ticks(lo, hi)
    else:
        lo, hi, yticks = linear_ticks(lo, hi)
    ys = _YScale(lo, hi, panel.log_y, top, bottom, yticks)

    out = [
        f'<svg class="tl-panel" data-panel="{index}" viewBox="0 0 {WIDTH_PX} {h}" role="img" '
        f'aria-label="{esc(panel.title)}" data-x0="{xs.x0_px}" data-x1="{xs.x1_px}" '
        f'data-t0="{xs.t0_s:.3f}" data-t1="{xs.t1_s:.3f}">'
    ]
    out.append(f'<rect class="tl-bg" x="{xs.x0_px}" y="{top}" width="{xs.x1_px - xs.x0_px}" height="{bottom - top}"/>')
    for tick in yticks:
        y_px = ys(tick)
        out.append(f'<line class="grid" x1="{xs.x0_px}" x2="{xs.x1_px}" y1="{y_px:.1f}" y2="{y_px:.1f}"/>')
        out.append(f'<text class="yt" x="{xs.x0_px - 6}" y="{y_px + 4:.1f}">{esc(format_tick(tick))}</text>')
    with_hours = max(abs(xs.t0_s), abs(xs.t1_s)) >= 3600
    for tick_s in time_ticks(xs.t0_s, xs.t1_s):
        x_px = xs(tick_s)
        # Keep the first/last label inside the chart instead of clipped at the edge.
        anchor = ' style="text-anchor:end"' if x_px > xs.x1_px - 20 else ""
        out.append(f'<line class="grid" x1="{x_px:.1f}" x2="{x_px:.1f}" y1="{top}" y2="{bottom}"/>')
        out.append(f'<text class="xt" x="{x_px:.1f}" y="{h - 6}"{anchor}>{format_elapsed(tick_s, with_hours)}</text>')
    for m in markers:
        x_px = xs(m.t_s)
        if xs.x0_px <= x_px <= xs.x1_px:
            cls = "mk-stage" if m.kind == "stage" else "mk-event"
            color = MARKER_COLORS.get(m.kind, "#6b7280")
            out.append(
                f'<line class="{cls}" x1="{x_px:.1f}" x2="{x_px:.1f}" y1="{top}" y2="{bottom}" stroke="{color}"/>'
            )
    out.append(
        f'<svg x="{xs.x0_px}" y="{top}" width="{xs.x1_px - xs.x0_px}" height="{bottom - top}" overflow="hidden">'
    )
    out.append(f'<g transform="translate({-xs.x0_px},{-top})">')
    for hline in panel.hlines:
        if lo <= hline.y <= hi:
            y_px = ys(hline.y)
            out.append(
                f'<line x1="{xs.x0_px}" x2="{xs.x1_px}" y1="{y_px:.1f}" y2="{y_px:.1f}" stroke="{esc(hline.color)}" '
                f'stroke-width="1.2" stroke-dasharray="{esc(hline.dash)}"><title>{esc(hline.label)}</title></line>'
            )
    hover_series: list[dict[str, object]] = []
    for s, (t, y) in zip(panel.series, drawn, strict=True):
        d = _path_data(t, y, xs, ys, s.step)
        if d:
            dash = f' stroke-dasharray="{esc(s.dash)}"' if s.dash else ""
            opacity = f' stroke-opacity="{s.opacity:g}"' if s.opacity < 1 else ""
            out.append(
                f'<path class="ln" d="{d}" stroke="{esc(s.color)}" stroke-width="{s.width:g}"{dash}{opacity}>'
                f"<title>{esc(s.name)}</title></path>"
            )
        if s.hover:
            hover_series.append({"name": s.name, "color": s.color, "t": _rounded(t), "y": _rounded(y)})
    out.append("</g></svg>")
    for tk in panel.ticks:
        x_px = xs(tk.t_s)
        if xs.x0_px <= x_px <= xs.x1_px:
            out.append(
                f'<path d="M{x_px - 4:.1f},{bottom:.1f} L{x_px + 4:.1f},{bottom:.1f} L{x_px:.1f},{bottom - 8:.1f} Z" '
                f'fill="{esc(tk.color)}" fill-opacity="0.8"><title>{esc(tk.label)}</title></path>'
            )
    if not has_data:
        out.append(
            f'<text class="nodata" x="{(xs.x0_px + xs.x1_px) / 2:.0f}" y="{(top + bottom) / 2 + 5:.0f}">'
            f"{esc(panel.empty_note)}</text>"
        )
    out.append(
        f'<line class="xhair" x1="0" x2="0" y1="{top}" y2="{bottom}" visibility="hidden"/>'
        f'<rect class="tl-hit" x="{xs.x0_px}" y="{top}" width="{xs.x1_px - xs.x0_px}" height="{bottom - top}"/>'
    )
    out.append("</svg>")
    return "".join(out), {"unit": panel.unit, "series": hover_series}


def _path_data(t: FloatArray, y: FloatArray, xs: _XScale, ys: _YScale, step: bool) -> str:
    """SVG path `d` for one series; NaN breaks the line; step series hold each value."""
    if t.size == 0:
        return ""
    finite = np.isfinite(y)
    if ys.log:
        finite &= y > 0
    span = xs.t1_s - xs.t0_s or 1.0
    x_px = xs.x0_px + (t - xs.t0_s) / span * (xs.x1_px - xs.x0_px)
    if ys.log:
        lo, hi = math.log10(ys.lo), math.log10(ys.hi)
        frac = (np.log10(np.where(finite, y, ys.lo)) - lo) / (hi - lo or 1.0)
    else:
        frac = (np.where(finite, y, ys.lo) - ys.lo) / (ys.hi - ys.lo or 1.0)
    y_px = ys.bottom_px - frac * (ys.bottom_px - ys.top_px)
    commands: list[str] = []
    pen_down = False
    for i in range(t.size):
        if not finite[i]:
            pen_down = False
            continue
        x, yv = x_px[i], y_px[i]
        if not pen_down:
            commands.append(f"M{x:.1f} {yv:.1f}")
            pen_down = True
        elif step:
            commands.append(f"H{x:.1f}V{yv:.1f}")
        else:
            commands.append(f"L{x:.1f} {yv:.1f}")
    return "".join(commands)


def _rounded(values: FloatArray) -> list[float | None]:
    """JSON-safe list for the hover read-out: 4 significant digits, NaN → null."""
    return [float(f"{v:.4g}") if math.isfinite(v) else None for v in values.tolist()]


__all__ = ["HLine", "Marker", "Panel", "Series", "Tick", "render_timeline"]
