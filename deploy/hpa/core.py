"""The HPA decision core: one sync of the autoscaling/v2 controller, as a pure function.

```
decide(hpa, settings, observation, history, now, prior) -> Decision
```

Inputs (no clock, no I/O):
  * `hpa`: the defaulted `HorizontalPodAutoscaler` model (`validate.parse_hpa`);
  * `settings`: `HpaSettings` (tolerance, downscale window, CPU initialization period,
    initial readiness delay — the kube-controller-manager flags);
  * `observation`: the target's `spec.replicas`, its pods (`PodState`) and one metric reading per
    `spec.metrics` entry (`inputs.py`), values in milli-units with timestamps;
  * `history`: past unstabilized recommendations and scale events (`history.py`);
  * `now`: unix seconds; `prior`: last sync's conditions / desired replicas / last scale time.

Output: a frozen `Decision` — desired replicas and whether to rescale, the raw (max over metrics)
and stabilized recommendations, one `MetricStatus` per metric with its proposal, the rescale
reason, the AbleToScale / ScalingActive / ScalingLimited conditions with upstream's reasons, the
pod grouping counts, and the updated history (`history` assumes the rescale succeeds; call
`rescale_failed` when the scale update errs).

The order of decisions is upstream's `reconcileAutoscaler`: target at 0 replicas → scaling
disabled; outside [min, max] → clamp without looking at metrics; otherwise metrics → proposal →
stabilization → rate limits (policies with `behavior`, max(2×, 4) without) → min/max.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hpabench.deploy.hpa.api_model import HorizontalPodAutoscaler, ScalingRules
from hpabench.deploy.hpa.conditions import (
    ABLE_TO_SCALE,
    FALSE,
    SCALING_ACTIVE,
    SCALING_LIMITED,
    TRUE,
    Condition,
    get_condition,
    set_condition,
)
from hpabench.deploy.hpa.controller_settings import HpaSettings
from hpabench.deploy.hpa.evaluate import MetricStatus, compute_replicas_for_metrics
from hpabench.deploy.hpa.history import (
    History,
    legacy_scale_up_limit,
    scale_down_limit,
    scale_up_limit,
    stabilize_legacy,
    stabilize_with_behavior,
    store_scale_event,
)
from hpabench.deploy.hpa.inputs import Observation
from hpabench.deploy.hpa.replicas import PodGroups, Timing, Tolerances

WITHIN_RANGE = "DesiredWithinRange"
WITHIN_RANGE_MESSAGE = "the desired count is within the acceptable range"
SCALE_UP_LIMIT = ("ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
SCALE_DOWN_LIMIT = ("ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")
TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")


@dataclass(frozen=True)
class PriorStatus:
    """The HPA status a sync starts from (what the API object would hold)."""

    conditions: tuple[Condition, ...] = ()
    desired_replicas: int = 0
    last_scale_ts: float | None = None


@dataclass(frozen=True)
class Decision:
    """The outcome of one sync (see the module docstring). Replica counts are pods."""

    ts: float
    current_replicas: int
    desired_replicas: int
    rescale: bool
    reason: str
    raw_recommendation: int | None
    stabilized_recommendation: int | None
    metrics: tuple[MetricStatus, ...]
    conditions: tuple[Condition, ...]
    ready_pods: int
    unready_pods: int
    missing_pods: int
    ignored_pods: int
    metrics_ts: float | None
    last_scale_ts: float | None
    history: History
    history_if_not_scaled: History
    prior_status: PriorStatus
    warnings: tuple[tuple[str, str], ...] = field(default=())

    def prior(self) -> PriorStatus:
        """The status the next sync starts from."""
        return PriorStatus(self.conditions, self.desired_replicas, self.last_scale_ts)

    @property
    def metrics_age_s(self) -> float | None:
        return None if self.metrics_ts is None else self.ts - self.metrics_ts


def tolerances_for(hpa: HorizontalPodAutoscaler, settings: HpaSettings) -> Tolerances:
    """The flag's tolerance, overridden per direction by `behavior.*.tolerance` when set."""
    down = up = settings.tolerance
    behavior = hpa.spec.behavior
    if behavior is not None:
        if behavior.scale_down is not None and behavior.scale_down.tolerance is not None:
            down = behavior.scale_down.tolerance.as_float()
        if behavior.scale_up is not None and behavior.scale_up.tolerance is not None:
            up = behavior.scale_up.tolerance.as_float()
    return Tolerances(down=down, up=up)


def _rules(hpa: HorizontalPodAutoscaler, settings: HpaSettings) -> tuple[ScalingRules, ScalingRules]:
    behavior = hpa.spec.behavior
    assert behavior is not None and behavior.scale_up is not None and behavior.scale_down is not None
    scale_down = behavior.scale_down
    if scale_down.stabilization_window_seconds is None:
        # maybeInitScaleDownStabilizationWindow: the flag fills an unset scale-down window.
        scale_down = scale_down.model_copy(update={"stabilization_window_seconds": settings.downscale_stabilization_s})
    return behavior.scale_up, scale_down


def _convert_with_rules(current: int, desired: int, min_r: int, max_r: int) -> tuple[int, str, str]:
    """convertDesiredReplicasWithRules (no `behavior`): max(2 × current, 4), then min/max."""
    limit = legacy_scale_up_limit(current)
    maximum, (reason, message) = (limit, SCALE_UP_LIMIT) if max_r > limit else (max_r, TOO_MANY)
    if desired < min_r:
        return min_r, TOO_FEW[0], TOO_FEW[1]
    if desired > maximum:
        return maximum, reason, message
    return desired, WITHIN_RANGE, WITHIN_RANGE_MESSAGE


def _convert_with_behavior(
    current: int,
    desired: int,
    bounds: tuple[int, int],
    history: History,
    rules: tuple[ScalingRules, ScalingRules],
    now: float,
) -> tuple[int, str, str]:
    """convertDesiredReplicasWithBehaviorRate: the policies' limit, then min/max (`bounds`)."""
    min_r, max_r = bounds
    up, down = rules
    if desired > current:
        # Never below current: events still inside their period must not force a scale-down.
        limit = max(scale_up_limit(current, history, up, now), current)
        maximum, (reason, message) = (limit, SCALE_UP_LIMIT) if max_r > limit else (max_r, TOO_MANY)
        if desired > maximum:
            return maximum, reason, message
    elif desired < current:
        limit = min(scale_down_limit(current, history, down, now), current)
        minimum, (reason, message) = (limit, SCALE_DOWN_LIMIT) if min_r < limit else (min_r, TOO_FEW)
        if desired < minimum:
            return minimum, reason, message
    return desired, WITHIN_RANGE, WITHIN_RANGE_MESSAGE


def _limited(
    conditions: tuple[Condition, ...], final: int, stabilized: int, reason: str, message: str, now: float
) -> tuple[Condition, ...]:
    status = FALSE if final == stabilized else TRUE
    return set_condition(conditions, SCALING_LIMITED, status, reason, message, now)


def _groups_summary(statuses: tuple[MetricStatus, ...], chosen_index: int | None) -> PodGroups | None:
    if chosen_index is not None and statuses[chosen_index].groups is not None:
        return statuses[chosen_index].groups
    return next((s.groups for s in statuses if s.groups is not None), None)


def decide(
    hpa: HorizontalPodAutoscaler,
    settings: HpaSettings,
    observation: Observation,
    history: History,
    now: float,
    prior: PriorStatus | None = None,
) -> Decision:
    """One sync of the controller; see the module docstring for the contract."""
    prior = prior or PriorStatus()
    conditions = set_condition(
        prior.conditions, ABLE_TO_SCALE, TRUE, "SucceededGetScale",
        "the HPA controller was able to get the target's current scale", now,
    )  # fmt: skip
    current = observation.spec_replicas
    history = history.with_initial_recommendation(current, now)
    min_r, max_r = hpa.min_replicas, hpa.max_replicas
    statuses: tuple[MetricStatus, ...] = ()
    warnings: tuple[tuple[str, str], ...] = ()
    raw: int | None = None
    stabilized: int | None = None
    metrics_ts: float | None = None
    chosen_index: int | None = None
    reason = ""
    rescale = True

    if current == 0 and min_r != 0:
        desired = 0
        rescale = False
        reason = "ScalingDisabled"
        conditions = set_condition(
            conditions, SCALING_ACTIVE, FALSE, "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero", now,
        )  # fmt: skip
    elif current > max_r:
        reason = "Current number of replicas above Spec.MaxReplicas"
        desired = max_r
    elif current < min_r:
        reason = "Current number of replicas below Spec.MinReplicas"
        desired = min_r
    else:
        timing = Timing(settings.cpu_initialization_period_s, settings.initial_readiness_delay_s, now)
        outcome = compute_replicas_for_metrics(hpa.metrics, observation, tolerances_for(hpa, settings), timing)
        statuses, warnings = outcome.statuses, outcome.warnings
        if outcome.failed:
            assert outcome.failed_condition is not None and outcome.error is not None
            type_, status, cond_reason, message = outcome.failed_condition
            conditions = set_condition(conditions, type_, status, cond_reason, message, now)
            warnings = (*warnings, ("FailedComputeMetricsReplicas", outcome.error))
            groups = _groups_summary(statuses, None)
            return Decision(
                ts=now, current_replicas=current, desired_replicas=prior.desired_replicas, rescale=False,
                reason=f"FailedComputeMetricsReplicas: {outcome.error}", raw_recommendation=None,
                stabilized_recommendation=None, metrics=statuses, conditions=conditions,
                ready_pods=groups.ready_count if groups else 0,
                unready_pods=len(groups.unready) if groups else 0,
                missing_pods=len(groups.missing) if groups else 0,
                ignored_pods=len(groups.ignored) if groups else 0,
                metrics_ts=None, last_scale_ts=prior.last_scale_ts, history=history,
                history_if_not_scaled=history, prior_status=prior,
                warnings=warnings,
            )  # fmt: skip
        conditions = set_condition(
            conditions, SCALING_ACTIVE, TRUE, "ValidMetricFound",
            f"the HPA was able to successfully calculate a replica count from {outcome.metric}", now,
        )  # fmt: skip
        metrics_ts = outcome.ts
        chosen_index = next((s.index for s in statuses if s.description == outcome.metric), None)
        raw = outcome.replicas
        desired = 0
        rescale_metric = ""
        if raw > desired:
            desired, rescale_metric = raw, outcome.metric
        if desired > current:
            reason = f"{rescale_metric} above target"
        if desired < current:
            reason = "All metrics below target"
        if hpa.spec.behavior is None:
            stabilized, history = stabilize_legacy(history, desired, settings.downscale_stabilization_s, now)
            if stabilized != desired:
                conditions = set_condition(
                    conditions, ABLE_TO_SCALE, TRUE, "ScaleDownStabilized",
                    "recent recommendations were higher than current one, applying the highest recent recommendation",
                    now,
                )  # fmt: skip
            else:
                conditions = set_condition(
                    conditions, ABLE_TO_SCALE, TRUE, "ReadyForNewScale", "recommended size matches current size", now
                )
            final, lim_reason, lim_message = _convert_with_rules(current, stabilized, min_r, max_r)
        else:
            up, down = _rules(hpa, settings)
            result = stabilize_with_behavior(
                history, desired, current, float(up.stabilization_window_seconds or 0),
                float(down.stabilization_window_seconds or 0), now,
            )  # fmt: skip
            stabilized, history = result.replicas, result.history
            if stabilized != desired:
                conditions = set_condition(conditions, ABLE_TO_SCALE, TRUE, result.reason, result.message, now)
            else:
                conditions = set_condition(
                    conditions, ABLE_TO_SCALE, TRUE, "ReadyForNewScale", "recommended size matches current size", now
                )
            final, lim_reason, lim_message = _convert_with_behavior(
                current, stabilized, (min_r, max_r), history, (up, down), now
            )
        conditions = _limited(conditions, final, stabilized, lim_reason, lim_message, now)
        desired = final
        rescale = desired != current

    history_if_not_scaled = history
    last_scale_ts = prior.last_scale_ts
    if rescale:
        conditions = set_condition(
            conditions, ABLE_TO_SCALE, TRUE, "SucceededRescale",
            f"the HPA controller was able to update the target scale to {desired}", now,
        )  # fmt: skip
        if hpa.spec.behavior is not None:
            up, down = _rules(hpa, settings)
            history = store_scale_event(history, up, down, current, desired, now)
        last_scale_ts = now
    else:
        if raw is not None:
            reason = _why_not(conditions)
        desired = current
    groups = _groups_summary(statuses, chosen_index)
    return Decision(
        ts=now, current_replicas=current, desired_replicas=desired, rescale=rescale, reason=reason,
        raw_recommendation=raw, stabilized_recommendation=stabilized, metrics=statuses,
        conditions=conditions,
        ready_pods=groups.ready_count if groups else 0,
        unready_pods=len(groups.unready) if groups else 0,
        missing_pods=len(groups.missing) if groups else 0,
        ignored_pods=len(groups.ignored) if groups else 0,
        metrics_ts=metrics_ts, last_scale_ts=last_scale_ts, history=history,
        history_if_not_scaled=history_if_not_scaled, prior_status=prior,
        warnings=warnings,
    )  # fmt: skip


def _why_not(conditions: tuple[Condition, ...]) -> str:
    """Why a sync with valid metrics did not rescale: the limiting or stabilizing reason."""
    limited = get_condition(conditions, SCALING_LIMITED)
    if limited is not None and limited.status == TRUE:
        return limited.reason
    able = get_condition(conditions, ABLE_TO_SCALE)
    if able is not None and able.reason in ("ScaleUpStabilized", "ScaleDownStabilized"):
        return able.reason
    return "ReadyForNewScale"


def rescale_failed(decision: Decision, error: str) -> Decision:
    """The scale update failed: AbleToScale=False FailedUpdateScale, no scale event recorded,
    desired replicas stay at the previous status (upstream's setCurrentReplicasAndMetricsInStatus)."""
    if not decision.rescale:
        return decision
    conditions = set_condition(
        decision.conditions, ABLE_TO_SCALE, FALSE, "FailedUpdateScale",
        f"the HPA controller was unable to update the target scale: {error}", decision.ts,
    )  # fmt: skip
    message = f"New size: {decision.desired_replicas}; reason: {decision.reason}; error: {error}"
    return replace(
        decision,
        desired_replicas=decision.prior_status.desired_replicas,
        rescale=False,
        reason=f"FailedRescale: {message}",
        conditions=conditions,
        history=decision.history_if_not_scaled,
        last_scale_ts=decision.prior_status.last_scale_ts,
        warnings=(*decision.warnings, ("FailedRescale", message)),
    )


def target_unavailable(prior: PriorStatus, history: History, error: str, now: float, last_current: int) -> Decision:
    """The scale target could not be read: AbleToScale=False FailedGetScale, nothing else changes
    (`last_current` is the current replica count the status last showed)."""
    message = f"the HPA controller was unable to get the target's current scale: {error}"
    conditions = set_condition(prior.conditions, ABLE_TO_SCALE, FALSE, "FailedGetScale", message, now)
    return Decision(
        ts=now, current_replicas=last_current, desired_replicas=prior.desired_replicas, rescale=False,
        reason=f"FailedGetScale: {error}", raw_recommendation=None, stabilized_recommendation=None,
        metrics=(), conditions=conditions, ready_pods=0, unready_pods=0, missing_pods=0, ignored_pods=0,
        metrics_ts=None, last_scale_ts=prior.last_scale_ts, history=history, history_if_not_scaled=history,
        prior_status=prior, warnings=(("FailedGetScale", error),),
    )  # fmt: skip
