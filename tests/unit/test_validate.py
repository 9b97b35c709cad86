"""Manifest validation: upstream schemas for each supported version plus semantic checks."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from hpabench.deploy.render import find, render, render_objects
from hpabench.deploy.schema_check import SUPPORTED_K8S_VERSIONS, semantic_issues, validate_objects
from hpabench.errors import SpecError

VARIANTS = sorted((Path(__file__).resolve().parents[2] / "deploy" / "variants").glob("*.yaml"))


def messages(objects: list[dict[str, Any]], version: str = SUPPORTED_K8S_VERSIONS[-1]) -> dict[str, str]:
    found = validate_objects(objects, version, "rendered.yaml")
    assert all(issue.file == "rendered.yaml" for issue in found)
    return {issue.path: issue.message for issue in found}


def test_at_least_two_minor_versions_are_supported() -> None:
    assert len(SUPPORTED_K8S_VERSIONS) >= 2
    assert len({v.split(".")[1] for v in SUPPORTED_K8S_VERSIONS}) == len(SUPPORTED_K8S_VERSIONS)


@pytest.mark.parametrize("version", SUPPORTED_K8S_VERSIONS)
@pytest.mark.parametrize("variant", [None, *VARIANTS], ids=lambda p: "base" if p is None else p.stem)
def test_base_and_every_example_variant_validate_clean(variant: Path | None, version: str) -> None:
    objects = render_objects(variant, "ghcr.io/acme/refapp:1.0")
    assert validate_objects(objects, version, str(variant)) == []


def test_optional_extras_validate_clean() -> None:
    from hpabench.deploy.variant import Variant

    objects = render(Variant(name="all", extras={"pdb": True, "networkpolicy": True}))  # type: ignore[arg-type]
    for version in SUPPORTED_K8S_VERSIONS:
        assert validate_objects(objects, version, "x") == []


def web(objects: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = find(objects, "Deployment", "web")
    assert deployment is not None
    return deployment


def test_schema_errors_are_all_reported_with_kind_name_and_path() -> None:
    objects = render()
    pod = web(objects)["spec"]["template"]["spec"]
    web(objects)["spec"]["replicas"] = "two"
    pod["containers"][0]["imagePullPolicy"] = 5
    pod["containers"][0]["ports"][0]["containerPort"] = "http"
    pod["containers"][0]["bogus"] = True
    find(objects, "HorizontalPodAutoscaler", "web")["spec"]["maxReplicas"] = None  # type: ignore[index]
    found = messages(objects)
    assert found == {
        "Deployment/web: spec.replicas": "'two' is not of type 'integer', 'null'",
        "Deployment/web: spec.template.spec.containers.0": (
            "Additional properties are not allowed ('bogus' was unexpected)"
        ),
        "Deployment/web: spec.template.spec.containers.0.imagePullPolicy": "5 is not of type 'string', 'null'",
        "Deployment/web: spec.template.spec.containers.0.ports.0.containerPort": "'http' is not of type 'integer'",
        "HorizontalPodAutoscaler/web: spec.maxReplicas": "None is not of type 'integer'",
    }


def test_unknown_kind_for_a_version() -> None:
    objects = [{"apiVersion": "autoscaling/v2beta1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "old"}}]
    version = SUPPORTED_K8S_VERSIONS[-1]
    assert messages(objects) == {
        "HorizontalPodAutoscaler/old": f"Kubernetes {version} has no HorizontalPodAutoscaler in autoscaling/v2beta1"
    }


def test_semantic_checks_the_schema_misses() -> None:
    objects = copy.deepcopy(render())
    deployment = web(objects)
    deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] = "webz"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["env"][2]["valueFrom"]["secretKeyRef"]["key"] = "MISSING"
    container["envFrom"][0]["configMapRef"]["name"] = "gone"
    container["readinessProbe"]["httpGet"]["port"] = "metrics"
    find(objects, "ConfigMap", "web-config")["data"]["DB_PASSWORD"] = "oops"  # type: ignore[index]
    find(objects, "HorizontalPodAutoscaler", "web")["spec"]["scaleTargetRef"]["name"] = "api"  # type: ignore[index]
    objects.append(copy.deepcopy(find(objects, "Service", "redis")))
    found = {(i.path, i.message) for i in semantic_issues(objects, "f")}
    where = "Deployment/web: spec.template.spec.containers.0"
    assert found == {
        ("Deployment/web: spec.selector", "does not match the pod template's labels (spec.template.metadata.labels)"),
        (f"{where}.env.2.valueFrom.secretKeyRef", "Secret 'db-credentials' has no key 'MISSING'"),
        (f"{where}.envFrom.0.configMapRef.name", "no ConfigMap named 'gone'"),
        (f"{where}.readinessProbe.httpGet.port", "no container port named 'metrics'"),
        ("ConfigMap/web-config: data.DB_PASSWORD", "looks like a credential: put it in a Secret, not a ConfigMap"),
        ("Service/web: spec.selector", "selects no pod template among the objects"),
        ("HorizontalPodAutoscaler/web: spec.scaleTargetRef", "no Deployment named 'api' to scale"),
        ("Service/redis: metadata.name", "defined more than once"),
    }


def test_service_target_port_must_exist_and_optional_refs_may_dangle() -> None:
    objects = render()
    find(objects, "Service", "web")["spec"]["ports"][0]["targetPort"] = "https"  # type: ignore[index]
    env = web(objects)["spec"]["template"]["spec"]["containers"][0]["env"]
    env.append({"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "maybe", "key": "k", "optional": True}}})
    assert {(i.path, i.message) for i in semantic_issues(objects, "f")} == {
        ("Service/web: spec.ports.0.targetPort", "no selected container has a port named 'https'")
    }


def test_pdb_and_networkpolicy_must_select_pods() -> None:
    from hpabench.deploy.variant import Variant

    objects = render(Variant(name="x", extras={"pdb": True, "networkpolicy": True}))  # type: ignore[arg-type]
    find(objects, "PodDisruptionBudget", "web")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "w"  # type: ignore[index]
    policy = find(objects, "NetworkPolicy", "redis-from-web")
    policy["spec"]["podSelector"] = {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}  # type: ignore[index]
    assert {i.path for i in semantic_issues(objects, "f")} == {
        "PodDisruptionBudget/web: spec.selector",
        "NetworkPolicy/redis-from-web: spec.podSelector",
    }


@pytest.mark.parametrize("version", ["1.12", "2.0", "banana"])
def test_unsupported_versions_are_refused_clearly(version: str) -> None:
    with pytest.raises(SpecError, match="is not supported for validation \\(supported: "):
        validate_objects(render(), version, "x")


def test_version_spellings() -> None:
    version = SUPPORTED_K8S_VERSIONS[0]
    assert validate_objects(render(), f"v{version}.4", "x") == []
