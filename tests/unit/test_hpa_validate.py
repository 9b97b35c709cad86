"""`validate_hpa` refuses what the local controller cannot honour, with the field path; specs and
quantities parse like the API server's (defaults included)."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpabench.deploy.hpa.admission import parse_hpa, validate_hpa
from hpabench.deploy.hpa.controller_settings import HpaSettings
from hpabench.deploy.hpa.quantity import format_milli, parse_quantity, trunc_div
from hpabench.errors import SpecError

BASE = Path(__file__).resolve().parents[2] / "deploy" / "manifests" / "30-web.yaml"
OBJECTS: list[dict[str, Any]] = [doc for doc in yaml.safe_load_all(BASE.read_text()) if doc]
HPA: dict[str, Any] = next(doc for doc in OBJECTS if doc["kind"] == "HorizontalPodAutoscaler")
SETTINGS = HpaSettings(custom_metrics={"rps": "sum by (pod) (rate(http_requests_total[1m]))"})
LABEL = "HorizontalPodAutoscaler/web"


def with_spec(**changes: Any) -> dict[str, Any]:
    hpa = copy.deepcopy(HPA)
    hpa["spec"].update(changes)
    return hpa


def problems(hpa: dict[str, Any], objects: list[dict[str, Any]] | None = None) -> dict[str, str]:
    issues = validate_hpa(hpa, OBJECTS if objects is None else objects, SETTINGS, "rendered/30-web.yaml")
    assert all(issue.file == "rendered/30-web.yaml" for issue in issues)
    assert all(issue.path.startswith(f"{LABEL}: ") for issue in issues)
    return {issue.path.removeprefix(f"{LABEL}: "): issue.message for issue in issues}


def test_the_base_manifest_is_honourable() -> None:
    assert problems(HPA) == {}


def cpu(target: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": "cpu", "target": target}}


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        ({"minReplicas": 5, "maxReplicas": 2}, "spec.maxReplicas", "must be greater than or equal to `minReplicas`"),
        ({"minReplicas": 0}, "spec.minReplicas", "must be greater than or equal to 1"),
        ({"maxReplicas": 0, "minReplicas": 0}, "spec.maxReplicas", "must be greater than 0"),
        ({"metrics": [{"type": "Cpu"}]}, "spec.metrics.0.type", "unknown metric source type 'Cpu'"),
        ({"metrics": [{"type": "Pods"}]}, "spec.metrics.0.pods", "must be set for a metric of type Pods"),
        (
            {
                "metrics": [
                    {
                        **cpu({"type": "Utilization", "averageUtilization": 50}),
                        "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "1"}},
                    }
                ]
            },
            "spec.metrics.0",
            "must populate the resource source only (also set: pods)",
        ),
        (
            {"metrics": [cpu({"type": "Value", "value": "1"})]},
            "spec.metrics.0.resource.target.type",
            "must be one of Utilization, AverageValue",
        ),
        ({"metrics": [cpu({"type": "Utilization"})]}, "spec.metrics.0.resource.target", "must set averageUtilization"),
        (
            {"metrics": [cpu({"type": "Utilization", "averageUtilization": 0})]},
            "spec.metrics.0.resource.target.averageUtilization",
            "must be greater than 0",
        ),
        (
            {"metrics": [cpu({"type": "AverageValue", "averageValue": "0"})]},
            "spec.metrics.0.resource.target.averageValue",
            "must be positive",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "ephemeral-storage",
                            "target": {"type": "AverageValue", "averageValue": "1Gi"},
                        },
                    }
                ]
            },
            "spec.metrics.0.resource.name",
            "measures cpu and memory only",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": "queue_depth"},
                            "target": {"type": "AverageValue", "averageValue": "3"},
                        },
                    }
                ]
            },
            "spec.metrics.0.pods.metric.name",
            "no PromQL query for Pods metric 'queue_depth'",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": "rps", "selector": {"matchLabels": {"a": "b"}}},
                            "target": {"type": "AverageValue", "averageValue": "3"},
                        },
                    }
                ]
            },
            "spec.metrics.0.pods.metric.selector",
            "metric selectors are not applied locally",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "External",
                        "external": {"metric": {"name": "lag"}, "target": {"type": "Value", "value": "3"}},
                    }
                ]
            },
            "spec.metrics.0.external.metric.name",
            "no PromQL query for External metric 'lag'",
        ),
        (
            {
                "metrics": [
                    {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "Value", "value": "3"}}}
                ]
            },
            "spec.metrics.0.pods.target.type",
            "must be one of AverageValue",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "ContainerResource",
                        "containerResource": {
                            "name": "cpu",
                            "container": "sidecar",
                            "target": {"type": "Utilization", "averageUtilization": 50},
                        },
                    }
                ]
            },
            "spec.metrics.0.containerResource.container",
            "has no container 'sidecar'",
        ),
        (
            {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web"}},
            "spec.scaleTargetRef",
            "scales apps/v1 Deployments only",
        ),
        (
            {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}},
            "spec.scaleTargetRef.name",
            "Deployment/api is not among the rendered objects",
        ),
        (
            {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 3601}}},
            "spec.behavior.scaleDown.stabilizationWindowSeconds",
            "must be between 0 and 3600",
        ),
        (
            {"behavior": {"scaleUp": {"selectPolicy": "Fastest"}}},
            "spec.behavior.scaleUp.selectPolicy",
            "must be one of Max, Min, Disabled",
        ),
        (
            {"behavior": {"scaleUp": {"policies": []}}},
            "spec.behavior.scaleUp.policies",
            "must specify at least one Policy",
        ),
        (
            {"behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 15}]}}},
            "spec.behavior.scaleUp.policies.0.value",
            "must be greater than zero",
        ),
        (
            {"behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 1801}]}}},
            "spec.behavior.scaleUp.policies.0.periodSeconds",
            "must be between 1 and 1800",
        ),
        (
            {"behavior": {"scaleUp": {"policies": [{"type": "Nodes", "value": 1, "periodSeconds": 15}]}}},
            "spec.behavior.scaleUp.policies.0.type",
            "must be Pods or Percent",
        ),
        (
            {"behavior": {"scaleDown": {"tolerance": "-0.1"}}},
            "spec.behavior.scaleDown.tolerance",
            "must be greater than or equal to 0",
        ),
        # structure: unknown keys, wrong types, bad quantities
        ({"maxReplica": 3}, "spec.maxReplica", "unknown field"),
        ({"maxReplicas": "4"}, "spec.maxReplicas", "Input should be a valid integer"),
        (
            {"metrics": [cpu({"type": "AverageValue", "averageValue": "half"})]},
            "spec.metrics.0.resource.target.averageValue",
            "not a quantity",
        ),
    ],
)
def test_refusals_name_the_field(changes: dict[str, Any], path: str, message: str) -> None:
    found = problems(with_spec(**changes))
    assert path in found, found
    assert message in found[path]


def test_utilization_needs_requests_on_every_container() -> None:
    objects = copy.deepcopy(OBJECTS)
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    del deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
    found = problems(HPA, objects)
    assert found == {
        "spec.metrics.0.resource.target": (
            "a Utilization target needs a cpu request on every container; container 'web' of Deployment/web has none"
        )
    }


def test_container_resource_only_for_single_container_pods() -> None:
    objects = copy.deepcopy(OBJECTS)
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    metric = {
        "type": "ContainerResource",
        "containerResource": {
            "name": "cpu",
            "container": "web",
            "target": {"type": "Utilization", "averageUtilization": 50},
        },
    }
    assert problems(with_spec(metrics=[metric]), objects) == {}
    containers.append({"name": "proxy", "image": "envoy", "resources": {"requests": {"cpu": "50m"}}})
    found = problems(with_spec(metrics=[metric]), objects)
    assert "measures usage per pod" in found["spec.metrics.0.containerResource"]


def test_every_issue_is_reported_at_once() -> None:
    hpa = with_spec(
        minReplicas=3,
        maxReplicas=2,
        metrics=[cpu({"type": "Utilization", "averageUtilization": -5}), {"type": "Pods"}],
    )
    assert set(problems(hpa)) == {
        "spec.maxReplicas",
        "spec.metrics.0.resource.target.averageUtilization",
        "spec.metrics.1.pods",
    }


def test_not_a_mapping_and_wrong_api_version() -> None:
    assert validate_hpa([], OBJECTS, SETTINGS, "x")[0].message.startswith("must be a mapping")  # type: ignore[arg-type]
    old = copy.deepcopy(HPA)
    old["apiVersion"] = "autoscaling/v1"
    found = problems(old)
    assert "apiVersion" in found


def test_parse_hpa_applies_api_defaults_and_raises_spec_error() -> None:
    bare = copy.deepcopy(HPA)
    del bare["spec"]["minReplicas"]
    del bare["spec"]["metrics"]
    bare["spec"]["behavior"] = {"scaleDown": {"selectPolicy": "Min"}}
    hpa = parse_hpa(bare, "x")
    assert hpa.min_replicas == 1
    assert hpa.metrics[0].resource is not None and hpa.metrics[0].target.average_utilization == 80
    behavior = hpa.spec.behavior
    assert behavior is not None and behavior.scale_up is not None and behavior.scale_down is not None
    assert behavior.scale_up.stabilization_window_seconds == 0
    assert [(p.type, p.value, p.period_seconds) for p in behavior.scale_up.policies or []] == [
        ("Pods", 4, 15),
        ("Percent", 100, 15),
    ]
    assert behavior.scale_down.select_policy == "Min"  # the user's field wins
    assert behavior.scale_down.stabilization_window_seconds is None  # the controller's flag fills it
    assert [(p.type, p.value) for p in behavior.scale_down.policies or []] == [("Percent", 100)]
    assert parse_hpa(HPA, "x").spec.behavior is None  # absent stays absent (legacy controller path)

    with pytest.raises(SpecError) as info:
        parse_hpa(with_spec(minReplicas=9), "rendered/30-web.yaml", SETTINGS)
    assert info.value.exit_code == 2
    assert "HorizontalPodAutoscaler/web: spec.maxReplicas" in str(info.value)


@pytest.mark.parametrize(
    ("text", "value", "milli"),
    [
        ("250m", Decimal("0.25"), 250),
        ("1", Decimal(1), 1000),
        (2, Decimal(2), 2000),
        ("0.5", Decimal("0.5"), 500),
        ("128Mi", Decimal(128 * 2**20), 128 * 2**20 * 1000),
        ("1e3", Decimal(1000), 1_000_000),
        ("1.5k", Decimal(1500), 1_500_000),
        ("100n", Decimal("1e-7"), 1),  # MilliValue rounds up
        ("-2", Decimal(-2), -2000),
    ],
)
def test_quantities(text: str | int, value: Decimal, milli: int) -> None:
    quantity = parse_quantity(text)
    assert quantity.value == value
    assert quantity.milli == milli


@pytest.mark.parametrize("text", ["", "ten", "1.2.3", "5 m", "1Kb", True, None])
def test_bad_quantities(text: object) -> None:
    with pytest.raises(ValueError, match="not a quantity"):
        parse_quantity(text)


def test_integer_helpers() -> None:
    assert (trunc_div(7, 2), trunc_div(-7, 2), trunc_div(7, -2)) == (3, -3, -3)
    assert (format_milli(1500), format_milli(2000)) == ("1500m", "2")
