"""Downsampling of time series for *drawing only* (never for numbers shown as KPIs).

A chart 1000 px wide cannot show 3600 points per series, and an SVG path with tens of thousands
of vertices makes the page slow. `minmax_downsample` keeps, per time bucket, the minimum and the
maximum sample in the order they occurred, so spikes (the thing an SRE looks for) survive while
the vertex count is bounded by `2 * buckets`. NaN samples are gaps: a bucket that contains only
NaN emits one NaN so the drawn line is broken there instead of bridged.

Pure functions over numpy arrays; times in seconds.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def as_float_array(values: object) -> FloatArray:
    """Convert a sequence / pandas Series / array to a contiguous float64 array (NaN kept)."""
    return np.ascontiguousarray(np.asarray(values, dtype=np.float64))


def minmax_downsample(
    t_s: FloatArray, y: FloatArray, buckets: int, t_min_s: float | None = None, t_max_s: float | None = None
) -> tuple[FloatArray, FloatArray]:
    """Reduce (t_s, y) to at most `2 * buckets` points plus gap markers, keeping extremes.

    `t_s` must be sorted ascending. Buckets are equal-width over [t_min_s, t_max_s] (defaults:
    the data range). A series already short enough is returned unchanged (copied). Within a
    bucket the min and max samples are emitted at their own times, in time order; if they are
    the same sample it is emitted once. A bucket holding only NaN emits (bucket start, NaN).
    """
    t_s = as_float_array(t_s)
    y = as_float_array(y)
    if t_s.shape != y.shape:
        raise ValueError(f"t_s and y differ in length: {t_s.shape} vs {y.shape}")
    if buckets < 1:
        raise ValueError("buckets must be >= 1")
    n = t_s.size
    if n <= 2 * buckets:
        return t_s.copy(), y.copy()
    lo = float(t_s[0]) if t_min_s is None else t_min_s
    hi = float(t_s[-1]) if t_max_s is None else t_max_s
    width = (hi - lo) / buckets if hi > lo else 1.0
    index = np.clip(((t_s - lo) / width).astype(np.int64), 0, buckets - 1)
    # Boundaries of each run of equal bucket index (t_s sorted => index sorted).
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    ends = np.r_[starts[1:], n]

    finite = ~np.isnan(y)
    # Reduce per bucket with NaN-aware min/max via +/-inf fill, then locate argmin/argmax.
    y_lo = np.where(finite, y, np.inf)
    y_hi = np.where(finite, y, -np.inf)
    bucket_min = np.minimum.reduceat(y_lo, starts)
    bucket_max = np.maximum.reduceat(y_hi, starts)
    any_finite = np.add.reduceat(finite.astype(np.int64), starts) > 0

    # argmin/argmax per bucket: first position in the bucket equal to the bucket extreme.
    bucket_of_sample = np.repeat(np.arange(starts.size), ends - starts)
    is_min = (y_lo == bucket_min[bucket_of_sample]) & finite
    is_max = (y_hi == bucket_max[bucket_of_sample]) & finite
    pos_min = _first_true_per_bucket(is_min, starts, ends)
    pos_max = _first_true_per_bucket(is_max, starts, ends)
    # Any NaN inside a bucket means the source had a gap there: keep the break visible.
    has_gap = np.add.reduceat((~finite).astype(np.int64), starts) > 0

    out_t: list[float] = []
    out_y: list[float] = []
    for b in range(starts.size):
        if not any_finite[b]:
            out_t.append(float(t_s[starts[b]]))
            out_y.append(float("nan"))
            continue
        first, second = sorted((int(pos_min[b]), int(pos_max[b])))
        out_t.append(float(t_s[first]))
        out_y.append(float(y[first]))
        if second != first:
            out_t.append(float(t_s[second]))
            out_y.append(float(y[second]))
        if has_gap[b]:
            out_t.append(float(t_s[second]))
            out_y.append(float("nan"))
    return np.asarray(out_t, dtype=np.float64), np.asarray(out_y, dtype=np.float64)


def _first_true_per_bucket(
    mask: npt.NDArray[np.bool_], starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Absolute index of the first True in each [start, end) slice (start if none is True)."""
    positions = np.flatnonzero(mask)
    if positions.size == 0:
        return starts.copy()
    # For each bucket, the first True position >= start; valid if < end.
    first = np.searchsorted(positions, starts)
    result = starts.copy()
    valid = first < positions.size
    candidate = np.where(valid, positions[np.minimum(first, positions.size - 1)], -1)
    ok = valid & (candidate < ends)
    result[ok] = candidate[ok]
    return result
