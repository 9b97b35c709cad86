"""Study statistics on synthetic studies: the planted better variant wins, the planted
no-difference pair is called not significant, and the building blocks are right."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpabench.analysis.study_stats import Trial, detectable_difference, holm, pareto, rank, recommend, welch
from hpabench.analysis.tdist import betainc, t_cdf, t_ppf

# Known quantiles of Student's t (two-sided 95 % and one-sided 80 %).
T_TABLE = [(0.975, 1, 12.706204736), (0.975, 2, 4.302652730), (0.975, 5, 2.570581836), (0.975, 30, 2.042272456),
           (0.8, 4, 0.940964577), (0.995, 10, 3.169272673)]  # fmt: skip


@pytest.mark.parametrize(("p", "df", "expected"), T_TABLE)
def test_t_quantiles_match_tables(p: float, df: float, expected: float) -> None:
    assert t_ppf(p, df) == pytest.approx(expected, rel=1e-7)
    assert t_cdf(expected, df) == pytest.approx(p, abs=1e-9)
    assert t_cdf(-expected, df) == pytest.approx(1 - p, abs=1e-9)


def test_betainc_edges_and_errors() -> None:
    assert betainc(2, 3, 0.0) == 0.0 and betainc(2, 3, 1.0) == 1.0
    assert betainc(1, 1, 0.3) == pytest.approx(0.3)  # uniform
    with pytest.raises(ValueError):
        t_ppf(1.0, 3)


def test_welch_holm_and_mdd() -> None:
    t, df, p = welch([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) or (0, 0, 0)
    assert t == pytest.approx(-3.674234614) and df == pytest.approx(4.0) and p == pytest.approx(0.021311641, rel=1e-6)
    assert welch([1.0], [2.0, 3.0]) is None
    assert welch([2.0, 2.0], [2.0, 2.0]) == (0.0, 2.0, 1.0)
    assert holm([0.01, 0.04, None, 0.03]) == [0.03, 0.06, None, 0.06]
    # equal spreads, n=3 each: (t_.975,4 + t_.8,4) * sqrt(2/3) * s
    mdd = detectable_difference([1.0, 2.0, 3.0], [11.0, 12.0, 13.0])
    assert mdd == pytest.approx((2.776445105 + 0.940964577) * math.sqrt(2 / 3), rel=1e-6)
    assert detectable_difference([1.0], [2.0, 3.0]) is None


def synthetic_study(seed: int, means: dict[str, float], sd: float, reps: int) -> list[Trial]:
    rng = np.random.default_rng(seed)
    return [
        Trial("spike", variant, rep, {"p95_ms": float(rng.normal(mean, sd))})
        for rep in range(1, reps + 1)
        for variant, mean in means.items()
    ]


def test_planted_better_variant_ranks_first_in_at_least_9_of_10_studies() -> None:
    # Noise like the measured baseline spike runs (p95 sd ~ 20 % of the mean), 3 repetitions,
    # a real improvement of 2.5 standard deviations among three no-better variants.
    means = {"baseline": 220.0, "a": 225.0, "better": 145.0, "b": 215.0}
    firsts = 0
    for seed in range(10):
        rows = rank(synthetic_study(seed, means, 30.0, 3), "spike", "p95_ms", "baseline", seed=seed)
        firsts += rows[0].variant == "better"
    assert firsts >= 9


def test_planted_no_difference_pair_not_significant_in_at_least_9_of_10_studies() -> None:
    means = {"baseline": 220.0, "same": 220.0, "other": 220.0}
    calls = 0
    for seed in range(10):
        rows = {r.variant: r for r in rank(synthetic_study(100 + seed, means, 40.0, 3), "spike", "p95_ms", "baseline")}
        calls += rows["same"].significant
        assert rows["same"].mdd is not None and rows["same"].mdd > 0
    assert calls <= 1


def test_large_planted_difference_is_significant_and_recommended() -> None:
    rows = rank(synthetic_study(3, {"baseline": 300.0, "better": 150.0}, 10.0, 5), "spike", "p95_ms", "baseline")
    better = next(r for r in rows if r.variant == "better")
    assert better.rank == 1 and better.significant and better.improved and better.mark() == "**"
    assert better.diff_low is not None and better.diff_high is not None and better.diff_high < 0
    verdict, caveats = recommend(rows, "baseline", "p95", "ms", repetitions=5)
    assert verdict.startswith("Ship better") and any("5 repetition" in c for c in caveats)


def test_failed_trials_rank_last_and_are_never_recommended() -> None:
    trials = synthetic_study(4, {"baseline": 300.0, "fast-but-broken": 100.0}, 5.0, 3)
    trials = [
        Trial(t.scenario, t.variant, t.repetition, t.kpis, failed=t.variant == "fast-but-broken", reasons=("x",))
        for t in trials
    ]
    rows = rank(trials, "spike", "p95_ms", "baseline")
    assert [r.variant for r in rows] == ["baseline", "fast-but-broken"] and rows[1].n_failed == 3
    verdict, caveats = recommend(rows, "baseline", "p95", "ms", repetitions=3)
    assert verdict.startswith("Keep baseline") and any("fast-but-broken" in c for c in caveats)


def test_higher_is_better_kpis_rank_descending() -> None:
    rows = rank(
        synthetic_study(5, {"baseline": 10.0, "more": 20.0}, 1.0, 4), "spike", "p95_ms", "baseline", better="higher"
    )
    assert rows[0].variant == "more" and rows[0].improved


def test_pareto_front() -> None:
    points = {"cheap-bad": (1.0, 10.0), "dear-good": (5.0, 1.0), "dominated": (6.0, 11.0), "mid": (3.0, 5.0),
              "unknown": (None, 1.0)}  # fmt: skip
    assert pareto(points) == {"cheap-bad", "dear-good", "mid"}
