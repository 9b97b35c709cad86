"""Statistics of a study: ranking, significance, minimum detectable difference, Pareto front,
and the plain-words recommendation. Pure functions over `Trial` values; seeded; no I/O.

Contract:
- `rank(trials, scenario, kpi, baseline)` → one `Ranked` per variant of `scenario`, best first.
  Variants whose trials mostly broke a hard bound (failed trials) rank after all others; within
  each class the order is the mean of `kpi` in its `better` direction. Every variant other than
  the baseline carries its difference to the baseline: the estimate, a percentile bootstrap
  interval (`analysis.stats.bootstrap_difference`, seeded), a Welch t-test p value and its Holm
  adjustment over the variants of the scenario (the family of comparisons a review makes at
  once). `significant` = adjusted p < alpha, so a study of many variants does not find wins by
  multiplicity. `mdd` is the minimum detectable difference of that comparison: the true
  difference the same repetitions would detect with `power` (default 80 %) at `alpha`,
  (t_{1-α/2,df} + t_{power,df}) · sqrt(s_v²/n_v + s_b²/n_b) with Welch's df — what the noise allows.
- `pareto(points)`: the variants not dominated on (cost, badness) (both lower-is-better).
- `recommend(...)`: a short verdict and its caveats, in words.
Failed trials are kept as data: their KPI values enter the statistics, and their count is shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from hpabench.analysis import stats
from hpabench.analysis.tdist import t_cdf, t_ppf

DEFAULT_ALPHA = 0.05
DEFAULT_POWER = 0.8


@dataclass(frozen=True)
class Trial:
    """One run of a study: which cell it was, its KPI values (None = not measurable), and
    whether it was a failed trial (broke the SLO's hard bounds, timed out or did not complete)."""

    scenario: str
    variant: str
    repetition: int
    kpis: dict[str, float | None]
    failed: bool = False
    reasons: tuple[str, ...] = ()
    run_id: str = ""


@dataclass(frozen=True)
class Ranked:
    variant: str
    rank: int
    n: int
    n_failed: int
    mean: float | None
    stdev: float | None
    ci_low: float | None  # bootstrap interval of the mean
    ci_high: float | None
    diff: float | None = None  # variant − baseline
    diff_low: float | None = None
    diff_high: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    significant: bool = False
    improved: bool | None = None  # the difference goes the KPI's better way
    mdd: float | None = None
    values: tuple[float, ...] = field(default=())

    @property
    def mostly_failed(self) -> bool:
        return self.n > 0 and self.n_failed * 2 > self.n

    def mark(self) -> str:
        """`**` p_adj < 0.01, `*` p_adj < 0.05, `n.s.` otherwise, '' for the baseline."""
        if self.p_adjusted is None:
            return ""
        return "**" if self.p_adjusted < 0.01 else "*" if self.p_adjusted < 0.05 else "n.s."


def _values(trials: Sequence[Trial], kpi: str) -> list[float]:
    out = []
    for trial in trials:
        value = trial.kpis.get(kpi)
        if value is not None and math.isfinite(value):
            out.append(float(value))
    return out


def welch(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float] | None:
    """Welch's two-sided t-test of mean(a) − mean(b): (t, df, p); None with fewer than 2 per side.
    Both sides without any spread: p = 0 for different means, 1 for equal ones."""
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = float(np.var(a, ddof=1)), float(np.var(b, ddof=1))
    diff = float(np.mean(a) - np.mean(b))
    se2 = va / len(a) + vb / len(b)
    if se2 == 0:
        return (math.inf if diff else 0.0, float(len(a) + len(b) - 2), 0.0 if diff else 1.0)
    t = diff / math.sqrt(se2)
    df = se2**2 / ((va / len(a)) ** 2 / (len(a) - 1) + (vb / len(b)) ** 2 / (len(b) - 1))
    return t, df, 2.0 * (1.0 - t_cdf(abs(t), df))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p values (None stays None), monotone and capped at 1."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for k, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (len(indexed) - k) * p))
        adjusted[i] = running
    return adjusted


def detectable_difference(
    a: Sequence[float], b: Sequence[float], alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER
) -> float | None:
    """The minimum detectable difference of mean(a) − mean(b) (see the module docstring)."""
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = float(np.var(a, ddof=1)), float(np.var(b, ddof=1))
    se2 = va / len(a) + vb / len(b)
    if se2 == 0:
        return 0.0
    denominator = (va / len(a)) ** 2 / (len(a) - 1) + (vb / len(b)) ** 2 / (len(b) - 1)
    df = se2**2 / denominator if denominator > 0 else float(len(a) + len(b) - 2)
    return (t_ppf(1.0 - alpha / 2.0, df) + t_ppf(power, df)) * math.sqrt(se2)


def _mean_ci(values: Sequence[float], seed: int, confidence: float = 0.95) -> tuple[float | None, float | None]:
    if len(values) < 2:
        return None, None
    rng = np.random.default_rng(seed)
    array = np.asarray(values, dtype=float)
    means = array[rng.integers(0, len(array), size=(5000, len(array)))].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, 1 - (1 - confidence) / 2])
    return float(low), float(high)


def rank(
    trials: Sequence[Trial],
    scenario: str,
    kpi: str,
    baseline: str,
    *,
    better: str = "lower",
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
    seed: int = 0,
) -> list[Ranked]:
    """Variants of `scenario` ranked on `kpi` (see the module docstring)."""
    cells: dict[str, list[Trial]] = {}
    for trial in trials:
        if trial.scenario == scenario:
            cells.setdefault(trial.variant, []).append(trial)
    base_values = _values(cells.get(baseline, []), kpi)
    others = [v for v in cells if v != baseline]
    tests = {v: welch(_values(cells[v], kpi), base_values) for v in others}
    adjusted = dict(zip(others, holm([t[2] if t else None for t in tests.values()]), strict=True))
    sign = 1.0 if better == "lower" else -1.0
    rows = []
    for variant, group in cells.items():
        values = _values(group, kpi)
        n, mean, _median, stdev = stats.summarize(values)
        low, high = _mean_ci(values, seed)
        row = Ranked(variant, 0, n, sum(t.failed for t in group), mean, stdev, low, high, values=tuple(values))
        if variant != baseline:
            ci = stats.bootstrap_difference(values, base_values, seed=seed, min_runs=2)
            test = tests[variant]
            p_adj = adjusted[variant]
            row = replace(
                row,
                diff=ci.estimate,
                diff_low=ci.low,
                diff_high=ci.high,
                p_value=test[2] if test else None,
                p_adjusted=p_adj,
                significant=p_adj is not None and p_adj < alpha,
                improved=None if ci.estimate is None else sign * ci.estimate < 0,
                mdd=detectable_difference(values, base_values, alpha, power),
            )
        rows.append(row)
    rows.sort(key=lambda r: (r.mostly_failed, r.mean is None, sign * (r.mean if r.mean is not None else 0.0)))
    return [replace(row, rank=position) for position, row in enumerate(rows, start=1)]


def pareto(points: dict[str, tuple[float | None, float | None]]) -> set[str]:
    """Names whose (cost, badness) no other point beats on both (≤ on both, < on one)."""
    known = {name: p for name, p in points.items() if p[0] is not None and p[1] is not None}
    front = set()
    for name, (cost, bad) in known.items():
        dominated = any(
            (c <= cost and b <= bad) and (c < cost or b < bad)  # type: ignore[operator]
            for other, (c, b) in known.items()
            if other != name
        )
        if not dominated:
            front.add(name)
    return front


def recommend(
    ranked: Sequence[Ranked],
    baseline: str,
    kpi_label: str,
    unit: str,
    *,
    guard: dict[str, Ranked] | None = None,
    repetitions: int,
    extra_caveats: Sequence[str] = (),
) -> tuple[str, list[str]]:
    """(verdict, caveats). A variant is recommended only when it is significantly better than the
    baseline on the ranked KPI, has no failed trials, and is not significantly worse on any guard
    KPI (`guard`: variant → its Ranked row of e.g. the error rate or SLO violation)."""
    guard = guard or {}
    winners = [
        r
        for r in ranked
        if r.variant != baseline
        and r.significant
        and r.improved
        and r.n_failed == 0
        and not (r.variant in guard and guard[r.variant].significant and guard[r.variant].improved is False)
    ]
    caveats = [f"{repetitions} repetition(s) per variant: differences smaller than the minimum detectable "
               "difference (per row) are not ruled out, only not shown."]  # fmt: skip
    failing = [r.variant for r in ranked if r.n_failed]
    if failing:
        caveats.append(f"failed trials (hard bounds broken, timed out or not completed): {', '.join(failing)}")
    caveats += list(extra_caveats)
    if winners:
        best = winners[0]
        verdict = (
            f"Ship {best.variant}: its {kpi_label} is {abs(best.diff or 0):.1f} {unit} better than {baseline} "
            f"(95% bootstrap interval {best.diff_low:+.1f} to {best.diff_high:+.1f} {unit}, Holm-adjusted "
            f"p = {best.p_adjusted:.3f})."
        )
        return verdict, caveats
    base = next((r for r in ranked if r.variant == baseline), None)
    mdds = [r.mdd for r in ranked if r.mdd is not None]
    noise = f" (with this noise a difference below about {min(mdds):.0f} {unit} cannot be detected)" if mdds else ""
    verdict = f"Keep {baseline}: no variant was significantly better on {kpi_label}{noise}."
    if base is None:
        verdict = f"No verdict: the baseline {baseline} has no measured runs."
    return verdict, caveats
