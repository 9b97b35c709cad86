"""Client-side latency and error KPIs from MERGED per-second histograms.

Percentiles of a time range are never averages of per-second percentiles: the `hist` column of
`client_stats` (the driver's sparse `LatencyHistogram`, see `hpabench.scenarios.histogram`) is
merged over the range and the percentile is read from the merged histogram (≤ 0.4 % relative
error, the histogram's own guarantee). `ClientHistograms` decodes a route's rows once into flat
numpy arrays so that any subset of rows (a phase, a 10 s SLO window) merges in O(buckets).

Rows with requests but no readable histogram (older files, a torn row) are counted in
`hist_coverage` (share of requests whose latency is in the merged histogram); when no row of a
range has a histogram, percentiles are None rather than guessed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from hpabench.scenarios.histogram import SPARSE_VERSION, SUB_BUCKETS, LatencyHistogram

ALL_ROUTES = "ALL"
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _decode(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str | bytes) and value:
        try:
            data = json.loads(value)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None
    return None


class ClientHistograms:
    """The histograms of one route's rows, decoded once (row order = the frame's order).

    `t_s` (float, s), `requests` and `failures` (counts) are per row; `merge(mask)` merges the
    rows where `mask` is True into one LatencyHistogram (None when none of them has one).
    """

    def __init__(self, rows: pd.DataFrame) -> None:
        self.t_s: FloatArray = rows["t_s"].to_numpy(dtype=float)
        self.requests: FloatArray = pd.to_numeric(rows["requests"], errors="coerce").fillna(0).to_numpy(dtype=float)
        self.failures: FloatArray = pd.to_numeric(rows["failures"], errors="coerce").fillna(0).to_numpy(dtype=float)
        size = len(rows)
        self.has_hist: BoolArray = np.zeros(size, dtype=bool)
        self.n: IntArray = np.zeros(size, dtype=np.int64)
        self.zero: IntArray = np.zeros(size, dtype=np.int64)
        self.total: FloatArray = np.zeros(size, dtype=float)
        self.min: FloatArray = np.full(size, np.inf)
        self.max: FloatArray = np.full(size, -np.inf)
        lengths = np.zeros(size, dtype=np.int64)
        keys: list[IntArray] = []
        counts: list[IntArray] = []
        hist_column = rows["hist"] if "hist" in rows else pd.Series([None] * size)
        for i, raw in enumerate(hist_column.tolist()):
            data = _decode(raw)
            if data is None or data.get("v") != SPARSE_VERSION or data.get("sub") != SUB_BUCKETS:
                continue
            try:
                row_keys = np.cumsum(np.asarray(data["keys"], dtype=np.int64))
                row_counts = np.asarray(data["counts"], dtype=np.int64)
                n = int(data["n"])
                zero = int(data["zero"])
            except (KeyError, TypeError, ValueError):
                continue
            if len(row_keys) != len(row_counts) or n != zero + int(row_counts.sum()):
                continue  # inconsistent row: leave it out rather than corrupt the merge
            self.has_hist[i] = True
            self.n[i], self.zero[i] = n, zero
            self.total[i] = float(data.get("sum") or 0.0)
            if n:
                self.min[i] = float(data["min"])
                self.max[i] = float(data["max"])
            lengths[i] = len(row_keys)
            keys.append(row_keys)
            counts.append(row_counts)
        self._lengths = lengths
        self._offsets: IntArray = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self._keys: IntArray = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
        self._counts: IntArray = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.t_s)

    def window(self, start_s: float, end_s: float) -> BoolArray:
        """Rows whose 1 s interval starts in [start_s, end_s)."""
        mask: BoolArray = (self.t_s >= start_s) & (self.t_s < end_s)
        return mask

    def merge(self, mask: BoolArray) -> LatencyHistogram | None:
        """One histogram of every selected row that has one (the histogram module's own merge
        semantics, computed with numpy); None when no selected row has a histogram."""
        rows = mask & self.has_hist
        if not rows.any():
            return None
        chosen = np.nonzero(rows)[0]
        first, last = int(chosen[0]), int(chosen[-1])
        if last - first + 1 == len(chosen):  # a time window of sorted rows: slice, don't mask
            keys = self._keys[self._offsets[first] : self._offsets[last + 1]]
            counts = self._counts[self._offsets[first] : self._offsets[last + 1]]
        else:
            selected = np.repeat(rows, self._lengths)
            keys = self._keys[selected]
            counts = self._counts[selected]
        unique, inverse = np.unique(keys, return_inverse=True)
        summed = np.bincount(inverse, weights=counts, minlength=len(unique)).astype(np.int64)
        n = int(self.n[rows].sum())
        data = {
            "v": SPARSE_VERSION,
            "sub": SUB_BUCKETS,
            "n": n,
            "sum": float(self.total[rows].sum()),
            "min": float(self.min[rows].min()) if n else None,
            "max": float(self.max[rows].max()) if n else None,
            "zero": int(self.zero[rows].sum()),
            "keys": np.diff(unique, prepend=0).tolist(),
            "counts": summed.tolist(),
        }
        return LatencyHistogram.from_sparse(data)


def route_rows(client: pd.DataFrame, route: str = ALL_ROUTES) -> pd.DataFrame:
    """The rows of `route`; for ALL, every route's rows when the file has no ALL aggregate."""
    if client.empty or "route" not in client:
        return client.iloc[0:0]
    rows = client[client["route"] == route]
    if rows.empty and route == ALL_ROUTES:
        rows = client
    return rows


@dataclass(frozen=True)
class LatencyStats:
    """Client-side view of a time range [start_s, end_s).

    - `requests`, `failures`: counts; `error_rate` = failures / requests (None without requests).
    - `throughput_rps` = requests / (end_s - start_s).
    - `p50_ms` … `p999_ms`, `max_ms`, `mean_ms`: from the merged histogram, milliseconds.
    - `hist_coverage`: histogram samples / requests (1.0 when every row had its histogram).
    """

    start_s: float
    end_s: float
    requests: int
    failures: int
    error_rate: float | None
    throughput_rps: float | None
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    max_ms: float | None
    mean_ms: float | None
    hist_coverage: float | None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def latency_stats(hists: ClientHistograms, start_s: float, end_s: float) -> LatencyStats:
    """LatencyStats of the rows in [start_s, end_s) (see the class docstring)."""
    mask = hists.window(start_s, end_s)
    requests = int(hists.requests[mask].sum())
    failures = int(hists.failures[mask].sum())
    merged = hists.merge(mask)
    duration_s = end_s - start_s
    if merged is not None and merged.count:
        p50, p90, p95, p99, p999 = (_finite(v) for v in merged.percentiles(PERCENTILES))
        max_ms, mean_ms = _finite(merged.max), _finite(merged.mean)
    else:
        p50 = p90 = p95 = p99 = p999 = max_ms = mean_ms = None
    coverage = (merged.count if merged is not None else 0) / requests if requests else None
    return LatencyStats(
        start_s=start_s,
        end_s=end_s,
        requests=requests,
        failures=failures,
        error_rate=failures / requests if requests else None,
        throughput_rps=requests / duration_s if duration_s > 0 else None,
        p50_ms=p50,
        p90_ms=p90,
        p95_ms=p95,
        p99_ms=p99,
        p999_ms=p999,
        max_ms=max_ms,
        mean_ms=mean_ms,
        hist_coverage=min(coverage, 1.0) if coverage is not None else None,
    )


def windowed_p95(hists: ClientHistograms, edges_s: FloatArray, q: float = 95.0) -> FloatArray:
    """The `q` percentile (ms) of each window [edges[i], edges[i+1]); NaN where no histogram."""
    out = np.full(max(len(edges_s) - 1, 0), np.nan)
    for i in range(len(out)):
        merged = hists.merge(hists.window(float(edges_s[i]), float(edges_s[i + 1])))
        if merged is not None and merged.count:
            out[i] = merged.percentile(q)
    return out


def window_counts(hists: ClientHistograms, edges_s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Requests and failures per window [edges[i], edges[i+1])."""
    index = np.searchsorted(edges_s, hists.t_s, side="right") - 1
    valid = (index >= 0) & (index < len(edges_s) - 1)
    size = max(len(edges_s) - 1, 0)
    requests = np.bincount(index[valid], weights=hists.requests[valid], minlength=size)[:size]
    failures = np.bincount(index[valid], weights=hists.failures[valid], minlength=size)[:size]
    return requests.astype(float), failures.astype(float)
