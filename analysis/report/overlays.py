"""The comparison's overlaid timelines: per group of repeated runs, the mean per second with a
confidence band for it, and each run as a thin line (hidden until its legend entry is clicked).

Pure functions over the runs' compact timelines (`RunRef.timeline`, one row per second of load
time, analysis/compare.py). The band of a time bucket is mean ± t(1 − α/2, n − 1) · s / √n over
the n runs' means in that bucket (no band where n < 2) — the same confidence level as the KPI
differences; drawn with one bucket per pixel, it is the interval of what a pixel shows. Bands
are clipped to the quantity's possible range (≥ 0; ≤ 100 for a percentage). For drawing only:
no KPI is computed here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from hpabench.analysis.compare import Comparison, Group, RunRef
from hpabench.analysis.report.downsample import FloatArray, as_float_array, minmax_downsample
from hpabench.analysis.report.panels import Band, Panel, Series
from hpabench.analysis.report.timeline_figure import DRAW_BUCKETS

GROUP_COLORS = (
    "#2563eb",
    "#ea580c",
    "#16a34a",
    "#9333ea",
    "#dc2626",
    "#0891b2",
    "#ca8a04",
    "#db2777",
    "#4b5563",
    "#65a30d",
)
# (title, unit, timeline column, step line, scale, hover format)
PANEL_SPECS = (
    ("Achieved load", "req/s", "achieved_rps", False, 1.0, ".4~g"),
    ("Client p95 latency", "ms", "p95_ms", False, 1.0, ".4~g"),
    ("Error rate", "%", "error_ratio", False, 100.0, ".3~g"),
    ("Ready replicas", "pods", "ready_replicas", True, 1.0, ".3~g"),
)


def group_colors(comparison: Comparison) -> dict[str, str]:
    return {g.key: GROUP_COLORS[i % len(GROUP_COLORS)] for i, g in enumerate(comparison.groups)}


def t_quantile(p: float, df: int) -> float:
    """Student's t quantile: exact for df 1 and 2, the Cornish–Fisher series (Abramowitz & Stegun
    26.7.5, error < 0.01 from df 3 at p = 0.975) above; the normal quantile for df ≥ 1000."""
    if not 0.0 < p < 1.0 or df < 1:
        raise ValueError(f"need 0 < p < 1 and df >= 1, not p={p}, df={df}")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = NormalDist().inv_cdf(p)
    if df >= 1000:
        return z
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


@dataclass(frozen=True)
class GroupBand:
    """Per second `t_s`: the group's mean, the band around it (NaN where n < 2) and n."""

    t_s: FloatArray
    mean: FloatArray
    low: FloatArray
    high: FloatArray
    n: FloatArray


def group_band(
    runs: Sequence[RunRef], column: str, confidence: float, scale: float = 1.0, bucket_s: float = 1.0
) -> GroupBand:
    """Mean and confidence band of `column` over `runs`, each run first averaged per `bucket_s`
    of load time (1 s: aligned on whole seconds); `t_s` is each bucket's start."""
    columns = []
    for i, run in enumerate(runs):
        frame = run.timeline
        if frame.empty or column not in frame.columns or "t_s" not in frame.columns:
            continue
        t_s = pd.to_numeric(frame["t_s"], errors="coerce").to_numpy(dtype=np.float64)
        seconds = np.round(t_s) if bucket_s == 1.0 else np.floor(t_s / bucket_s) * bucket_s
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64) * scale
        keep = np.isfinite(seconds)
        columns.append(pd.Series(values[keep], index=seconds[keep], name=i).groupby(level=0).mean())
    if not columns:
        empty = np.empty(0, dtype=np.float64)
        return GroupBand(empty, empty, empty, empty, empty)
    wide = pd.concat(columns, axis=1).sort_index()
    n = wide.notna().sum(axis=1).to_numpy(dtype=np.float64)
    mean = wide.mean(axis=1).to_numpy(dtype=np.float64)
    sd = wide.std(axis=1, ddof=1).to_numpy(dtype=np.float64)
    quantile = np.array([t_quantile(0.5 + confidence / 2, int(k) - 1) if k >= 2 else np.nan for k in n])
    with np.errstate(invalid="ignore", divide="ignore"):
        half = quantile * sd / np.sqrt(n)
    return GroupBand(as_float_array(wide.index), mean, mean - half, mean + half, n)


def _clipped(band: GroupBand, unit: str) -> tuple[FloatArray, FloatArray]:
    """(low, high) within what the quantity can be: not below 0 (nor, on a log axis, below the
    smallest positive mean), not above 100 for a percentage."""
    positive = band.mean[np.isfinite(band.mean) & (band.mean > 0)]
    floor = float(positive.min()) if unit == "ms" and positive.size else 0.0
    low = np.where(np.isfinite(band.low), np.maximum(band.low, floor), np.nan)
    high = np.minimum(band.high, 100.0) if unit == "%" else band.high
    return as_float_array(low), as_float_array(high)


def _run_label(run: RunRef, group: str, index: int, count: int) -> str:
    return group if count == 1 else f"{group} #{index + 1} ({run.run_id})"


def _column(frame: pd.DataFrame, name: str) -> FloatArray:
    if frame.empty or name not in frame.columns:
        return np.empty(0, dtype=np.float64)
    return as_float_array(pd.to_numeric(frame[name], errors="coerce"))


def _group_series(
    group: Group, color: str, spec: tuple[str, str, str, bool, float, str], confidence: float, end_s: float
) -> tuple[list[Series], list[Band]]:
    """(series, bands) of one group in one panel."""
    _, unit, column, step, scale, _ = spec
    runs = group.runs
    series: list[Series] = []
    bands: list[Band] = []
    if len(runs) > 1:
        band = group_band(runs, column, confidence, scale)
        t, mean = minmax_downsample(band.t_s, band.mean, DRAW_BUCKETS, 0.0, end_s)
        name = f"{group.key} (mean of {len(runs)})"
        # The band shares the mean's legend group: one legend click shows or hides both everywhere.
        series.append(Series(name, t, mean, color, step=step, width=2.0, legend_group=name))
        width_s = max(end_s / DRAW_BUCKETS, 1.0)
        per_pixel = group_band(runs, column, confidence, scale, bucket_s=width_s)
        low, high = _clipped(per_pixel, unit)
        bt = per_pixel.t_s + (width_s / 2 if width_s > 1.0 else 0.0)  # the bucket's middle
        if np.isfinite(low).any():
            level = f"{confidence * 100:g}%"
            bands.append(Band(f"{group.key}: {level} CI of the mean", bt, low, high, color, legend_group=name))
    for i, run in enumerate(runs):
        label = _run_label(run, group.key, i, len(runs))
        series.append(
            Series(
                label,
                _column(run.timeline, "t_s"),
                _column(run.timeline, column) * scale,
                color,
                step=step,
                width=1.8 if len(runs) == 1 else 1.0,
                dash="solid" if len(runs) == 1 else "dot",
                legend_group=label,
                visible=len(runs) == 1,
            )
        )
    return series, bands


def _end_s(comparison: Comparison) -> float:
    end_s = 1.0
    for group in comparison.groups:
        for run in group.runs:
            t = _column(run.timeline, "t_s")
            if t.size and np.isfinite(t).any():
                end_s = max(end_s, float(np.nanmax(t)) + 1.0)
    return end_s


def overlay_panels(comparison: Comparison) -> tuple[list[Panel], float]:
    """The panels (one line per group mean with its band, runs behind) and the longest run's end."""
    colors = group_colors(comparison)
    end_s = _end_s(comparison)
    panels = []
    for spec in PANEL_SPECS:
        title, unit, column, _, _, fmt = spec
        series: list[Series] = []
        bands: list[Band] = []
        for group in comparison.groups:
            s, b = _group_series(group, colors[group.key], spec, comparison.confidence, end_s)
            series += s
            bands += b
        if column == "achieved_rps":
            series += _planned_series(comparison)
        panels.append(
            Panel(
                title,
                unit,
                series,
                bands=bands,
                value_format=fmt,
                log_y=column == "p95_ms",
                y_floor=None if column == "p95_ms" else 0.0,
            )
        )
    return panels, end_s


def _planned_series(comparison: Comparison) -> list[Series]:
    """The reference group's planned curve (when it is in req/s; users are not comparable here)."""
    first = comparison.groups[0].runs[0] if comparison.groups and comparison.groups[0].runs else None
    if first is None:
        return []
    planned = _column(first.timeline, "planned")
    if not planned.size or not np.isfinite(planned).any():
        return []
    # `planned` is in users for closed-model scenarios: not drawable on a req/s axis.
    unit = first.timeline.attrs.get("planned_unit")
    if unit == "users" or (unit is None and not np.isfinite(_column(first.timeline, "intended_rps")).any()):
        return []
    name = "planned (reference)"
    t = _column(first.timeline, "t_s")
    return [Series(name, t, planned, "#6b7280", dash="dash", step=True, legend_group=name)]


__all__ = ["GroupBand", "group_band", "group_colors", "overlay_panels", "t_quantile"]
