"""Recommendation and scale-event history: stabilization windows and scaling policies (pure).

Mirrors the upstream controller's per-HPA memory (`recommendations`, `scaleUpEvents`,
`scaleDownEvents`) and how it is read and rewritten, including its bookkeeping quirks (an old
entry is *replaced* rather than dropped, at the last old index), so that long runs decide the same.

* Stabilization is a window over past *unstabilized* recommendations, not a cooldown: with
  `behavior`, scale-up takes the minimum over the scale-up window and scale-down the maximum over
  the scale-down window, then the current count is clamped into [up, down]. Without `behavior`
  (legacy) only the downscale window applies: the maximum of recent recommendations.
* A policy limits the change within its period: the replica count at the start of the period is
  `current - added + removed` (scale events newer than `now - period`); Pods adds/removes a fixed
  number, Percent a fraction (up: rounded up, down: truncated). `selectPolicy` Max picks the
  policy allowing the largest change, Min the smallest, Disabled forbids the direction.

Time comparisons keep upstream's strictness: "newer than a cutoff" is `ts > cutoff`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from hpabench.deploy.hpa.api_model import SELECT_DISABLED, SELECT_MIN, ScalingRules

SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0


@dataclass(frozen=True)
class Recommendation:
    """An unstabilized recommendation (the metrics' proposal) and when it was made."""

    replicas: int
    ts: float


@dataclass(frozen=True)
class ScaleEvent:
    """A rescale: `change` is the absolute number of replicas added or removed."""

    change: int
    ts: float
    outdated: bool = False


@dataclass(frozen=True)
class History:
    """The controller's memory for one HPA. `recommendations is None` = never synced."""

    recommendations: tuple[Recommendation, ...] | None = None
    scale_up_events: tuple[ScaleEvent, ...] = ()
    scale_down_events: tuple[ScaleEvent, ...] = ()

    def with_initial_recommendation(self, current_replicas: int, now: float) -> History:
        """recordInitialRecommendation: the first sync remembers the current count."""
        if self.recommendations is not None:
            return self
        return replace(self, recommendations=(Recommendation(current_replicas, now),))

    def _record(self, recommendation: Recommendation, old_index: int | None) -> History:
        recs = list(self.recommendations or ())
        if old_index is None:
            recs.append(recommendation)
        else:
            recs[old_index] = recommendation
        return replace(self, recommendations=tuple(recs))


def stabilize_legacy(history: History, desired: int, window_s: float, now: float) -> tuple[int, History]:
    """stabilizeRecommendation (no `behavior`): the max recommendation within the downscale window."""
    cutoff = now - window_s
    highest = desired
    old_index = None
    for index, rec in enumerate(history.recommendations or ()):
        if rec.ts < cutoff:
            old_index = index
        elif rec.replicas > highest:
            highest = rec.replicas
    return highest, history._record(Recommendation(desired, now), old_index)


@dataclass(frozen=True)
class Stabilized:
    replicas: int
    reason: str
    message: str
    history: History


def stabilize_with_behavior(
    history: History, desired: int, current: int, up_window_s: float, down_window_s: float, now: float
) -> Stabilized:
    """stabilizeRecommendationWithBehaviors: clamp `current` into [min over up window, max over down window]."""
    up_cutoff = now - up_window_s
    down_cutoff = now - down_window_s
    up = desired
    down = desired
    old_index = None
    for index, rec in enumerate(history.recommendations or ()):
        if rec.ts > up_cutoff:
            up = min(up, rec.replicas)
        if rec.ts > down_cutoff:
            down = max(down, rec.replicas)
        if rec.ts < up_cutoff and rec.ts < down_cutoff:
            old_index = index
    recommendation = current
    if recommendation < up:
        recommendation = up
    if recommendation > down:
        recommendation = down
    if desired >= current:
        reason = "ScaleUpStabilized"
        message = "recent recommendations were lower than current one, applying the lowest recent recommendation"
    else:
        reason = "ScaleDownStabilized"
        message = "recent recommendations were higher than current one, applying the highest recent recommendation"
    return Stabilized(recommendation, reason, message, history._record(Recommendation(desired, now), old_index))


def replicas_changed_in_period(period_s: float, events: tuple[ScaleEvent, ...], now: float) -> int:
    cutoff = now - period_s
    return sum(event.change for event in events if event.ts > cutoff)


def _period_start(current: int, history: History, period_s: float, now: float) -> int:
    added = replicas_changed_in_period(period_s, history.scale_up_events, now)
    removed = replicas_changed_in_period(period_s, history.scale_down_events, now)
    return current - added + removed


def scale_up_limit(current: int, history: History, rules: ScalingRules, now: float) -> int:
    """calculateScaleUpLimitWithScalingRules: the highest count the scale-up policies allow now."""
    if rules.select_policy == SELECT_DISABLED:
        return current
    pick_min = rules.select_policy == SELECT_MIN
    result: int | None = None
    for policy in rules.policies or ():
        start = _period_start(current, history, policy.period_seconds, now)
        # Percent rounds up, or a small Percent could never add a pod.
        proposed = start + policy.value if policy.type == "Pods" else math.ceil(start * (1 + policy.value / 100))
        if result is not None:
            proposed = min(result, proposed) if pick_min else max(result, proposed)
        result = proposed
    return current if result is None else result


def scale_down_limit(current: int, history: History, rules: ScalingRules, now: float) -> int:
    """calculateScaleDownLimitWithBehaviors: the lowest count the scale-down policies allow now."""
    if rules.select_policy == SELECT_DISABLED:
        return current
    pick_min_change = rules.select_policy == SELECT_MIN
    result: int | None = None
    for policy in rules.policies or ():
        start = _period_start(current, history, policy.period_seconds, now)
        # Percent truncates toward zero, like Go's int32() conversion.
        proposed = start - policy.value if policy.type == "Pods" else int(start * (1 - policy.value / 100))
        if result is not None:
            proposed = max(result, proposed) if pick_min_change else min(result, proposed)
        result = proposed
    return current if result is None else result


def legacy_scale_up_limit(current: int) -> int:
    """calculateScaleUpLimit (no `behavior`): at most double, and at least up to 4, per sync."""
    return int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))


def _longest_period(rules: ScalingRules) -> int:
    return max((policy.period_seconds for policy in rules.policies or ()), default=0)


def _store(events: tuple[ScaleEvent, ...], change: int, longest_s: int, now: float) -> tuple[ScaleEvent, ...]:
    cutoff = now - longest_s
    marked = [replace(e, outdated=True) if e.ts < cutoff else e for e in events]
    old_index = None
    for index, event in enumerate(marked):
        if event.outdated:
            old_index = index
    new = ScaleEvent(change, now)
    if old_index is None:
        marked.append(new)
    else:
        marked[old_index] = new
    return tuple(marked)


def store_scale_event(
    history: History, scale_up: ScalingRules, scale_down: ScalingRules, previous: int, new: int, now: float
) -> History:
    """storeScaleEvent (only called when the HPA has `behavior`)."""
    if new > previous:
        events = _store(history.scale_up_events, new - previous, _longest_period(scale_up), now)
        return replace(history, scale_up_events=events)
    events = _store(history.scale_down_events, previous - new, _longest_period(scale_down), now)
    return replace(history, scale_down_events=events)
