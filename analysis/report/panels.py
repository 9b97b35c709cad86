"""What a report's time charts show, independent of how they are drawn: panels stacked on one
shared time axis, each with lines, reference lines, confidence bands and hoverable points, plus
run-wide markers (load stages, scale decisions, faults).

Plain frozen dataclasses; `t_s` is seconds since the load started, values are in the panel's
unit, NaN is "no sample" (a gap). Text fields hold raw user strings: the drawing code escapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hpabench.analysis.report.downsample import FloatArray


@dataclass(frozen=True)
class Series:
    """One line (or, with `stack`, one layer of a stacked area in %)."""

    name: str
    t_s: FloatArray
    y: FloatArray
    color: str
    dash: str = "solid"  # plotly line dash: solid, dot, dash, longdash, dashdot or "6px,4px"
    step: bool = False  # hold the value until the next sample (replica counts)
    width: float = 1.6
    legend_group: str = ""  # series sharing a group get one legend entry and toggle together
    opacity: float = 1.0
    stack: bool = False  # a layer of a stacked area (already reduced by the caller: drawn as is)
    visible: bool = True  # False: listed in the legend, drawn once clicked


@dataclass(frozen=True)
class Band:
    """A shaded interval between `low` and `high` (a confidence band), sampled at `t_s`."""

    name: str
    t_s: FloatArray
    low: FloatArray
    high: FloatArray
    color: str
    legend_group: str = ""


@dataclass(frozen=True)
class HLine:
    """A horizontal reference (an SLO, a request, a target) in the panel's unit."""

    y: float
    label: str
    color: str = "#b3261e"
    dash: str = "dash"


@dataclass(frozen=True)
class Points:
    """Markers with their own hover text (HPA decisions, pods becoming ready, faults)."""

    name: str
    t_s: FloatArray
    y: FloatArray
    hover: Sequence[str]  # one raw text per point; lines separated by "\n"
    color: str
    symbol: str = "circle"  # a plotly marker symbol
    size: float = 9.0


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    series: Sequence[Series] = ()
    hlines: Sequence[HLine] = ()
    points: Sequence[Points] = ()
    bands: Sequence[Band] = ()
    log_y: bool = False
    y_floor: float | None = 0.0  # lower bound of the y range (None: from the data)
    empty_note: str = "no data"
    value_format: str = ".4~g"  # d3-format of the values in hover
    note: str = ""  # a short remark shown under the panel title (e.g. how values were reduced)


@dataclass(frozen=True)
class Marker:
    """A run-wide event drawn across all panels: a scale decision or a load-stage boundary."""

    t_s: float
    label: str
    kind: str  # "scale_up" | "scale_down" | "stage" | "fault"
    detail: str = ""


__all__ = ["Band", "HLine", "Marker", "Panel", "Points", "Series"]
