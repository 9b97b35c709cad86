"""Bootstrap confidence intervals for differences between groups of repeated runs (pure, seeded).

`bootstrap_difference(group, reference)` estimates statistic(group) − statistic(reference)
(`statistic` = mean or median) and a percentile bootstrap interval: both samples are resampled
with replacement, independently, `resamples` times (default 5,000) with `numpy.random.
default_rng(seed)`, so the same inputs always give the same interval.

* No interval (None) when either side has fewer than 2 runs: one run cannot measure noise.
* `significant` = the interval excludes 0 AND both sides have at least `min_runs` (default 3)
  runs — with 2 runs the bootstrap has only 3 distinct means per side and its interval is too
  optimistic to sell a win on.
* Identical values on each side (no noise) give a zero-width interval: a real difference then is
  significant, equal values are not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Statistic = Literal["mean", "median"]
DEFAULT_RESAMPLES = 5_000
DEFAULT_MIN_RUNS = 3


@dataclass(frozen=True)
class DiffCI:
    """statistic(group) − statistic(reference), its interval at `confidence`, and significance."""

    estimate: float | None
    low: float | None
    high: float | None
    confidence: float
    significant: bool
    n_group: int
    n_reference: int


def _clean(values: Sequence[float | None]) -> npt.NDArray[np.float64]:
    array = np.asarray([v for v in values if v is not None], dtype=float)
    finite: npt.NDArray[np.float64] = array[np.isfinite(array)]
    return finite


def _stat(values: npt.NDArray[np.float64], statistic: Statistic, axis: int | None = None) -> npt.NDArray[np.float64]:
    result = np.median(values, axis=axis) if statistic == "median" else np.mean(values, axis=axis)
    return np.asarray(result, dtype=float)


def summarize(values: Sequence[float | None]) -> tuple[int, float | None, float | None, float | None]:
    """(n, mean, median, sample standard deviation) of the finite values (None when undefined)."""
    array = _clean(values)
    n = len(array)
    if n == 0:
        return 0, None, None, None
    stdev = float(np.std(array, ddof=1)) if n > 1 else None
    return n, float(array.mean()), float(np.median(array)), stdev


def bootstrap_difference(
    group: Sequence[float | None],
    reference: Sequence[float | None],
    *,
    statistic: Statistic = "mean",
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    min_runs: int = DEFAULT_MIN_RUNS,
) -> DiffCI:
    """See the module docstring. `None` values in the inputs are ignored (unmeasured runs)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    a, b = _clean(group), _clean(reference)
    if len(a) == 0 or len(b) == 0:
        return DiffCI(None, None, None, confidence, False, len(a), len(b))
    estimate = float(_stat(a, statistic) - _stat(b, statistic))
    if len(a) < 2 or len(b) < 2:
        return DiffCI(estimate, None, None, confidence, False, len(a), len(b))
    rng = np.random.default_rng(seed)
    boot_a = _stat(a[rng.integers(0, len(a), size=(resamples, len(a)))], statistic, axis=1)
    boot_b = _stat(b[rng.integers(0, len(b), size=(resamples, len(b)))], statistic, axis=1)
    diffs = boot_a - boot_b
    alpha = (1.0 - confidence) / 2.0
    low, high = (float(v) for v in np.quantile(diffs, [alpha, 1.0 - alpha]))
    excludes_zero = low > 0.0 or high < 0.0
    significant = excludes_zero and len(a) >= min_runs and len(b) >= min_runs
    return DiffCI(estimate, low, high, confidence, significant, len(a), len(b))


def relative(estimate: float | None, reference: float | None) -> float | None:
    """estimate / |reference| (None when undefined)."""
    if estimate is None or reference is None or reference == 0 or not math.isfinite(reference):
        return None
    return estimate / abs(reference)
