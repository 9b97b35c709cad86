"""The SLO view: windows in violation, error-budget burn, p95 recovery after load changes.

The SLO is `p95_ms` (client p95 latency bound, ms) and `error_rate` (max failures/requests).
Defaults when the run recorded none: `hpabench.slo.DEFAULT_SLO`, reported as such.

* Windows of `window_s` (default 10 s) tile [0, duration_s). A window with requests is *in
  violation* when its merged-histogram p95 exceeds `p95_ms` or its error ratio exceeds
  `error_rate`; windows without requests are not evaluated.
  `violation_pct` = 100 · violating windows / evaluated windows.
* `error_budget_burn` = (failures / requests) / `error_rate` over the run: 1.0 means the run
  consumed exactly its error budget, 2.0 twice it (None without requests or with a zero budget).
* p95 recovery after a load change at t0: windows of `recovery_window_s` (default 5 s) from t0;
  `recovery_s` = start of the first run of compliant windows lasting `hold_s` (default 30 s,
  or to the end of the change's window) − t0. 0 when p95 never exceeded the SLO; None when it
  never recovered before the next change or the end of the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hpabench.analysis.latency import ClientHistograms, window_counts, windowed_p95
from hpabench.slo import DEFAULT_SLO  # one default for the whole suite

__all__ = ["DEFAULT_SLO", "SloWindows", "error_budget_burn", "evaluate_windows", "p95_recovery_s"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SloWindows:
    """Per-window evaluation: `edges_s` (len n+1), `p95_ms`, `error_ratio`, `requests`,
    `violating` (bool; False for unevaluated windows), `evaluated`."""

    edges_s: FloatArray
    p95_ms: FloatArray
    error_ratio: FloatArray
    requests: FloatArray
    violating: npt.NDArray[np.bool_]
    evaluated: npt.NDArray[np.bool_]

    @property
    def violation_pct(self) -> float | None:
        n = int(self.evaluated.sum())
        return 100.0 * float(self.violating.sum()) / n if n else None


def evaluate_windows(
    hists: ClientHistograms, start_s: float, end_s: float, p95_ms: float, error_rate: float, window_s: float = 10.0
) -> SloWindows:
    """Tile [start_s, end_s) with `window_s` windows (the last may be shorter) and evaluate each."""
    if end_s <= start_s:
        edges = np.array([start_s], dtype=float)
    else:
        edges = np.arange(start_s, end_s, window_s, dtype=float)
        edges = np.append(edges, end_s)
    p95 = windowed_p95(hists, edges)
    requests, failures = window_counts(hists, edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(requests > 0, failures / np.where(requests > 0, requests, 1.0), np.nan)
    evaluated = requests > 0
    violating = evaluated & ((np.nan_to_num(p95, nan=0.0) > p95_ms) | (np.nan_to_num(ratio, nan=0.0) > error_rate))
    return SloWindows(edges, p95, ratio, requests, violating, evaluated)


def error_budget_burn(requests: float, failures: float, error_rate: float) -> float | None:
    """Observed error ratio / allowed error ratio (see the module docstring)."""
    if requests <= 0 or error_rate <= 0:
        return None
    return (failures / requests) / error_rate


def p95_recovery_s(
    hists: ClientHistograms,
    t0_s: float,
    window_end_s: float,
    p95_ms: float,
    recovery_window_s: float = 5.0,
    hold_s: float = 30.0,
) -> float | None:
    """Seconds after `t0_s` until p95 is back within `p95_ms` for good (module docstring)."""
    if window_end_s <= t0_s:
        return None
    edges = np.arange(t0_s, window_end_s, recovery_window_s, dtype=float)
    edges = np.append(edges, window_end_s)
    p95 = windowed_p95(hists, edges)
    known = np.isfinite(p95)
    if not known.any():
        return None
    bad = known & (p95 > p95_ms)
    if not bad.any():
        return 0.0
    needed = max(1, math.ceil(hold_s / recovery_window_s))
    bad_index = np.nonzero(bad)[0]
    for i in range(int(bad_index[0]) + 1, len(p95)):
        if bad[i]:
            continue
        later_bad = bad_index[bad_index > i]
        streak_end = int(later_bad[0]) if len(later_bad) else len(p95)
        if streak_end - i >= needed or streak_end == len(p95):
            return float(edges[i]) - t0_s
    return None
