"""What a report's time charts show, independent of how they are drawn: panels stacked on one
shared time axis, each with lines, reference lines, confidence bands and hoverable points, plus
run-wide markers (load stages, scale decisions, faults) and spans (scenario events).

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


# One colour per scenario event kind, shared by the timeline's spans and the events section's strip.
EVENT_COLORS = {
    "rollout": "#3b82f6",
    "scale-to": "#10b981",
    "kill-pod": "#ef4444",
    "restart-db": "#f59e0b",
    "restart-cache": "#d97706",
    "add-latency": "#8b5cf6",
    "remove-latency": "#a78bfa",
}
OTHER_EVENT_COLOR = "#ef4444"


def event_color(kind: str) -> str:
    """The colour of a scenario event kind (a plug-in kind gets the disruption red)."""
    return EVENT_COLORS.get(kind, OTHER_EVENT_COLOR)


@dataclass(frozen=True)
class Span:
    """A run-wide interval drawn across all panels: a scenario event from its start to its end."""

    t0_s: float
    t1_s: float
    label: str  # what is written on the span (the event's kind)
    kind: str  # the event kind (its colour)
    detail: str = ""  # hover / title text: the event's name, state, result


__all__ = ["EVENT_COLORS", "Band", "HLine", "Marker", "Panel", "Points", "Series", "Span", "event_color"]
