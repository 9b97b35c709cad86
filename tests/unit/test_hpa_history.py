"""Stabilization windows and scaling policies, table-driven from the HPA documentation.

The documented rules: stabilization picks the highest (scale-down) / lowest (scale-up)
recommendation within the window; a policy bounds the change within its period relative to the
replica count at the period's start; selectPolicy Max picks the policy allowing the largest
change, Min the smallest, Disabled turns the direction off.
"""

from __future__ import annotations

import pytest

from hpabench.deploy.hpa.api_model import ScalingPolicy, ScalingRules
from hpabench.deploy.hpa.history import (
    History,
    Recommendation,
    ScaleEvent,
    legacy_scale_up_limit,
    scale_down_limit,
    scale_up_limit,
    stabilize_legacy,
    stabilize_with_behavior,
    store_scale_event,
)

NOW = 1_000.0


def recs(*pairs: tuple[int, float]) -> History:
    """History with recommendations given as (replicas, seconds ago)."""
    return History(recommendations=tuple(Recommendation(r, NOW - ago) for r, ago in pairs))


def rules(*policies: tuple[str, int, int], select: str | None = "Max", window: int | None = 0) -> ScalingRules:
    return ScalingRules(
        stabilization_window_seconds=window,
        select_policy=select,
        policies=[ScalingPolicy(type=t, value=v, period_seconds=p) for t, v, p in policies],
    )


# --- stabilization ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "desired", "current", "up_s", "down_s", "expected", "reason"),
    [
        # scale-down held by a higher recommendation inside the 60 s window
        (recs((5, 50), (3, 30)), 2, 5, 0, 60, 5, "ScaleDownStabilized"),
        # the same history once the higher one left the window: the next highest (3) wins
        (recs((5, 70), (3, 30)), 2, 5, 0, 60, 3, "ScaleDownStabilized"),
        # nothing higher in the window: scale down to the desired count
        (recs((2, 30)), 2, 5, 0, 60, 2, "ScaleDownStabilized"),
        # scale-up held by a lower recommendation inside the up window (clamped to current)
        (recs((3, 30)), 8, 4, 60, 0, 4, "ScaleUpStabilized"),
        # scale-up to the lowest recommendation in the window when it is above current
        (recs((6, 30), (7, 10)), 8, 4, 60, 0, 6, "ScaleUpStabilized"),
        # no up window: scale up at once
        (recs((3, 30)), 8, 4, 0, 300, 8, "ScaleUpStabilized"),
        # a recommendation exactly at the cutoff is outside the window (strictly newer only)
        (recs((9, 60)), 2, 5, 0, 60, 2, "ScaleDownStabilized"),
    ],
)
def test_stabilization_with_behavior(
    history: History, desired: int, current: int, up_s: float, down_s: float, expected: int, reason: str
) -> None:
    result = stabilize_with_behavior(history, desired, current, up_s, down_s, NOW)
    assert result.replicas == expected
    assert result.reason == reason
    assert result.history.recommendations is not None
    assert Recommendation(desired, NOW) in result.history.recommendations


@pytest.mark.parametrize(
    ("history", "desired", "window_s", "expected"),
    [
        (recs((6, 200), (4, 100)), 2, 300, 6),  # the highest within 300 s
        (recs((6, 400), (4, 100)), 2, 300, 4),  # 6 is older than the window
        (recs((6, 300)), 2, 300, 6),  # exactly at the cutoff counts here (not "before" it)
        (recs((1, 10)), 5, 300, 5),  # scale-up is never held back
    ],
)
def test_legacy_downscale_stabilization(history: History, desired: int, window_s: float, expected: int) -> None:
    stabilized, updated = stabilize_legacy(history, desired, window_s, NOW)
    assert stabilized == expected
    assert updated.recommendations is not None
    assert Recommendation(desired, NOW) in updated.recommendations


def test_old_recommendation_is_replaced_not_appended() -> None:
    history = recs((6, 400), (4, 100))
    _, updated = stabilize_legacy(history, 2, 300, NOW)
    assert updated.recommendations == (Recommendation(2, NOW), Recommendation(4, NOW - 100))
    result = stabilize_with_behavior(recs((6, 400), (4, 100)), 2, 4, 0, 300, NOW)
    assert result.history.recommendations == (Recommendation(2, NOW), Recommendation(4, NOW - 100))


def test_initial_recommendation_is_the_current_count() -> None:
    history = History().with_initial_recommendation(3, NOW)
    assert history.recommendations == (Recommendation(3, NOW),)
    assert history.with_initial_recommendation(7, NOW + 1) is history


# --- policies ---------------------------------------------------------------------------------


def events(*pairs: tuple[int, float]) -> tuple[ScaleEvent, ...]:
    return tuple(ScaleEvent(change, NOW - ago) for change, ago in pairs)


@pytest.mark.parametrize(
    ("the_rules", "current", "up_events", "down_events", "expected"),
    [
        (rules(("Pods", 4, 15)), 2, (), (), 6),
        (rules(("Percent", 100, 15)), 3, (), (), 6),
        (rules(("Percent", 10, 15)), 3, (), (), 4),  # 3.3 rounds up, or 10 % could never add a pod
        (rules(("Pods", 4, 15), ("Percent", 100, 15)), 10, (), (), 20),  # Max: the larger change
        (rules(("Pods", 4, 15), ("Percent", 100, 15), select="Min"), 10, (), (), 14),  # Min: the smaller
        (rules(("Pods", 4, 15), ("Percent", 100, 15), select="Disabled"), 10, (), (), 10),
        # 3 pods added 10 s ago count against a 60 s period: start = 7 - 3 = 4 → 4 + 4
        (rules(("Pods", 4, 60)), 7, ((3, 10),), (), 8),
        # ...but not against a 5 s period
        (rules(("Pods", 4, 5)), 7, ((3, 10),), (), 11),
        # removals in the period raise the period's start: 5 - 0 + 2 = 7 → ×2
        (rules(("Percent", 100, 60)), 5, (), ((2, 30),), 14),
        # an event exactly one period old no longer counts
        (rules(("Pods", 1, 60)), 5, ((4, 60),), (), 6),
    ],
)
def test_scale_up_limit(
    the_rules: ScalingRules,
    current: int,
    up_events: tuple[tuple[int, float], ...],
    down_events: tuple[tuple[int, float], ...],
    expected: int,
) -> None:
    history = History(scale_up_events=events(*up_events), scale_down_events=events(*down_events))
    assert scale_up_limit(current, history, the_rules, NOW) == expected


@pytest.mark.parametrize(
    ("the_rules", "current", "up_events", "down_events", "expected"),
    [
        (rules(("Percent", 100, 15)), 8, (), (), 0),
        (rules(("Percent", 50, 15)), 5, (), (), 2),  # 2.5 truncates
        (rules(("Pods", 1, 60)), 5, (), (), 4),
        (rules(("Percent", 50, 15), ("Pods", 1, 60)), 5, (), (), 2),  # Max change → the lower count
        (rules(("Percent", 50, 15), ("Pods", 1, 60), select="Min"), 5, (), (), 4),  # Min change
        (rules(("Percent", 50, 15), select="Disabled"), 5, (), (), 5),
        # 2 pods removed 30 s ago within a 60 s period: start = 3 + 2 = 5 → 5 - 2 = 3
        (rules(("Pods", 2, 60)), 3, (), ((2, 30),), 3),
        # additions in the period lower the start: 6 - 2 = 4 → 4 × 0.5
        (rules(("Percent", 50, 60)), 6, ((2, 10),), (), 2),
    ],
)
def test_scale_down_limit(
    the_rules: ScalingRules,
    current: int,
    up_events: tuple[tuple[int, float], ...],
    down_events: tuple[tuple[int, float], ...],
    expected: int,
) -> None:
    history = History(scale_up_events=events(*up_events), scale_down_events=events(*down_events))
    assert scale_down_limit(current, history, the_rules, NOW) == expected


@pytest.mark.parametrize(("current", "limit"), [(0, 4), (1, 4), (2, 4), (3, 6), (10, 20)])
def test_legacy_scale_up_limit(current: int, limit: int) -> None:
    assert legacy_scale_up_limit(current) == limit


def test_scale_events_store_absolute_changes_and_reuse_outdated_slots() -> None:
    up = rules(("Pods", 4, 15), ("Percent", 100, 60))
    down = rules(("Percent", 100, 15))
    history = store_scale_event(History(), up, down, 2, 5, NOW)
    history = store_scale_event(history, up, down, 5, 3, NOW + 1)
    assert history.scale_up_events == (ScaleEvent(3, NOW),)
    assert history.scale_down_events == (ScaleEvent(2, NOW + 1),)
    # 61 s later the first scale-up event is older than the longest up period (60 s): reused.
    later = store_scale_event(history, up, down, 3, 4, NOW + 61)
    assert later.scale_up_events == (ScaleEvent(1, NOW + 61),)
    # 10 s later it is still inside the period: appended.
    soon = store_scale_event(history, up, down, 3, 4, NOW + 10)
    assert soon.scale_up_events == (ScaleEvent(3, NOW), ScaleEvent(1, NOW + 10))
