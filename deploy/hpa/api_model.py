"""The autoscaling/v2 HorizontalPodAutoscaler as a typed, strict model, with the API defaults.

Field names are the manifest's (camelCase aliases), unknown keys are refused, quantities are
parsed into `Quantity` (milli-units). `apply_api_defaults` does what the API server's defaulting
does on create, so the decision core sees exactly what a cluster's controller would see:

* `minReplicas` absent → 1; `metrics` absent or empty → CPU at 80 % average utilization;
* `behavior` present → each absent `scaleUp`/`scaleDown` field filled from the API defaults
  (scale up: no window, Max of 4 pods / 100 % per 15 s; scale down: Max of 100 % per 15 s and
  *no* window: the controller fills that one from --horizontal-pod-autoscaler-downscale-stabilization).
* `behavior` absent stays absent: the controller then runs its legacy normalisation (scale-up
  limit max(2 × current, 4) per sync, the downscale window from the flag). See `core.py`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator
from pydantic.alias_generators import to_camel

from hpabench.deploy.hpa.quantity import Quantity, parse_quantity

RESOURCE = "Resource"
CONTAINER_RESOURCE = "ContainerResource"
PODS = "Pods"
OBJECT = "Object"
EXTERNAL = "External"
METRIC_SOURCE_TYPES = (RESOURCE, CONTAINER_RESOURCE, PODS, OBJECT, EXTERNAL)
SOURCE_FIELD = {
    RESOURCE: "resource",
    CONTAINER_RESOURCE: "containerResource",
    PODS: "pods",
    OBJECT: "object",
    EXTERNAL: "external",
}

UTILIZATION = "Utilization"
VALUE = "Value"
AVERAGE_VALUE = "AverageValue"

SELECT_MAX = "Max"
SELECT_MIN = "Min"
SELECT_DISABLED = "Disabled"

DEFAULT_CPU_UTILIZATION = 80  # autoscaling.DefaultCPUUtilization


def _quantity(raw: Any) -> Quantity:
    if isinstance(raw, Quantity):
        return raw
    return parse_quantity(raw)


QuantityField = Annotated[Quantity, PlainValidator(_quantity), PlainSerializer(str)]
Int = Annotated[int, Field(strict=True)]


class ApiModel(BaseModel):
    """Strict, immutable, camelCase on the wire (like the Kubernetes API)."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


class ObjectReference(ApiModel):
    """CrossVersionObjectReference: the scale target or an Object metric's described object."""

    api_version: str | None = None
    kind: str
    name: str


class LabelSelector(ApiModel):
    match_labels: dict[str, str] | None = None
    match_expressions: list[dict[str, Any]] | None = None


class MetricIdentifier(ApiModel):
    name: str
    selector: LabelSelector | None = None


class MetricTarget(ApiModel):
    """One of value / averageValue (quantities) / averageUtilization (percent of request)."""

    type: str
    value: QuantityField | None = None
    average_value: QuantityField | None = None
    average_utilization: Int | None = None


class ResourceMetricSource(ApiModel):
    name: str
    target: MetricTarget


class ContainerResourceMetricSource(ApiModel):
    name: str
    container: str
    target: MetricTarget


class PodsMetricSource(ApiModel):
    metric: MetricIdentifier
    target: MetricTarget


class ObjectMetricSource(ApiModel):
    described_object: ObjectReference
    metric: MetricIdentifier
    target: MetricTarget


class ExternalMetricSource(ApiModel):
    metric: MetricIdentifier
    target: MetricTarget


class MetricSpec(ApiModel):
    """One entry of `spec.metrics`; exactly the source named by `type` must be set."""

    type: str
    resource: ResourceMetricSource | None = None
    container_resource: ContainerResourceMetricSource | None = None
    pods: PodsMetricSource | None = None
    object_: ObjectMetricSource | None = Field(default=None, alias="object")
    external: ExternalMetricSource | None = None

    @property
    def target(self) -> MetricTarget:
        source = self.source
        if source is None:
            raise ValueError(f"metric of type {self.type!r} has no {SOURCE_FIELD.get(self.type)} source")
        return source.target

    @property
    def source(
        self,
    ) -> (
        ResourceMetricSource
        | ContainerResourceMetricSource
        | PodsMetricSource
        | ObjectMetricSource
        | ExternalMetricSource
        | None
    ):
        return {
            RESOURCE: self.resource,
            CONTAINER_RESOURCE: self.container_resource,
            PODS: self.pods,
            OBJECT: self.object_,
            EXTERNAL: self.external,
        }.get(self.type)

    @property
    def metric_name(self) -> str:
        """The name kube-state-metrics uses in `metric_name`: the resource or the custom metric."""
        if self.resource is not None and self.type == RESOURCE:
            return self.resource.name
        if self.container_resource is not None and self.type == CONTAINER_RESOURCE:
            return self.container_resource.name
        for source in (self.pods, self.object_, self.external):
            if source is not None:
                return source.metric.name
        return self.type


class ScalingPolicy(ApiModel):
    type: str
    value: Int
    period_seconds: Int


class ScalingRules(ApiModel):
    """HPAScalingRules for one direction. `tolerance` is the (beta) HPAConfigurableTolerance."""

    stabilization_window_seconds: Int | None = None
    select_policy: str | None = None
    policies: list[ScalingPolicy] | None = None
    tolerance: QuantityField | None = None


class Behavior(ApiModel):
    scale_up: ScalingRules | None = None
    scale_down: ScalingRules | None = None


class HpaSpecModel(ApiModel):
    scale_target_ref: ObjectReference
    min_replicas: Int | None = None
    max_replicas: Int
    metrics: list[MetricSpec] | None = None
    behavior: Behavior | None = None


class ObjectMeta(BaseModel):
    """Only name and namespace matter here; labels, annotations and the rest are kept as-is."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    namespace: str | None = None


class HorizontalPodAutoscaler(ApiModel):
    api_version: Literal["autoscaling/v2"]
    kind: Literal["HorizontalPodAutoscaler"]
    metadata: ObjectMeta
    spec: HpaSpecModel
    status: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or "default"

    @property
    def min_replicas(self) -> int:
        """Defaulted by `apply_api_defaults`; 1 when read from an undefaulted model."""
        return 1 if self.spec.min_replicas is None else self.spec.min_replicas

    @property
    def max_replicas(self) -> int:
        return self.spec.max_replicas

    @property
    def metrics(self) -> list[MetricSpec]:
        return self.spec.metrics or []


def _default_scale_up() -> ScalingRules:
    return ScalingRules(
        stabilization_window_seconds=0,
        select_policy=SELECT_MAX,
        policies=[
            ScalingPolicy(type="Pods", value=4, period_seconds=15),
            ScalingPolicy(type="Percent", value=100, period_seconds=15),
        ],
    )


def _default_scale_down() -> ScalingRules:
    # The window stays None on purpose: the controller fills it from its flag.
    return ScalingRules(
        stabilization_window_seconds=None,
        select_policy=SELECT_MAX,
        policies=[ScalingPolicy(type="Percent", value=100, period_seconds=15)],
    )


def _fill(rules: ScalingRules | None, defaults: ScalingRules) -> ScalingRules:
    """copyHPAScalingRules: each field the user set wins, the rest come from `defaults`."""
    if rules is None:
        return defaults
    return ScalingRules(
        stabilization_window_seconds=(
            rules.stabilization_window_seconds
            if rules.stabilization_window_seconds is not None
            else defaults.stabilization_window_seconds
        ),
        select_policy=rules.select_policy if rules.select_policy is not None else defaults.select_policy,
        policies=rules.policies if rules.policies is not None else defaults.policies,
        tolerance=rules.tolerance if rules.tolerance is not None else defaults.tolerance,
    )


def apply_api_defaults(hpa: HorizontalPodAutoscaler) -> HorizontalPodAutoscaler:
    """What the API server's defaulting would store (see the module docstring)."""
    spec = hpa.spec
    metrics = spec.metrics or [
        MetricSpec(
            type=RESOURCE,
            resource=ResourceMetricSource(
                name="cpu",
                target=MetricTarget(type=UTILIZATION, average_utilization=DEFAULT_CPU_UTILIZATION),
            ),
        )
    ]
    behavior = spec.behavior
    if behavior is not None:
        behavior = Behavior(
            scale_up=_fill(behavior.scale_up, _default_scale_up()),
            scale_down=_fill(behavior.scale_down, _default_scale_down()),
        )
    new_spec = spec.model_copy(
        update={
            "min_replicas": 1 if spec.min_replicas is None else spec.min_replicas,
            "metrics": metrics,
            "behavior": behavior,
        }
    )
    return hpa.model_copy(update={"spec": new_spec})
