"""Open-model pacing math: arrival processes, the per-process arrival queue, the behind rule."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest

from hpabench.scenarios.drive.pacing import ArrivalQueue, ArrivalSchedule, behind_flags
from hpabench.scenarios.shapes import target_at
from hpabench.scenarios.spec import Scenario


def arrivals(schedule: ArrivalSchedule, start: float = 0.0) -> list[float]:
    times = []
    t: float | None = start
    while (t := schedule.next_after(t)) is not None:  # type: ignore[arg-type]
        times.append(t)
        assert len(times) < 1_000_000
    return times


def count_in(times: list[float], a: float, b: float) -> int:
    return sum(1 for t in times if a <= t < b)


def test_poisson_constant_rate_count_and_dispersion() -> None:
    times = arrivals(ArrivalSchedule(lambda t: 100.0, end_s=100.0, rng=random.Random(1)))
    # 10_000 expected; Poisson sd = 100, allow 4 sd
    assert abs(len(times) - 10_000) < 400
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert statistics.mean(gaps) == pytest.approx(0.01, rel=0.05)
    # exponential gaps: coefficient of variation 1 (a uniform pacer would give ~0)
    assert statistics.stdev(gaps) / statistics.mean(gaps) == pytest.approx(1.0, abs=0.05)


def test_jittered_is_tight_and_bounded() -> None:
    times = arrivals(ArrivalSchedule(lambda t: 50.0, end_s=60.0, process="jittered", rng=random.Random(2)))
    assert abs(len(times) - 3000) < 60
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.5 / 50 - 1e-9 and max(gaps) <= 1.5 / 50 + 1e-9
    # per-second counts never stray far from the rate (no bunching)
    per_second = [count_in(times, s, s + 1) for s in range(59)]
    assert min(per_second) >= 44 and max(per_second) <= 56


def test_step_in_rate_takes_effect_at_the_step() -> None:
    def rate(t: float) -> float:
        return 1.0 if t < 10 else 200.0

    times = arrivals(ArrivalSchedule(rate, end_s=20.0, process="jittered", rng=random.Random(3)))
    assert count_in(times, 0, 10) <= 11
    # within the very first second after the step the full new rate is already offered
    assert count_in(times, 10, 11) >= 180
    assert count_in(times, 10, 20) == pytest.approx(2000, rel=0.03)


def test_time_varying_rate_matches_its_integral() -> None:
    def rate(t: float) -> float:
        return 20.0 + 180.0 * t / 100.0  # linear 20 → 200 req/s over 100 s

    times = arrivals(ArrivalSchedule(rate, end_s=100.0, process="jittered", rng=random.Random(4)))
    assert len(times) == pytest.approx(11_000, rel=0.01)
    for a in (0, 50, 90):
        expected = sum(rate(a + 0.05 + 0.1 * k) * 0.1 for k in range(100))
        assert count_in(times, a, a + 10) == pytest.approx(expected, rel=0.04)


def test_no_arrivals_where_rate_is_zero_or_not_open_model() -> None:
    def rate(t: float) -> float | None:
        return None if 5 <= t < 15 else 30.0

    times = arrivals(ArrivalSchedule(rate, end_s=20.0, rng=random.Random(5)))
    assert count_in(times, 5, 15) == 0
    assert count_in(times, 15, 20) > 100
    assert ArrivalSchedule(lambda t: 0.0, end_s=50.0).next_after(0.0) is None


def test_schedule_ends_and_is_deterministic() -> None:
    a = arrivals(ArrivalSchedule(lambda t: 10.0, end_s=5.0, rng=random.Random(9)))
    b = arrivals(ArrivalSchedule(lambda t: 10.0, end_s=5.0, rng=random.Random(9)))
    assert a == b and all(t < 5.0 for t in a)
    with pytest.raises(ValueError):
        ArrivalSchedule(lambda t: 1.0, end_s=1.0, grid_s=0)


def test_follows_a_scenario_rate_split_across_processes() -> None:
    scenario = Scenario.model_validate(
        {"name": "o", "description": "d", "stages": [{"name": "a", "duration_s": 40, "rps": 120}]}
    )

    def rate(t: float) -> float | None:
        target = target_at(scenario, t, time_scale=0.5)
        return target.rps / 2 if target and target.rps is not None else None  # 2 processes

    total = 0
    for process in range(2):
        times = arrivals(ArrivalSchedule(rate, end_s=20.0, process="jittered", rng=random.Random(process)))
        total += len(times)
    assert total == pytest.approx(120 * 20, rel=0.01)


def test_queue_counts_intended_per_run_second_and_claims_in_order() -> None:
    t0 = 1_000_000.25  # run seconds are [t0 + k, t0 + k + 1), not whole unix seconds
    schedule = ArrivalSchedule(lambda t: 10.0, end_s=3.0, process="jittered", rng=random.Random(6))
    expected = arrivals(ArrivalSchedule(lambda t: 10.0, end_s=3.0, process="jittered", rng=random.Random(6)))
    queue = ArrivalQueue(schedule, t0=t0, max_lag_s=1.0, horizon_s=0.5)
    claimed = []
    now = t0
    while not queue.finished and now < t0 + 10:
        arrival = queue.claim(now)
        if arrival is None:
            now += 0.05
            continue
        assert arrival <= now + 0.5
        claimed.append(arrival - t0)
        now = max(now, arrival)
    assert claimed == pytest.approx(expected)
    counts = queue.take_counts(before_second=10)
    assert sum(intended for intended, _ in counts.values()) == len(expected)
    assert all(dropped == 0 for _, dropped in counts.values())
    assert sorted(counts) == [0, 1, 2]
    for k, (intended, _) in counts.items():
        assert intended == count_in(expected, k, k + 1)


def test_queue_drops_arrivals_nobody_claimed_in_time() -> None:
    t0 = 500.5
    queue = ArrivalQueue(ArrivalSchedule(lambda t: 100.0, end_s=10.0, process="jittered"), t0, max_lag_s=1.0)
    queue.advance(t0 + 5.0)  # five seconds without a free user
    # arrivals of the first 4 s are older than max_lag and are dropped; the last second's wait
    assert queue.dropped_total == pytest.approx(400, abs=15)
    pending_claim = queue.claim(t0 + 5.0)
    assert pending_claim is not None and pending_claim >= t0 + 4.0
    counts = queue.take_counts(before_second=4)
    assert sorted(counts) == [0, 1, 2, 3]
    for intended, dropped in counts.values():
        assert intended == dropped and intended == pytest.approx(100, abs=12)  # sd of a jittered second ≈ 3
    # seconds already taken are gone; later ones remain
    assert all(second >= 4 for second in queue.intended)


def test_take_counts_leaves_the_current_second() -> None:
    queue = ArrivalQueue(ArrivalSchedule(lambda t: 20.0, end_s=5.0, process="jittered"), t0=100.0)
    queue.advance(102.5)
    counts = queue.take_counts(before_second=2)
    assert sorted(counts) == [0, 1]
    assert 2 in queue.intended


def test_behind_flags_over_a_trailing_window() -> None:
    intended = [100.0] * 20
    achieved = [100.0] * 10 + [90.0] * 10
    flags = behind_flags(intended, achieved, window=5)
    # 95% of 500 = 475: window sums are 490, 480 after one and two short seconds, then 470
    assert flags[:12] == [False] * 12
    assert flags[12] is True and all(flags[12:])


def test_behind_flags_ignore_closed_model_seconds_and_small_dips() -> None:
    nan = math.nan
    assert behind_flags([nan, nan, nan], [50.0, 60.0, 70.0], window=2) == [False, False, False]
    assert behind_flags([100.0] * 10, [100.0] * 4 + [97.0] + [100.0] * 5, window=10) == [False] * 10
    assert behind_flags([10.0, 10.0], [0.0, 0.0], window=1) == [True, True]
    with pytest.raises(ValueError):
        behind_flags([1.0], [1.0], window=0)
