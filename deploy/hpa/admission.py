"""Refuse, before a run, an HPA the local controller cannot honour — with the field path.

Three layers, all reported at once:

1. structure: the strict model of `spec.py` (unknown keys, wrong types, bad quantities);
2. what the API server refuses (pkg/apis/autoscaling/validation): min/max replicas, one source per
   metric matching its `type`, target kinds per source, behavior bounds (window ≤ 3600 s,
   periods 1..1800 s, at least one policy, known `selectPolicy`);
3. what a cluster would accept but this controller cannot honour locally: a target that is not a
   Deployment among the rendered objects, a resource other than cpu/memory, a `Utilization`
   target on containers without that request, a Pods/Object/External metric without a PromQL query
   in `HpaSettings.custom_metrics` (prometheus-adapter's role), metric label selectors (put the
   matchers into the query), ContainerResource on a multi-container pod (usage is measured per pod).

Paths read like `HorizontalPodAutoscaler/web: spec.metrics.0.resource.target`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from hpabench.deploy.hpa.api_model import (
    AVERAGE_VALUE,
    CONTAINER_RESOURCE,
    EXTERNAL,
    METRIC_SOURCE_TYPES,
    OBJECT,
    PODS,
    RESOURCE,
    SELECT_DISABLED,
    SELECT_MAX,
    SELECT_MIN,
    SOURCE_FIELD,
    UTILIZATION,
    VALUE,
    HorizontalPodAutoscaler,
    MetricSpec,
    MetricTarget,
    ScalingRules,
    apply_api_defaults,
)
from hpabench.deploy.hpa.controller_settings import HpaSettings
from hpabench.errors import SpecError, SpecIssue

MAX_STABILIZATION_WINDOW_S = 3600
MAX_POLICY_PERIOD_S = 1800
LOCAL_RESOURCES = ("cpu", "memory")

Problem = tuple[str, str]  # (dotted path below the object, message)


def object_label(hpa: Any) -> str:
    """`HorizontalPodAutoscaler/<name>` for paths; tolerant of a malformed manifest."""
    name = "?"
    if isinstance(hpa, dict) and isinstance(hpa.get("metadata"), dict):
        name = str(hpa["metadata"].get("name") or "?")
    return f"HorizontalPodAutoscaler/{name}"


def _issues(problems: Iterable[Problem], source: str, label: str) -> list[SpecIssue]:
    return [SpecIssue(source, f"{label}: {path}" if path else label, message) for path, message in problems]


def _structure(hpa: Any) -> tuple[HorizontalPodAutoscaler | None, list[Problem]]:
    if not isinstance(hpa, dict):
        return None, [("", "must be a mapping (a HorizontalPodAutoscaler manifest)")]
    try:
        return HorizontalPodAutoscaler.model_validate(hpa), []
    except ValidationError as exc:
        problems = []
        for detail in exc.errors(include_url=False):
            path = ".".join(str(part) for part in detail["loc"])
            message = "unknown field" if detail["type"] == "extra_forbidden" else detail["msg"]
            problems.append((path, message))
        return None, problems


def _target_problems(path: str, target: MetricTarget, allowed: tuple[str, ...]) -> list[Problem]:
    problems: list[Problem] = []
    if target.type not in allowed:
        problems.append((f"{path}.type", f"must be one of {', '.join(allowed)} for this metric source"))
        return problems
    if target.value is not None and target.value.value <= 0:
        problems.append((f"{path}.value", "must be positive"))
    if target.average_value is not None and target.average_value.value <= 0:
        problems.append((f"{path}.averageValue", "must be positive"))
    if target.average_utilization is not None and target.average_utilization <= 0:
        problems.append((f"{path}.averageUtilization", "must be greater than 0"))
    wanted = {UTILIZATION: "averageUtilization", VALUE: "value", AVERAGE_VALUE: "averageValue"}[target.type]
    present = {
        "averageUtilization": target.average_utilization is not None,
        "value": target.value is not None,
        "averageValue": target.average_value is not None,
    }
    if not present[wanted]:
        problems.append((path, f"must set {wanted} when the target type is {target.type}"))
    extra = [name for name, is_set in present.items() if is_set and name != wanted]
    if extra:
        problems.append((path, f"sets {', '.join(extra)}, which a {target.type} target does not use"))
    return problems


def _metric_problems(index: int, metric: MetricSpec) -> list[Problem]:
    base = f"spec.metrics.{index}"
    if metric.type not in METRIC_SOURCE_TYPES:
        return [
            (f"{base}.type", f"unknown metric source type {metric.type!r}; supported: {', '.join(METRIC_SOURCE_TYPES)}")
        ]
    field = SOURCE_FIELD[metric.type]
    problems: list[Problem] = []
    others = [
        SOURCE_FIELD[kind]
        for kind in METRIC_SOURCE_TYPES
        if kind != metric.type
        and {
            RESOURCE: metric.resource,
            CONTAINER_RESOURCE: metric.container_resource,
            PODS: metric.pods,
            OBJECT: metric.object_,
            EXTERNAL: metric.external,
        }[kind]
        is not None
    ]
    if others:
        problems.append((base, f"must populate the {field} source only (also set: {', '.join(others)})"))
    source = metric.source
    if source is None:
        problems.append((f"{base}.{field}", f"must be set for a metric of type {metric.type}"))
        return problems
    allowed = {
        RESOURCE: (UTILIZATION, AVERAGE_VALUE),
        CONTAINER_RESOURCE: (UTILIZATION, AVERAGE_VALUE),
        PODS: (AVERAGE_VALUE,),
        OBJECT: (VALUE, AVERAGE_VALUE),
        EXTERNAL: (VALUE, AVERAGE_VALUE),
    }[metric.type]
    problems += _target_problems(f"{base}.{field}.target", source.target, allowed)
    return problems


def _rules_problems(path: str, rules: ScalingRules | None) -> list[Problem]:
    if rules is None:
        return []
    problems: list[Problem] = []
    window = rules.stabilization_window_seconds
    if window is not None and not 0 <= window <= MAX_STABILIZATION_WINDOW_S:
        problems.append((f"{path}.stabilizationWindowSeconds", f"must be between 0 and {MAX_STABILIZATION_WINDOW_S}"))
    if rules.select_policy is not None and rules.select_policy not in (SELECT_MAX, SELECT_MIN, SELECT_DISABLED):
        problems.append((f"{path}.selectPolicy", "must be one of Max, Min, Disabled"))
    if rules.policies is not None and not rules.policies:
        problems.append((f"{path}.policies", "must specify at least one Policy"))
    for index, policy in enumerate(rules.policies or []):
        where = f"{path}.policies.{index}"
        if policy.type not in ("Pods", "Percent"):
            problems.append((f"{where}.type", "must be Pods or Percent"))
        if policy.value <= 0:
            problems.append((f"{where}.value", "must be greater than zero"))
        if not 0 < policy.period_seconds <= MAX_POLICY_PERIOD_S:
            problems.append((f"{where}.periodSeconds", f"must be between 1 and {MAX_POLICY_PERIOD_S}"))
    if rules.tolerance is not None and rules.tolerance.value < 0:
        problems.append((f"{path}.tolerance", "must be greater than or equal to 0"))
    return problems


def api_problems(hpa: HorizontalPodAutoscaler) -> list[Problem]:
    """What the API server would refuse (layer 2)."""
    spec = hpa.spec
    problems: list[Problem] = []
    if spec.min_replicas is not None and spec.min_replicas < 1:
        problems.append(
            (
                "spec.minReplicas",
                "must be greater than or equal to 1 (scaling to zero needs the alpha HPAScaleToZero gate)",
            )
        )
    if spec.max_replicas < 1:
        problems.append(("spec.maxReplicas", "must be greater than 0"))
    if spec.min_replicas is not None and spec.max_replicas < spec.min_replicas:
        problems.append(("spec.maxReplicas", "must be greater than or equal to `minReplicas`"))
    if not spec.scale_target_ref.kind:
        problems.append(("spec.scaleTargetRef.kind", "Required value"))
    if not spec.scale_target_ref.name:
        problems.append(("spec.scaleTargetRef.name", "Required value"))
    for index, metric in enumerate(spec.metrics or []):
        problems += _metric_problems(index, metric)
    if spec.behavior is not None:
        problems += _rules_problems("spec.behavior.scaleUp", spec.behavior.scale_up)
        problems += _rules_problems("spec.behavior.scaleDown", spec.behavior.scale_down)
    return problems


def _deployment(objects: Iterable[Any], name: str) -> dict[str, Any] | None:
    for obj in objects:
        if (
            isinstance(obj, dict)
            and obj.get("kind") == "Deployment"
            and isinstance(obj.get("metadata"), dict)
            and obj["metadata"].get("name") == name
        ):
            return obj
    return None


def _pod_containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """Containers whose requests count (calculatePodRequests): regular ones + sidecar inits."""
    pod_spec = (deployment.get("spec") or {}).get("template", {}).get("spec") or {}
    containers = [c for c in pod_spec.get("containers") or [] if isinstance(c, dict)]
    containers += [
        c for c in pod_spec.get("initContainers") or [] if isinstance(c, dict) and c.get("restartPolicy") == "Always"
    ]
    return containers


def _has_request(container: dict[str, Any], resource: str) -> bool:
    requests = (container.get("resources") or {}).get("requests") or {}
    return isinstance(requests, dict) and resource in requests


def local_problems(hpa: HorizontalPodAutoscaler, objects: Iterable[Any], settings: HpaSettings) -> list[Problem]:
    """What this controller cannot honour although a cluster could (layer 3)."""
    problems: list[Problem] = []
    ref = hpa.spec.scale_target_ref
    deployment = None
    if ref.kind != "Deployment" or (ref.api_version not in (None, "apps/v1")):
        problems.append(("spec.scaleTargetRef", f"the local target scales apps/v1 Deployments only, not {ref.kind}"))
    else:
        deployment = _deployment(objects, ref.name)
        if deployment is None:
            problems.append(("spec.scaleTargetRef.name", f"Deployment/{ref.name} is not among the rendered objects"))
    containers = _pod_containers(deployment) if deployment is not None else []
    for index, metric in enumerate(hpa.spec.metrics or []):
        base = f"spec.metrics.{index}"
        if metric.type in (RESOURCE, CONTAINER_RESOURCE):
            source = metric.resource if metric.type == RESOURCE else metric.container_resource
            if source is None:
                continue
            field = SOURCE_FIELD[metric.type]
            if source.name not in LOCAL_RESOURCES:
                problems.append(
                    (f"{base}.{field}.name", f"the local target measures cpu and memory only, not {source.name!r}")
                )
                continue
            scoped = containers
            if metric.container_resource is not None and metric.type == CONTAINER_RESOURCE:
                wanted = metric.container_resource.container
                scoped = [c for c in containers if c.get("name") == wanted]
                if deployment is not None and not scoped:
                    problems.append((f"{base}.{field}.container", f"Deployment/{ref.name} has no container {wanted!r}"))
                elif len(containers) > 1:
                    problems.append(
                        (
                            f"{base}.{field}",
                            "the local target measures usage per pod, so ContainerResource is honoured "
                            "only for single-container pods; use a Resource metric",
                        )
                    )
            if source.target.type == UTILIZATION:
                for container in scoped:
                    if not _has_request(container, source.name):
                        problems.append(
                            (
                                f"{base}.{field}.target",
                                f"a Utilization target needs a {source.name} request on every container; "
                                f"container {container.get('name')!r} of Deployment/{ref.name} has none",
                            )
                        )
        elif metric.type in (PODS, OBJECT, EXTERNAL):
            custom = metric.pods or metric.object_ or metric.external
            if custom is None:
                continue
            field = SOURCE_FIELD[metric.type]
            name = custom.metric.name
            if not settings.custom_metrics.get(name, "").strip():
                problems.append(
                    (
                        f"{base}.{field}.metric.name",
                        f"no PromQL query for {metric.type} metric {name!r}: add it to the controller "
                        "settings' custom_metrics (the local stand-in for prometheus-adapter)",
                    )
                )
            if custom.metric.selector is not None:
                problems.append(
                    (
                        f"{base}.{field}.metric.selector",
                        "metric selectors are not applied locally; put the label matchers into the "
                        f"custom_metrics query for {name!r}",
                    )
                )
    return problems


def validate_hpa(
    hpa: dict[str, Any], objects: list[dict[str, Any]], settings: HpaSettings, source: str
) -> list[SpecIssue]:
    """Every reason the local controller would refuse `hpa` (empty list = honourable).

    `objects` are the rendered manifests (the scale target must be among them), `source` names the
    file or rendering the HPA came from. Never raises for bad input.
    """
    label = object_label(hpa)
    model, problems = _structure(hpa)
    if model is None:
        return _issues(problems, source, label)
    problems = api_problems(model)
    if not problems:
        problems = local_problems(apply_api_defaults(model), objects, settings)
    return _issues(problems, source, label)


def parse_hpa(hpa: dict[str, Any], source: str, settings: HpaSettings | None = None) -> HorizontalPodAutoscaler:
    """The defaulted model of `hpa`, or SpecError listing layers 1–2 (and the custom-metric checks
    of layer 3 when `settings` is given). Used where the rendered objects are not at hand."""
    label = object_label(hpa)
    model, problems = _structure(hpa)
    if model is None:
        raise SpecError(_issues(problems, source, label))
    problems = api_problems(model)
    defaulted = apply_api_defaults(model)
    if not problems and settings is not None:
        problems = [
            problem for problem in local_problems(defaulted, [], settings) if problem[0] != "spec.scaleTargetRef.name"
        ]
    if problems:
        raise SpecError(_issues(problems, source, label))
    return defaulted
