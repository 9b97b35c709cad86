"""The replica calculator, table-driven from the documented algorithm (upstream replica_calculator.go).

Defaults in these tables: CPU requests of 1000m per pod, target 50 % utilization, tolerance 0.1,
CPU initialization period 300 s, initial readiness delay 30 s, pods started long ago.
"""

from __future__ import annotations

import pytest

from hpabench.deploy.hpa.inputs import PodMetric, PodState
from hpabench.deploy.hpa.replicas import (
    CalcError,
    Timing,
    Tolerances,
    group_pods,
    object_value_replicas,
    per_pod_value_replicas,
    plain_metric_replicas,
    resource_utilization_replicas,
    usage_ratio_replicas,
)

NOW = 10_000.0
TOL = Tolerances(0.1, 0.1)
TIMING = Timing(cpu_initialization_period_s=300.0, initial_readiness_delay_s=30.0, now=NOW)


def pod(
    name: str,
    *,
    phase: str = "Running",
    ready: bool = True,
    deleting: bool = False,
    start: float | None = 0.0,
    transition: float | None = 10.0,
    cpu_request: int | None = 1000,
) -> PodState:
    requests = {"cpu": cpu_request, "memory": 256 * 2**20 * 1000} if cpu_request is not None else {}
    return PodState(name, phase, ready, deleting, start, transition, requests)


def metric(milli: int, ts: float = NOW - 5, window_s: float = 15.0) -> PodMetric:
    return PodMetric(milli, ts, window_s)


def running(count: int) -> tuple[PodState, ...]:
    return tuple(pod(f"p{i}") for i in range(count))


def same_usage(pods: tuple[PodState, ...], milli: int) -> dict[str, PodMetric]:
    return {p.name: metric(milli) for p in pods}


@pytest.mark.parametrize(
    ("pods", "usage_milli", "target_pct", "expected"),
    [
        (3, 500, 50, 3),  # exactly on target
        (10, 550, 50, 10),  # ratio 1.10: the upper tolerance edge is inclusive
        (10, 560, 50, 12),  # ratio 1.12 → ceil(11.2)
        (10, 450, 50, 10),  # ratio 0.90: the lower edge is inclusive
        (10, 440, 50, 9),  # ratio 0.88 → ceil(8.8)
        (2, 1000, 50, 4),  # ratio 2
        (4, 100, 50, 1),  # ratio 0.2 → ceil(0.8)
        (3, 0, 50, 0),  # idle: the core clamps to minReplicas later
        (3, 332, 30, 3),  # 33.2 % truncates to 33 % → ratio 1.1 → within tolerance
        (3, 340, 30, 4),  # 34 % → ratio 1.133 → ceil(3.4)
    ],
)
def test_utilization_tolerance_and_rounding(pods: int, usage_milli: int, target_pct: int, expected: int) -> None:
    group = running(pods)
    proposal = resource_utilization_replicas(
        pods, target_pct, "cpu", TOL, group, same_usage(group, usage_milli), TIMING
    )
    assert proposal.replicas == expected
    assert proposal.utilization_pct == usage_milli * 100 // 1000
    assert proposal.usage_milli == usage_milli


def test_utilization_averages_usage_over_requests() -> None:
    group = (pod("a", cpu_request=500), pod("b", cpu_request=1500))
    metrics = {"a": metric(500), "b": metric(500)}  # 1000m of 2000m requested = 50 %
    proposal = resource_utilization_replicas(2, 25, "cpu", TOL, group, metrics, TIMING)
    assert (proposal.utilization_pct, proposal.replicas) == (50, 4)


@pytest.mark.parametrize(
    ("tolerances", "usage_milli", "expected"),
    [
        (Tolerances(down=0.1, up=0.0), 510, 11),  # no scale-up tolerance: 1.02 → ceil(10.2)
        (Tolerances(down=0.1, up=0.05), 520, 10),  # 1.04 is within +5 %
        (Tolerances(down=0.3, up=0.1), 360, 10),  # 0.72 is within -30 %
        (Tolerances(down=0.2, up=0.1), 360, 8),  # 0.72 is not within -20 %: ceil(7.2)
    ],
)
def test_per_direction_tolerances(tolerances: Tolerances, usage_milli: int, expected: int) -> None:
    group = running(10)
    proposal = resource_utilization_replicas(10, 50, "cpu", tolerances, group, same_usage(group, usage_milli), TIMING)
    assert proposal.replicas == expected


# --- missing and unready pods --------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "pods", "metrics", "target_pct", "expected"),
    [
        # Scale-up with missing pods: they count as 0 % → 2000m/4000m = 50 % → within tolerance.
        (
            "missing-up-dampened",
            (pod("a"), pod("b"), pod("c"), pod("d")),
            {"a": metric(1000), "b": metric(1000)},
            50,
            4,
        ),
        # Scale-down with a missing pod: it counts as 100 % of request → 1300/4000 = 32 % → ceil(2.56).
        (
            "missing-down-at-request",
            (pod("a"), pod("b"), pod("c"), pod("d")),
            {"a": metric(100), "b": metric(100), "c": metric(100)},
            50,
            3,
        ),
        # Scale-down with a missing pod that flips the direction (40 % → 70 %): no change.
        ("missing-flips-direction", (pod("a"), pod("b")), {"a": metric(400)}, 50, 2),
        # Target above 100 %: a missing pod counts at the target on a scale-down → 3600/4000 = 90 %.
        (
            "missing-down-at-target-above-100",
            (pod("a"), pod("b"), pod("c"), pod("d")),
            {"a": metric(300), "b": metric(300)},
            150,
            3,
        ),
        # Scale-up with unready pods: they count as 0 % → 2000/4000 = 50 % → within tolerance.
        (
            "unready-up-dampened",
            (pod("a"), pod("b"), pod("c", ready=False, transition=5.0), pod("d", phase="Pending", start=None)),
            {"a": metric(1000), "b": metric(1000), "c": metric(1000)},
            50,
            4,
        ),
        # Scale-up with unready pods at 0 % flips to a scale-down (2.0 → 0.66): the count stands
        # (not ceil(2 × 1 ready) = 2, which would remove pods that are still starting).
        (
            "unready-up-flip-keeps-current",
            (pod("a"), pod("b", phase="Pending", start=None), pod("c", ready=False, transition=5.0)),
            {"a": metric(1000), "c": metric(1000)},
            50,
            3,
        ),
        # Scale-down: unready pods are left out entirely → ceil(0.2 × 2 ready).
        (
            "unready-down-ignored",
            (pod("a"), pod("b"), pod("c", phase="Pending", start=None), pod("d", phase="Pending", start=None)),
            {"a": metric(100), "b": metric(100)},
            50,
            1,
        ),
        # Deleting and Failed pods are ignored, even with metrics.
        (
            "deleting-and-failed-ignored",
            (pod("a"), pod("b"), pod("c", deleting=True), pod("d", phase="Failed")),
            {"a": metric(250), "b": metric(250), "c": metric(1000), "d": metric(1000)},
            50,
            1,
        ),
        # A Pending pod is unready even when it reports a metric.
        (
            "pending-with-metric-is-unready",
            (pod("a"), pod("b", phase="Pending", start=None)),
            {"a": metric(1000), "b": metric(0)},
            50,
            2,  # scale-up with unready: 1000/2000 = 50 % → within tolerance → current
        ),
    ],
)
def test_missing_and_unready_pod_rules(
    case: str, pods: tuple[PodState, ...], metrics: dict[str, PodMetric], target_pct: int, expected: int
) -> None:
    current = len([p for p in pods if not p.deleting and p.phase != "Failed"])
    proposal = resource_utilization_replicas(current, target_pct, "cpu", TOL, pods, metrics, TIMING)
    assert proposal.replicas == expected, case


def test_missing_pod_direction_recount_keeps_current() -> None:
    # Raw ratio 0.2 (10 % of 50 %); two missing pods at 100 % of request: 2100/3000 = 70 % → 1.4,
    # which would flip a scale-down into a scale-up → the current count stands.
    pods = (pod("a"), pod("b"), pod("c"))
    proposal = resource_utilization_replicas(3, 50, "cpu", TOL, pods, {"a": metric(100)}, TIMING)
    assert proposal.replicas == 3


@pytest.mark.parametrize(
    ("case", "the_pod", "sample", "unready"),
    [
        # Within the CPU initialization period (started 100 s ago):
        ("init-not-ready", pod("x", start=NOW - 100, ready=False, transition=NOW - 100), metric(500), True),
        # ready 10 s ago, the 15 s sample started before it became ready → set aside
        ("init-window-before-ready", pod("x", start=NOW - 100, transition=NOW - 10), metric(500, ts=NOW - 1), True),
        # ready 20 s ago, a full window sampled while ready → counted
        ("init-window-after-ready", pod("x", start=NOW - 100, transition=NOW - 20), metric(500, ts=NOW - 1), False),
        # sample timestamp exactly at transition + window: not before → counted
        ("init-window-edge", pod("x", start=NOW - 100, transition=NOW - 16), metric(500, ts=NOW - 1), False),
        # Past the initialization period (started 1000 s ago):
        ("after-init-never-ready", pod("x", start=NOW - 1000, ready=False, transition=NOW - 990), metric(500), True),
        ("after-init-was-ready", pod("x", start=NOW - 1000, ready=False, transition=NOW - 100), metric(500), False),
        ("after-init-ready", pod("x", start=NOW - 1000, transition=NOW - 990), metric(500), False),
        # No Ready condition / no start time: unready
        ("no-condition", pod("x", transition=None), metric(500), True),
        ("no-start-time", pod("x", start=None), metric(500), True),
    ],
)
def test_cpu_readiness_rules(case: str, the_pod: PodState, sample: PodMetric, unready: bool) -> None:
    groups = group_pods([the_pod], {"x": sample}, "cpu", TIMING)
    assert (the_pod.name in groups.unready) is unready, case
    assert groups.ready_count == (0 if unready else 1), case


def test_readiness_rules_apply_to_cpu_only() -> None:
    the_pod = pod("x", start=NOW - 100, ready=False, transition=NOW - 100)
    groups = group_pods([the_pod], {"x": metric(5)}, "memory", TIMING)
    assert groups.ready_count == 1 and not groups.unready


def test_grouping_buckets() -> None:
    pods = [
        pod("r"),
        pod("m"),
        pod("p", phase="Pending", start=None),
        pod("d", deleting=True),
        pod("f", phase="Failed"),
    ]
    groups = group_pods(pods, {"r": metric(1), "d": metric(1)}, "cpu", TIMING)
    assert groups.ready_count == 1
    assert groups.missing == {"m"}
    assert groups.unready == {"p"}
    assert groups.ignored == {"d", "f"}


@pytest.mark.parametrize(
    ("pods", "metrics", "message"),
    [
        ((), {}, "no pods returned by selector"),
        ((pod("a", phase="Pending", start=None),), {"a": metric(1)}, "did not receive metrics for targeted pods"),
        ((pod("a", cpu_request=None),), {"a": metric(1)}, "missing request for cpu in Pod a"),
        ((pod("a", cpu_request=0),), {"a": metric(1)}, "no metrics returned matched known pods"),
    ],
)
def test_utilization_errors(pods: tuple[PodState, ...], metrics: dict[str, PodMetric], message: str) -> None:
    with pytest.raises(CalcError, match=message):
        resource_utilization_replicas(1, 50, "cpu", TOL, pods, metrics, TIMING)


# --- AverageValue (Resource and Pods metrics) ------------------------------------------------


@pytest.mark.parametrize(
    ("values", "pods", "target_milli", "expected", "usage"),
    [
        ((15_000, 15_000, 15_000), 3, 10_000, 5, 15_000),  # ratio 1.5 → ceil(4.5)
        ((10_500, 10_500), 2, 10_000, 2, 10_500),  # within tolerance
        ((1, 2), 2, 1, 2, 1),  # the average 1.5 truncates to 1 → ratio 1 → within tolerance
    ],
)
def test_average_value_replicas(
    values: tuple[int, ...], pods: int, target_milli: int, expected: int, usage: int
) -> None:
    group = running(pods)
    metrics = {p.name: metric(v) for p, v in zip(group, values, strict=True)}
    proposal = plain_metric_replicas(pods, target_milli, None, TOL, group, metrics, TIMING)
    assert proposal.usage_milli == usage
    assert proposal.replicas == expected


def test_average_value_missing_pod_counts_at_target_on_scale_down() -> None:
    group = running(3)
    metrics = {"p0": metric(5000), "p1": metric(5000)}
    # (5000 + 5000 + 10000) / 3 = 6666 → ratio 0.6666 → ceil(1.9998) = 2 (not ceil(0.5 × 2) = 1)
    proposal = plain_metric_replicas(3, 10_000, None, TOL, group, metrics, TIMING)
    assert proposal.replicas == 2


def test_pods_metric_skips_cpu_readiness_rules() -> None:
    young = pod("x", start=NOW - 10, ready=True, transition=NOW - 1)
    proposal = plain_metric_replicas(1, 1000, None, TOL, (young,), {"x": metric(2000)}, TIMING)
    assert proposal.replicas == 2  # the CPU rule would have set it aside
    with pytest.raises(CalcError, match="did not receive metrics"):
        plain_metric_replicas(1, 1000, "cpu", TOL, (young,), {"x": metric(2000)}, TIMING)


# --- Object and External ------------------------------------------------------------------------


def test_value_target_scales_the_ready_pod_count() -> None:
    pods = (pod("a"), pod("b"), pod("c", ready=False))
    assert object_value_replicas(3, 300_000, 100_000, TOL, pods).replicas == 6  # ratio 3 × 2 ready
    assert object_value_replicas(3, 105_000, 100_000, TOL, pods).replicas == 3  # within tolerance
    assert usage_ratio_replicas(0, 2.5, TOL, ()) == 3  # from zero: ceil(ratio), no pods needed
    with pytest.raises(CalcError, match="no pods returned"):
        usage_ratio_replicas(2, 3.0, TOL, ())


def test_average_value_target_divides_by_status_replicas() -> None:
    proposal = per_pod_value_replicas(3, 900_000, 100_000, TOL)
    assert (proposal.replicas, proposal.usage_milli) == (9, 300_000)
    within = per_pod_value_replicas(3, 310_000, 100_000, TOL)
    assert (within.replicas, within.usage_milli) == (3, 103_334)  # per-pod usage rounds up
