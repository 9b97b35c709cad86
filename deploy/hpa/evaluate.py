"""All metrics of an HPA → the largest proposal, or the reason none can be trusted (pure).

Mirrors upstream's `computeReplicasForMetrics` / `computeReplicasForMetric`: every metric is
evaluated; the largest proposal wins; if *every* metric failed, or some failed and the valid ones
would scale down (a failing metric might have wanted more), the sync gives up with the first
failure as the ScalingActive=False condition. Messages and condition reasons are upstream's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeVar

from hpabench.deploy.hpa.api_model import (
    AVERAGE_VALUE,
    CONTAINER_RESOURCE,
    EXTERNAL,
    OBJECT,
    PODS,
    RESOURCE,
    UTILIZATION,
    MetricSpec,
)
from hpabench.deploy.hpa.conditions import FALSE, SCALING_ACTIVE
from hpabench.deploy.hpa.inputs import FetchError, MetricReading, ObjectValues, Observation, PodMetrics
from hpabench.deploy.hpa.replicas import (
    CalcError,
    PodGroups,
    Proposal,
    Timing,
    Tolerances,
    object_value_replicas,
    per_pod_value_replicas,
    plain_metric_replicas,
    resource_utilization_replicas,
)

# kube-state-metrics' `metric_target_type` vocabulary
KSM_UTILIZATION = "utilization"
KSM_AVERAGE = "average"
KSM_VALUE = "value"

ReadingT = TypeVar("ReadingT", PodMetrics, ObjectValues)


@dataclass(frozen=True)
class MetricStatus:
    """One metric's state after a sync, for status, the hpa.jsonl row and kube-state-metrics.

    `target` and `current` are percent for utilization targets, base units otherwise (e.g. cores,
    bytes); `current` is None when the metric could not be computed. `average_value` is the raw
    per-pod average (base units) that a Utilization status also carries.
    """

    index: int
    source_type: str
    name: str
    description: str
    target_type: str
    target: float
    current: float | None = None
    average_value: float | None = None
    proposal: int | None = None
    ts: float | None = None
    error: str | None = None
    groups: PodGroups | None = None


@dataclass(frozen=True)
class MetricsOutcome:
    """Result of evaluating every metric; `failed` means the sync must not scale."""

    replicas: int
    metric: str
    statuses: tuple[MetricStatus, ...]
    ts: float | None
    failed: bool
    error: str | None
    failed_condition: tuple[str, str, str, str] | None  # (type, status, reason, message)
    warnings: tuple[tuple[str, str], ...]  # (event reason, message), like the Warning events


def _target_of(spec: MetricSpec) -> tuple[str, float, int]:
    """(ksm target type, target for display, target in milli-units or percent for the math)."""
    target = spec.target
    if target.type == UTILIZATION and target.average_utilization is not None:
        return KSM_UTILIZATION, float(target.average_utilization), target.average_utilization
    if target.type == AVERAGE_VALUE and target.average_value is not None:
        return KSM_AVERAGE, target.average_value.as_float(), target.average_value.milli
    if target.value is not None:
        return KSM_VALUE, target.value.as_float(), target.value.milli
    raise CalcError(f"invalid {spec.type} metric source: no target value of type {target.type} was set")


def _description(spec: MetricSpec) -> str:
    if spec.source is None:
        return f"{spec.type} metric (unknown source type)"
    target = spec.target
    if spec.type in (RESOURCE, CONTAINER_RESOURCE):
        if target.type == UTILIZATION:
            scope = "container resource" if spec.type == CONTAINER_RESOURCE else "resource"
            return f"{spec.metric_name} {scope} utilization (percentage of request)"
        return f"{spec.metric_name} resource"
    if spec.type == PODS:
        return f"pods metric {spec.metric_name}"
    if spec.type == OBJECT and spec.object_ is not None:
        return f"{spec.object_.described_object.kind} metric {spec.metric_name}"
    return f"external metric {spec.metric_name}(nil)"


class _Failure(Exception):
    """A metric could not be evaluated: condition reason, condition-level and sync-level messages."""

    def __init__(self, reason: str, inner: str, outer: str) -> None:
        super().__init__(outer)
        self.reason = reason
        self.inner = inner
        self.outer = outer


def _reading_of(reading: MetricReading, kind: type[ReadingT], api: str) -> ReadingT:
    """`reading` as `kind`, or the CalcError upstream reports for a failed, wrong or empty answer."""
    if isinstance(reading, FetchError):
        raise CalcError(reading.message)
    if not isinstance(reading, kind):
        raise CalcError(f"the {api} metrics API answered with the wrong kind of reading")
    if not (reading.values if isinstance(reading, PodMetrics) else reading.values_milli):
        raise CalcError(f"no metrics returned from {api} metrics API")
    return reading


def _evaluate(
    spec: MetricSpec,
    reading: MetricReading,
    observation: Observation,
    tolerances: Tolerances,
    timing: Timing,
) -> tuple[Proposal, float | None]:
    """The proposal for one metric and the timestamp of the data it used; raises _Failure."""
    if spec.source is None:
        # Upstream treats a metric whose type names no (set) source as invalid, like any failed
        # metric: ScalingActive=False/InvalidMetricSourceType, and no scale-down while it is.
        message = f"unknown metric source type {spec.type!r}"
        raise _Failure("InvalidMetricSourceType", message, message)
    current = observation.spec_replicas
    pods = observation.pods
    target = spec.target
    if spec.type in (RESOURCE, CONTAINER_RESOURCE):
        name = spec.metric_name
        kind = "utilization" if target.type == UTILIZATION else "usage"
        reason = "FailedGetResourceMetric" if spec.type == RESOURCE else "FailedGetContainerResourceMetric"
        scope = f"{name} resource"
        if spec.container_resource is not None and spec.type == CONTAINER_RESOURCE:
            scope = f"{spec.container_resource.container} container"
        try:
            try:
                metrics = _reading_of(reading, PodMetrics, "resource").values
            except CalcError as exc:
                raise CalcError(f"unable to get metrics for resource {name}: {exc}") from None
            ts = min(m.ts for m in metrics.values())
            if target.type == UTILIZATION and target.average_utilization is not None:
                proposal = resource_utilization_replicas(
                    current, target.average_utilization, name, tolerances, pods, metrics, timing
                )
            elif target.average_value is not None:
                proposal = plain_metric_replicas(
                    current, target.average_value.milli, name, tolerances, pods, metrics, timing
                )
            else:
                raise CalcError(
                    "invalid resource metric source: neither an average utilization target "
                    "nor an average value (usage) target was set"
                )
        except CalcError as exc:
            inner = f"failed to get {name} {kind}: {exc}"
            raise _Failure(reason, inner, f"failed to get {scope} metric value: {inner}") from None
        return proposal, ts
    if spec.type == PODS:
        try:
            try:
                metrics = _reading_of(reading, PodMetrics, "custom").values
            except CalcError as exc:
                raise CalcError(f"unable to get metric {spec.metric_name}: {exc}") from None
            ts = min(m.ts for m in metrics.values())
            _, _, target_milli = _target_of(spec)
            proposal = plain_metric_replicas(current, target_milli, None, tolerances, pods, metrics, timing)
        except CalcError as exc:
            raise _Failure("FailedGetPodsMetric", str(exc), f"failed to get pods metric value: {exc}") from None
        return proposal, ts
    if spec.type in (OBJECT, EXTERNAL):
        api = "custom" if spec.type == OBJECT else "external"
        reason = "FailedGetObjectMetric" if spec.type == OBJECT else "FailedGetExternalMetric"
        try:
            try:
                values = _reading_of(reading, ObjectValues, api)
            except CalcError as exc:
                raise CalcError(f"unable to get {api} metric {spec.metric_name}: {exc}") from None
            usage = sum(values.values_milli)  # External sums every matching series
            _, _, target_milli = _target_of(spec)
            if target.type == AVERAGE_VALUE:
                proposal = per_pod_value_replicas(observation.status_replicas, usage, target_milli, tolerances)
            else:
                proposal = object_value_replicas(current, usage, target_milli, tolerances, pods)
        except CalcError as exc:
            kind = "object" if spec.type == OBJECT else f"{spec.metric_name} external"
            outer = f"failed to get {kind} metric value: {exc}"
            raise _Failure(reason, str(exc), outer) from None
        return proposal, values.ts
    message = f"unknown metric source type {spec.type!r}"
    raise _Failure("InvalidMetricSourceType", message, message)


def metric_stub(index: int, spec: MetricSpec) -> MetricStatus:
    """A metric's status before (or without) a value: name, description and target only."""
    try:
        if spec.source is None:
            raise CalcError(f"unknown metric source type {spec.type!r}")
        target_type, target_display, _ = _target_of(spec)
    except CalcError:
        target_type, target_display = KSM_VALUE, float("nan")
    return MetricStatus(index, spec.type, spec.metric_name, _description(spec), target_type, target_display)


def compute_replicas_for_metrics(
    metrics: list[MetricSpec], observation: Observation, tolerances: Tolerances, timing: Timing
) -> MetricsOutcome:
    """Evaluate every metric; see the module docstring for when the outcome is `failed`."""
    replicas = 0
    chosen = ""
    chosen_ts: float | None = None
    statuses: list[MetricStatus] = []
    warnings: list[tuple[str, str]] = []
    invalid = 0
    first: _Failure | None = None
    for index, spec in enumerate(metrics):
        reading = observation.readings[index] if index < len(observation.readings) else FetchError("no reading")
        base = metric_stub(index, spec)
        description = base.description
        try:
            proposal, ts = _evaluate(spec, reading, observation, tolerances, timing)
        except _Failure as failure:
            invalid += 1
            first = first or failure
            warnings.append((failure.reason, failure.inner))
            statuses.append(replace(base, error=failure.inner))
            continue
        statuses.append(_status(base, proposal, ts))
        if replicas == 0 or proposal.replicas > replicas:
            replicas, chosen, chosen_ts = proposal.replicas, description, ts
    error = None
    if first is not None:
        error = f"invalid metrics ({invalid} invalid out of {len(metrics)}), first error is: {first.outer}"
    failed = invalid >= len(metrics) or (invalid > 0 and replicas < observation.spec_replicas)
    condition = None
    if failed and first is not None:
        message = f"the HPA was unable to compute the replica count: {first.inner}"
        condition = (SCALING_ACTIVE, FALSE, first.reason, message)
    return MetricsOutcome(
        replicas=replicas,
        metric=chosen,
        statuses=tuple(statuses),
        ts=chosen_ts,
        failed=failed,
        error=error,
        failed_condition=condition,
        warnings=tuple(warnings),
    )


def _status(base: MetricStatus, proposal: Proposal, ts: float | None) -> MetricStatus:
    average = proposal.usage_milli / 1000.0
    if base.target_type == KSM_UTILIZATION and proposal.utilization_pct is not None:
        current: float = float(proposal.utilization_pct)
    else:
        current = average
    return replace(
        base,
        current=current,
        average_value=average,
        proposal=proposal.replicas,
        ts=ts,
        groups=proposal.groups,
    )
