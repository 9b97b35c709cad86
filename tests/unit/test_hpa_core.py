"""One sync of the controller (`core.decide`): clamping, multi-metric max, behavior, conditions.

Expected values follow the HPA documentation and upstream's reconcileAutoscaler: the reasons and
condition strings are the ones `kubectl describe hpa` shows on a cluster.
"""

from __future__ import annotations

from typing import Any

import pytest

from hpabench.deploy.hpa.admission import parse_hpa
from hpabench.deploy.hpa.api_model import HorizontalPodAutoscaler
from hpabench.deploy.hpa.conditions import ABLE_TO_SCALE, SCALING_ACTIVE, SCALING_LIMITED, get_condition
from hpabench.deploy.hpa.controller_settings import HpaSettings
from hpabench.deploy.hpa.core import Decision, PriorStatus, decide, rescale_failed, target_unavailable
from hpabench.deploy.hpa.history import History, Recommendation, ScaleEvent
from hpabench.deploy.hpa.inputs import (
    FetchError,
    MetricReading,
    ObjectValues,
    Observation,
    PodMetric,
    PodMetrics,
    PodState,
)

NOW = 100_000.0
CPU_60 = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}
RPS_10 = {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}
SETTINGS = HpaSettings(custom_metrics={"rps": "sum by (pod) (rate(http_requests_total[1m]))", "queue": "q"})


def make_hpa(
    metrics: list[dict[str, Any]] | None = None, min_r: int = 1, max_r: int = 10, behavior: dict[str, Any] | None = None
) -> HorizontalPodAutoscaler:
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": min_r,
        "maxReplicas": max_r,
        "metrics": [CPU_60] if metrics is None else metrics,
    }
    if behavior is not None:
        spec["behavior"] = behavior
    manifest = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": spec,
    }
    return parse_hpa(manifest, "test", SETTINGS)


def pods(count: int) -> tuple[PodState, ...]:
    return tuple(PodState(f"p{i}", "Running", True, False, 0.0, 10.0, {"cpu": 200}) for i in range(count))


def cpu(pod_states: tuple[PodState, ...], millicores: int, ts: float = NOW - 5) -> PodMetrics:
    return PodMetrics({p.name: PodMetric(millicores, ts, 15.0) for p in pod_states})


def observe(count: int, *readings: MetricReading, replicas: int | None = None) -> Observation:
    return Observation(count if replicas is None else replicas, pods(count), readings)


def run(hpa: HorizontalPodAutoscaler, observation: Observation, history: History | None = None,
        now: float = NOW, prior: PriorStatus | None = None) -> Decision:  # fmt: skip
    return decide(hpa, SETTINGS, observation, history or History(), now, prior)


def condition(decision: Decision, type_: str) -> tuple[str, str]:
    found = get_condition(decision.conditions, type_)
    assert found is not None, type_
    return found.status, found.reason


# --- the basic proposal and min/max -----------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "usage", "min_r", "max_r", "desired", "limited"),
    [
        (2, 240, 1, 10, 4, ("False", "DesiredWithinRange")),  # 120 % of request vs 60 % → ×2
        (2, 120, 1, 10, 2, ("False", "DesiredWithinRange")),  # on target
        (2, 600, 1, 5, 4, ("True", "ScaleUpLimit")),  # wants 10; legacy limit max(2×2, 4) = 4
        (4, 600, 1, 5, 5, ("True", "TooManyReplicas")),  # wants 20; max 5 < limit 8
        (4, 10, 2, 10, 2, ("True", "TooFewReplicas")),  # wants 1; min 2
    ],
)
def test_proposal_clamped_by_limits(
    count: int, usage: int, min_r: int, max_r: int, desired: int, limited: tuple[str, str]
) -> None:
    hpa = make_hpa(min_r=min_r, max_r=max_r)
    pod_states = pods(count)
    # a fresh history holds only the current count, so scale-downs are stabilized: seed it old
    history = History().with_initial_recommendation(count, NOW - 1000)
    decision = run(hpa, Observation(count, pod_states, (cpu(pod_states, usage),)), history)
    assert decision.desired_replicas == desired
    assert decision.rescale is (desired != count)
    assert condition(decision, SCALING_LIMITED) == limited
    assert condition(decision, SCALING_ACTIVE) == ("True", "ValidMetricFound")


@pytest.mark.parametrize(
    ("current", "min_r", "max_r", "desired", "reason"),
    [
        (7, 1, 4, 4, "Current number of replicas above Spec.MaxReplicas"),
        (1, 3, 6, 3, "Current number of replicas below Spec.MinReplicas"),
    ],
)
def test_out_of_range_is_clamped_without_metrics(
    current: int, min_r: int, max_r: int, desired: int, reason: str
) -> None:
    decision = run(make_hpa(min_r=min_r, max_r=max_r), observe(current, FetchError("no metrics yet")))
    assert (decision.desired_replicas, decision.rescale, decision.reason) == (desired, True, reason)
    assert decision.raw_recommendation is None
    assert condition(decision, ABLE_TO_SCALE) == ("True", "SucceededRescale")
    assert get_condition(decision.conditions, SCALING_ACTIVE) is None  # metrics were not consulted


def test_target_at_zero_replicas_disables_scaling() -> None:
    decision = run(make_hpa(), Observation(0, (), (FetchError("x"),)))
    assert (decision.desired_replicas, decision.rescale) == (0, False)
    assert condition(decision, SCALING_ACTIVE) == ("False", "ScalingDisabled")


def test_scale_up_reason_and_conditions() -> None:
    pod_states = pods(2)
    decision = run(make_hpa(), Observation(2, pod_states, (cpu(pod_states, 240),)))
    assert decision.reason == "cpu resource utilization (percentage of request) above target"
    assert (decision.raw_recommendation, decision.stabilized_recommendation) == (4, 4)
    assert condition(decision, ABLE_TO_SCALE) == ("True", "SucceededRescale")
    status = decision.metrics[0]
    assert (status.name, status.target_type, status.current, status.target) == ("cpu", "utilization", 120.0, 60.0)
    assert status.average_value == pytest.approx(0.24)
    assert decision.metrics_age_s == pytest.approx(5.0)
    assert (decision.ready_pods, decision.unready_pods, decision.missing_pods) == (2, 0, 0)


# --- several metrics --------------------------------------------------------------------------


def rps(pod_states: tuple[PodState, ...], per_pod: float) -> PodMetrics:
    return PodMetrics({p.name: PodMetric(int(per_pod * 1000), NOW - 1, 15.0) for p in pod_states})


def test_the_largest_proposal_wins() -> None:
    hpa = make_hpa([CPU_60, RPS_10], behavior={})  # default policies allow 2 → 6 in one step
    pod_states = pods(2)
    decision = run(hpa, Observation(2, pod_states, (cpu(pod_states, 180), rps(pod_states, 25))))
    assert [m.proposal for m in decision.metrics] == [3, 5]
    assert decision.desired_replicas == 5
    assert decision.reason == "pods metric rps above target"


def test_a_failing_metric_does_not_block_a_scale_up() -> None:
    hpa = make_hpa([CPU_60, RPS_10])
    pod_states = pods(2)
    decision = run(hpa, Observation(2, pod_states, (cpu(pod_states, 240), FetchError("prometheus down"))))
    assert decision.desired_replicas == 4
    assert condition(decision, SCALING_ACTIVE) == ("True", "ValidMetricFound")
    assert decision.metrics[1].error == "unable to get metric rps: prometheus down"
    assert ("FailedGetPodsMetric", "unable to get metric rps: prometheus down") in decision.warnings


def test_a_failing_metric_blocks_a_scale_down() -> None:
    hpa = make_hpa([CPU_60, RPS_10])
    pod_states = pods(4)
    history = History().with_initial_recommendation(4, NOW - 1000)
    decision = run(hpa, Observation(4, pod_states, (cpu(pod_states, 30), FetchError("prometheus down"))), history,
                   prior=PriorStatus(desired_replicas=4))  # fmt: skip
    assert (decision.desired_replicas, decision.rescale) == (4, False)
    assert condition(decision, SCALING_ACTIVE) == ("False", "FailedGetPodsMetric")
    assert decision.reason.startswith("FailedComputeMetricsReplicas: invalid metrics (1 invalid out of 2)")


def test_all_metrics_failing() -> None:
    decision = run(make_hpa(), observe(2, PodMetrics({})))
    assert decision.rescale is False
    assert decision.desired_replicas == 0  # status.desiredReplicas of a fresh HPA, as on a cluster
    found = get_condition(decision.conditions, SCALING_ACTIVE)
    assert found is not None and (found.status, found.reason) == ("False", "FailedGetResourceMetric")
    assert found.message == (
        "the HPA was unable to compute the replica count: failed to get cpu utilization: "
        "unable to get metrics for resource cpu: no metrics returned from resource metrics API"
    )
    assert decision.metrics[0].current is None


def test_object_and_external_metrics() -> None:
    obj = {
        "type": "Object",
        "object": {
            "describedObject": {"apiVersion": "v1", "kind": "Service", "name": "web"},
            "metric": {"name": "rps"},
            "target": {"type": "Value", "value": "100"},
        },
    }
    ext = {
        "type": "External",
        "external": {"metric": {"name": "queue"}, "target": {"type": "AverageValue", "averageValue": "5"}},
    }
    hpa = make_hpa([obj, ext], behavior={})
    observation = observe(2, ObjectValues((250_000,), NOW - 2), ObjectValues((12_000, 18_000), NOW - 3))
    decision = run(hpa, observation)
    # Object: ratio 2.5 × 2 ready pods = 5; External: 30 / 5 = 6 per-pod target → 6.
    assert [m.proposal for m in decision.metrics] == [5, 6]
    assert [m.current for m in decision.metrics] == [250.0, 15.0]  # external shows the per-pod value
    assert decision.desired_replicas == 6
    assert decision.reason == "external metric queue(nil) above target"


# --- behavior -----------------------------------------------------------------------------------


def test_behavior_absent_uses_legacy_limits_and_flag_window() -> None:
    hpa = make_hpa(max_r=20)
    one = pods(1)
    up = run(hpa, Observation(1, one, (cpu(one, 1200),)))  # 600 % of request vs 60 %: wants 10
    assert (up.desired_replicas, condition(up, SCALING_LIMITED)) == (4, ("True", "ScaleUpLimit"))
    assert up.history.scale_up_events == ()  # legacy mode keeps no scale events
    # Load gone a minute later: the unstabilized 10 is still inside the 300 s window, so the
    # legacy controller keeps scaling *up* toward it (limited to 2 × 4) — a window, not a cooldown.
    four = pods(4)
    more = run(hpa, Observation(4, four, (cpu(four, 10),)), up.history, NOW + 60, up.prior())
    assert (more.raw_recommendation, more.stabilized_recommendation, more.desired_replicas) == (1, 10, 8)
    eight = pods(8)
    free = run(hpa, Observation(8, eight, (cpu(eight, 10),)), more.history, NOW + 301, more.prior())
    assert (free.desired_replicas, free.rescale, free.reason) == (1, True, "All metrics below target")


def test_legacy_scale_down_is_stabilized() -> None:
    four = pods(4)
    history = History().with_initial_recommendation(4, NOW - 100)
    held = run(make_hpa(), Observation(4, four, (cpu(four, 10),)), history)
    assert (held.desired_replicas, held.rescale, held.reason) == (4, False, "ScaleDownStabilized")
    assert condition(held, ABLE_TO_SCALE) == ("True", "ScaleDownStabilized")
    assert (held.raw_recommendation, held.stabilized_recommendation) == (1, 4)


def test_empty_behavior_gets_the_api_defaults() -> None:
    hpa = make_hpa(max_r=50, behavior={})
    assert hpa.spec.behavior is not None and hpa.spec.behavior.scale_up is not None
    pod_states = pods(2)
    first = run(hpa, Observation(2, pod_states, (cpu(pod_states, 1200),)))  # wants 20
    assert first.desired_replicas == 6  # Max(2 + 4 pods, 2 × 100 %) per 15 s
    six = pods(6)
    within = run(hpa, Observation(6, six, (cpu(six, 1200),)), first.history, NOW + 10, first.prior())
    assert (within.desired_replicas, condition(within, SCALING_LIMITED)) == (6, ("True", "ScaleUpLimit"))
    later = run(hpa, Observation(6, six, (cpu(six, 1200),)), within.history, NOW + 16, within.prior())
    assert later.desired_replicas == 12  # the period has passed: Max(6 + 4, 6 × 2)


def test_unset_scale_down_window_comes_from_the_flag() -> None:
    settings = HpaSettings(downscale_stabilization_s=30, custom_metrics=SETTINGS.custom_metrics)
    hpa = make_hpa(behavior={"scaleUp": {"stabilizationWindowSeconds": 0}})
    four = pods(4)
    history = History().with_initial_recommendation(4, NOW)
    held = decide(hpa, settings, Observation(4, four, (cpu(four, 10),)), history, NOW + 20)
    assert held.desired_replicas == 4
    free = decide(hpa, settings, Observation(4, four, (cpu(four, 10),)), held.history, NOW + 31)
    assert free.desired_replicas == 1


def policy(type_: str, value: int, period_s: int) -> dict[str, Any]:
    return {"type": type_, "value": value, "periodSeconds": period_s}


@pytest.mark.parametrize(
    ("scale_down", "expected", "limited"),
    [
        ({"selectPolicy": "Disabled"}, 8, ("True", "ScaleDownLimit")),
        ({"policies": [policy("Pods", 2, 60)]}, 6, ("True", "ScaleDownLimit")),
        ({"policies": [policy("Percent", 50, 60)]}, 4, ("True", "ScaleDownLimit")),
        (
            {"selectPolicy": "Min", "policies": [policy("Percent", 50, 60), policy("Pods", 1, 60)]},
            7,
            ("True", "ScaleDownLimit"),
        ),
        ({}, 2, ("True", "TooFewReplicas")),  # default: 100 % per 15 s → min replicas
    ],
)
def test_scale_down_policies(scale_down: dict[str, Any], expected: int, limited: tuple[str, str]) -> None:
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 0, **scale_down}}
    hpa = make_hpa(min_r=2, behavior=behavior)
    eight = pods(8)
    decision = run(hpa, Observation(8, eight, (cpu(eight, 10),)))
    assert decision.desired_replicas == expected
    assert condition(decision, SCALING_LIMITED) == limited


def test_scale_up_disabled_and_stabilized() -> None:
    disabled = make_hpa(behavior={"scaleUp": {"selectPolicy": "Disabled"}})
    two = pods(2)
    decision = run(disabled, Observation(2, two, (cpu(two, 600),)))
    assert (decision.desired_replicas, decision.rescale) == (2, False)
    assert condition(decision, SCALING_LIMITED) == ("True", "ScaleUpLimit")

    windowed = make_hpa(behavior={"scaleUp": {"stabilizationWindowSeconds": 60}})
    first = run(windowed, Observation(2, two, (cpu(two, 600),)))  # the initial recommendation (2) holds it
    assert (first.desired_replicas, first.reason) == (2, "ScaleUpStabilized")
    assert condition(first, ABLE_TO_SCALE) == ("True", "ScaleUpStabilized")
    after = run(windowed, Observation(2, two, (cpu(two, 600),)), first.history, NOW + 61, first.prior())
    assert after.desired_replicas == 6  # every recommendation in the window now says ≥ 10 → policies: 2 + 4


def test_scale_up_limit_below_current_never_scales_down() -> None:
    # 8 pods were added 10 s ago; a 4-pods-per-60-s policy now allows 2 + 4 = 6 < 10 current:
    # the limit is raised to the current count, the HPA must not remove pods while wanting more.
    hpa = make_hpa(max_r=50, behavior={"scaleUp": {"policies": [policy("Pods", 4, 60)]}})
    ten = pods(10)
    history = History(recommendations=(Recommendation(10, NOW - 10),), scale_up_events=(ScaleEvent(8, NOW - 10),))
    decision = run(hpa, Observation(10, ten, (cpu(ten, 240),)), history)
    assert (decision.desired_replicas, decision.rescale) == (10, False)
    assert condition(decision, SCALING_LIMITED) == ("True", "ScaleUpLimit")


def test_scale_down_limit_above_current_never_scales_up() -> None:
    # 4 pods were removed 10 s ago; a 1-pod-per-60-s policy now allows 9 - 1 = 8 > 5 current:
    # the limit is lowered to the current count, the HPA must not add pods while wanting fewer.
    hpa = make_hpa(behavior={"scaleDown": {"stabilizationWindowSeconds": 0, "policies": [policy("Pods", 1, 60)]}})
    five = pods(5)
    history = History(recommendations=(Recommendation(5, NOW - 10),), scale_down_events=(ScaleEvent(4, NOW - 10),))
    decision = run(hpa, Observation(5, five, (cpu(five, 10),)), history)
    assert (decision.desired_replicas, decision.rescale) == (5, False)
    assert condition(decision, SCALING_LIMITED) == ("True", "ScaleDownLimit")


def test_an_idle_metric_still_names_itself() -> None:
    four = pods(4)
    decision = run(
        make_hpa(), Observation(4, four, (cpu(four, 0),)), History().with_initial_recommendation(4, NOW - 900)
    )
    assert decision.raw_recommendation == 0 and decision.desired_replicas == 1
    found = get_condition(decision.conditions, SCALING_ACTIVE)
    assert found is not None and found.message.endswith("from cpu resource utilization (percentage of request)")
    assert decision.metrics_age_s == pytest.approx(5.0)


def test_behavior_tolerance_overrides_the_flag() -> None:
    hpa = make_hpa(behavior={"scaleUp": {"tolerance": "0.5"}})
    two = pods(2)
    decision = run(hpa, Observation(2, two, (cpu(two, 168),)))  # 84 % of request vs 60 % → ratio 1.4
    assert (decision.desired_replicas, decision.rescale) == (2, False)
    plain = run(make_hpa(), Observation(2, two, (cpu(two, 168),)))
    assert plain.desired_replicas == 3


# --- failures around the scale update -------------------------------------------------------------


def test_rescale_failed_keeps_history_and_status_honest() -> None:
    hpa = make_hpa(behavior={})
    two = pods(2)
    decision = run(hpa, Observation(2, two, (cpu(two, 240),)), prior=PriorStatus(desired_replicas=2))
    assert decision.history.scale_up_events  # the success path records the event
    failed = rescale_failed(decision, "conflict")
    assert (failed.rescale, failed.desired_replicas) == (False, 2)
    assert failed.history.scale_up_events == ()
    assert condition(failed, ABLE_TO_SCALE) == ("False", "FailedUpdateScale")
    assert failed.last_scale_ts is None
    assert failed.reason.startswith("FailedRescale: New size: 4; reason: cpu resource utilization")


def test_target_unavailable() -> None:
    decision = target_unavailable(PriorStatus(desired_replicas=3), History(), "deployment web not found", NOW, 3)
    assert condition(decision, ABLE_TO_SCALE) == ("False", "FailedGetScale")
    assert (decision.desired_replicas, decision.current_replicas, decision.rescale) == (3, 3, False)


def test_condition_transition_time_moves_only_on_status_change() -> None:
    two = pods(2)
    first = run(make_hpa(), Observation(2, two, (cpu(two, 120),)))
    second = run(make_hpa(), Observation(2, two, (cpu(two, 120),)), first.history, NOW + 15, first.prior())
    active_1 = get_condition(first.conditions, SCALING_ACTIVE)
    active_2 = get_condition(second.conditions, SCALING_ACTIVE)
    assert active_1 is not None and active_2 is not None
    assert active_2.last_transition_ts == active_1.last_transition_ts == NOW
    third = run(make_hpa(), Observation(2, two, (PodMetrics({}),)), second.history, NOW + 30, second.prior())
    active_3 = get_condition(third.conditions, SCALING_ACTIVE)
    assert active_3 is not None and active_3.last_transition_ts == NOW + 30


def test_an_unknown_metric_source_type_is_an_invalid_metric_not_a_crash() -> None:
    """The parser refuses such a metric up front; the core, called directly, must not raise."""
    from hpabench.deploy.hpa.api_model import MetricSpec

    hpa = make_hpa([CPU_60, CPU_60])
    bogus = MetricSpec.model_validate({"type": "Bogus"})
    hpa = hpa.model_copy(update={"spec": hpa.spec.model_copy(update={"metrics": [hpa.spec.metrics[0], bogus]})})
    pod_states = pods(4)
    history = History().with_initial_recommendation(4, NOW - 1000)
    low = Observation(4, pod_states, (cpu(pod_states, 30), PodMetrics({})))
    decision = run(hpa, low, history, prior=PriorStatus(desired_replicas=4))
    # CPU alone would scale 4 → 1; the invalid metric holds the scale-down, as upstream does.
    assert (decision.desired_replicas, decision.rescale) == (4, False)
    assert condition(decision, SCALING_ACTIVE) == ("False", "InvalidMetricSourceType")
    assert decision.metrics[1].error == "unknown metric source type 'Bogus'"
    high = Observation(4, pod_states, (cpu(pod_states, 240), PodMetrics({})))
    assert run(hpa, high, history, prior=PriorStatus(desired_replicas=4)).desired_replicas == 8
