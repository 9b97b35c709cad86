"""Horizontal stacked bars in inline SVG: the scale-lag breakdown (where the time of each scale-up
went: metrics delay, waiting for the sync, stabilization/policy hold, pod start → ready).

Contract: `render_stacked_bars(rows, segments, unit)` returns an HTML fragment; labels are
escaped; missing (None/NaN) or negative parts draw nothing; an empty row list says "no data".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hpabench.analysis.report.htmlkit import esc
from hpabench.analysis.report.scales import format_number, format_tick, linear_ticks

WIDTH_PX = 1100
LABEL_PX = 190
RIGHT_PX = 70
ROW_PX = 24
AXIS_PX = 26


@dataclass(frozen=True)
class Segment:
    key: str
    label: str
    color: str


@dataclass(frozen=True)
class BarRow:
    label: str
    parts: dict[str, float | None]  # segment key → length in `unit`

    def total(self) -> float:
        return sum(v for v in self.parts.values() if v is not None and _drawable(v))


def _drawable(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


def render_stacked_bars(
    rows: Sequence[BarRow], segments: Sequence[Segment], unit: str, empty_note: str = "no data"
) -> str:
    legend = "".join(
        f'<span class="lg"><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
        f'fill="{esc(s.color)}"/></svg>{esc(s.label)}</span>'
        for s in segments
    )
    head = f'<div class="tl-head" style="margin-left:0">{legend}</div>'
    if not rows:
        note = f'<text class="nodata" x="{WIDTH_PX / 2}" y="30">{esc(empty_note)}</text>'
        return f'<div class="bars">{head}<svg viewBox="0 0 {WIDTH_PX} 50" role="img">{note}</svg></div>'
    longest = max((r.total() for r in rows), default=0.0)
    _, hi, ticks = linear_ticks(0.0, longest if longest > 0 else 1.0, 6)
    x0, x1 = LABEL_PX, WIDTH_PX - RIGHT_PX
    height = AXIS_PX + ROW_PX * len(rows) + 8

    def x(v: float) -> float:
        return x0 + v / (hi or 1.0) * (x1 - x0)

    out = [f'<svg viewBox="0 0 {WIDTH_PX} {height}" role="img" aria-label="scale lag breakdown">']
    for tick in ticks:
        out.append(f'<line class="grid" x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="6" y2="{height - AXIS_PX + 4}"/>')
        out.append(f'<text class="xt" x="{x(tick):.1f}" y="{height - 8}">{esc(format_tick(tick))} {esc(unit)}</text>')
    for i, row in enumerate(rows):
        y = 8 + i * ROW_PX
        out.append(f'<text class="yt" x="{x0 - 8}" y="{y + 15}">{esc(row.label)}</text>')
        cursor = 0.0
        for seg in segments:
            value = row.parts.get(seg.key)
            if value is None or not _drawable(value):
                continue
            out.append(
                f'<rect x="{x(cursor):.1f}" y="{y + 2}" width="{x(cursor + value) - x(cursor):.1f}" '
                f'height="{ROW_PX - 6}" fill="{esc(seg.color)}"><title>{esc(seg.label)}: '
                f"{esc(format_number(value))} {esc(unit)}</title></rect>"
            )
            cursor += value
        out.append(
            f'<text class="yt" style="text-anchor:start" x="{x(cursor) + 6:.1f}" y="{y + 15}">'
            f"{esc(format_number(cursor))} {esc(unit)}</text>"
        )
    out.append("</svg>")
    return f'<div class="bars">{head}{"".join(out)}</div>'
