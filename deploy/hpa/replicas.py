"""The replica calculator: one metric → a proposed replica count (pure; upstream semantics).

Mirrors kube-controller-manager's `pkg/controller/podautoscaler/replica_calculator.go`:

* `desired = ceil(ratio × pods)` with `ratio = current / target`, unless the ratio is within the
  tolerance (`1 - down ≤ ratio ≤ 1 + up`), in which case the current count stands;
* pods are grouped first (`group_pods`): deleting and Failed pods are ignored; Pending pods are
  "unready"; pods without a metric are "missing"; for CPU only, a pod is also "unready" while in
  its CPU initialization period if it is not Ready or its sample does not cover a full window
  since it became Ready, and after that period if it is not Ready and never was (its Ready
  condition last changed within the initial readiness delay of its start);
* when pods are missing or (on a scale-up) unready, the ratio is recomputed with missing pods at
  100 % of request (or the target, if higher) when scaling down and 0 % when scaling up, unready
  pods at 0 % on a scale-up; if that recomputation lands within tolerance or flips the direction
  the current count stands;
* integer arithmetic where upstream uses int64 (utilization percent and average usage truncate).

Errors are `CalcError` carrying upstream's message; the caller turns them into conditions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from hpabench.deploy.hpa.inputs import FAILED, PENDING, RUNNING, PodMetric, PodState
from hpabench.deploy.hpa.quantity import trunc_div

CPU = "cpu"
MAX_INT32 = 2**31 - 1


class CalcError(Exception):
    """A replica count could not be computed for one metric (message as upstream words it)."""


@dataclass(frozen=True)
class Tolerances:
    """Allowed deviation of the usage ratio from 1.0 before scaling, per direction."""

    down: float
    up: float

    def within(self, ratio: float) -> bool:
        return (1.0 - self.down) <= ratio <= (1.0 + self.up)


@dataclass(frozen=True)
class PodGroups:
    """How `group_pods` classified the pods (names), plus the count of ready pods with metrics."""

    ready_count: int
    unready: frozenset[str]
    missing: frozenset[str]
    ignored: frozenset[str]


@dataclass(frozen=True)
class Timing:
    """The controller settings the pod rules depend on, and the time of the sync."""

    cpu_initialization_period_s: float
    initial_readiness_delay_s: float
    now: float


@dataclass(frozen=True)
class Proposal:
    """A metric's proposed replica count and the current value it was computed from.

    `usage_milli` is the average (or total, for Object/External Value) in milli-units;
    `utilization_pct` is set for Utilization targets; `groups` for per-pod metrics.
    """

    replicas: int
    usage_milli: int
    utilization_pct: int | None = None
    groups: PodGroups | None = None


def group_pods(
    pods: Iterable[PodState], metrics: Mapping[str, PodMetric], resource: str | None, timing: Timing
) -> PodGroups:
    """Classify pods as upstream's `groupPods` does (see the module docstring)."""
    ready_count = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        if pod.deleting or pod.phase == FAILED:
            ignored.add(pod.name)
            continue
        if pod.phase == PENDING:
            unready.add(pod.name)
            continue
        metric = metrics.get(pod.name)
        if metric is None:
            missing.add(pod.name)
            continue
        if resource == CPU and _cpu_unready(pod, metric, timing):
            unready.add(pod.name)
            continue
        ready_count += 1
    return PodGroups(ready_count, frozenset(unready), frozenset(missing), frozenset(ignored))


def _cpu_unready(pod: PodState, metric: PodMetric, timing: Timing) -> bool:
    if pod.ready_transition_ts is None or pod.start_ts is None:
        return True
    if pod.start_ts + timing.cpu_initialization_period_s > timing.now:
        # Still initialising: usage is only trusted once a whole window was sampled while Ready.
        return not pod.ready or metric.ts < pod.ready_transition_ts + metric.window_s
    # Past initialisation: only a pod that has never become Ready is set aside.
    return not pod.ready and pod.start_ts + timing.initial_readiness_delay_s > pod.ready_transition_ts


def _without(metrics: Mapping[str, int], names: frozenset[str]) -> dict[str, int]:
    return {name: value for name, value in metrics.items() if name not in names}


def _pod_requests(pods: Iterable[PodState], resource: str) -> dict[str, int]:
    requests = {}
    for pod in pods:
        request = pod.requests_milli.get(resource)
        if request is None:
            raise CalcError(f"missing request for {resource} in Pod {pod.name}")
        requests[pod.name] = request
    return requests


def utilization_ratio(
    metrics: Mapping[str, int], requests: Mapping[str, int], target_pct: int
) -> tuple[float, int, int]:
    """(ratio, utilization percent (truncated), average usage milli) over pods with requests."""
    total = 0
    requested = 0
    entries = 0
    for name, value in metrics.items():
        request = requests.get(name)
        if request is None:
            continue  # metrics for pods we do not know about are extraneous
        total += value
        requested += request
        entries += 1
    if requested == 0:
        raise CalcError("no metrics returned matched known pods")
    utilization = max(min(trunc_div(total * 100, requested), MAX_INT32), -MAX_INT32 - 1)
    return utilization / target_pct, utilization, trunc_div(total, entries)


def usage_ratio(metrics: Mapping[str, int], target_milli: int) -> tuple[float, int]:
    """(ratio, average usage milli truncated) — upstream's GetMetricUsageRatio."""
    average = trunc_div(sum(metrics.values()), len(metrics))
    return average / target_milli, average


def _no_pods_error() -> CalcError:
    return CalcError("no pods returned by selector while calculating replica count")


def _replicas_under_pod_rules(
    current_replicas: int,
    tolerances: Tolerances,
    groups: PodGroups,
    values: dict[str, int],
    ratio_of: Callable[[dict[str, int]], float],
    missing_when_scaling_down: Callable[[str], int],
) -> int:
    """The replica count of GetResourceReplicas / calcPlainMetricReplicas after the pod rules.

    `values` are the ready pods' metric values (milli-units), `ratio_of` turns values into the
    usage ratio, `missing_when_scaling_down` is what a pod without metrics is assumed to use when
    the ratio says scale down (it is 0 when scaling up, like unready pods). The recomputed
    proposal is dropped (current kept) when the assumptions flip the direction or land within
    the tolerance.
    """
    ratio = ratio_of(values)
    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.within(ratio):
            return current_replicas
        return math.ceil(ratio * groups.ready_count)

    if groups.missing:
        if ratio < 1.0:
            for name in groups.missing:
                values[name] = missing_when_scaling_down(name)
        elif ratio > 1.0:
            for name in groups.missing:  # scaling up: assume they use nothing
                values[name] = 0
    if scale_up_with_unready:
        for name in groups.unready:
            values[name] = 0

    new_ratio = ratio_of(values)
    if tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current_replicas
    new_replicas = math.ceil(new_ratio * len(values))
    if (new_ratio < 1.0 and new_replicas > current_replicas) or (new_ratio > 1.0 and new_replicas < current_replicas):
        return current_replicas
    return new_replicas


def _measured_values(
    pods: tuple[PodState, ...], metrics: Mapping[str, PodMetric], resource: str | None, timing: Timing
) -> tuple[PodGroups, dict[str, int]]:
    """The pods grouped by the readiness rules, and the values of the pods that count."""
    if not pods:
        raise _no_pods_error()
    groups = group_pods(pods, metrics, resource, timing)
    values = _without({n: m.value_milli for n, m in metrics.items()}, groups.ignored | groups.unready)
    if not values:
        raise CalcError("did not receive metrics for targeted pods (pods might be unready)")
    return groups, values


def resource_utilization_replicas(
    current_replicas: int,
    target_pct: int,
    resource: str,
    tolerances: Tolerances,
    pods: tuple[PodState, ...],
    metrics: Mapping[str, PodMetric],
    timing: Timing,
) -> Proposal:
    """GetResourceReplicas: a Utilization target (percent of the pods' requests)."""
    groups, values = _measured_values(pods, metrics, resource, timing)
    requests = _pod_requests(pods, resource)
    _, utilization, raw_average = utilization_ratio(values, requests, target_pct)
    # Scaling down: assume missing pods use their whole request (or the target, if higher).
    fallback_pct = max(100, target_pct)
    replicas = _replicas_under_pod_rules(
        current_replicas,
        tolerances,
        groups,
        values,
        lambda v: utilization_ratio(v, requests, target_pct)[0],
        lambda name: trunc_div(requests[name] * fallback_pct, 100),
    )
    return Proposal(replicas, raw_average, utilization, groups)


def plain_metric_replicas(
    current_replicas: int,
    target_milli: int,
    resource: str | None,
    tolerances: Tolerances,
    pods: tuple[PodState, ...],
    metrics: Mapping[str, PodMetric],
    timing: Timing,
) -> Proposal:
    """calcPlainMetricReplicas: an AverageValue target per pod (Resource AverageValue, Pods).

    `resource` is the resource name for Resource metrics (the CPU readiness rules apply to
    "cpu"), None for Pods metrics.
    """
    groups, values = _measured_values(pods, metrics, resource, timing)
    _, usage = usage_ratio(values, target_milli)
    replicas = _replicas_under_pod_rules(
        current_replicas,
        tolerances,
        groups,
        values,
        lambda v: usage_ratio(v, target_milli)[0],
        lambda _name: target_milli,  # scaling down: assume exactly the target
    )
    return Proposal(replicas, usage, None, groups)


def ready_pods_count(pods: tuple[PodState, ...]) -> int:
    """getReadyPodsCount: Running pods whose Ready condition is true."""
    if not pods:
        raise _no_pods_error()
    return sum(1 for pod in pods if pod.phase == RUNNING and pod.ready)


def usage_ratio_replicas(
    current_replicas: int, ratio: float, tolerances: Tolerances, pods: tuple[PodState, ...]
) -> int:
    """getUsageRatioReplicaCount: Object/External Value targets scale the *ready* pod count."""
    if current_replicas == 0:
        return math.ceil(ratio)  # scale from zero: ready pods do not matter
    if tolerances.within(ratio):
        return current_replicas
    return min(math.ceil(ratio * ready_pods_count(pods)), MAX_INT32)


def object_value_replicas(
    current_replicas: int, usage_milli: int, target_milli: int, tolerances: Tolerances, pods: tuple[PodState, ...]
) -> Proposal:
    """GetObjectMetricReplicas / GetExternalMetricReplicas (Value target; external values summed)."""
    ratio = usage_milli / target_milli
    return Proposal(usage_ratio_replicas(current_replicas, ratio, tolerances, pods), usage_milli)


def per_pod_value_replicas(
    status_replicas: int, usage_milli: int, target_average_milli: int, tolerances: Tolerances
) -> Proposal:
    """GetObjectPerPodMetricReplicas / GetExternalPerPodMetricReplicas (AverageValue target).

    Divides by the target's `status.replicas`, not the ready pods; reports usage per pod.
    """
    replicas = status_replicas
    ratio = usage_milli / (target_average_milli * status_replicas) if status_replicas else math.inf
    if not tolerances.within(ratio):
        replicas = min(math.ceil(usage_milli / target_average_milli), MAX_INT32)
    per_pod = math.ceil(usage_milli / status_replicas) if status_replicas else usage_milli
    return Proposal(replicas, per_pod)
