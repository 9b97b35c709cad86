"""Rendering: base manifests + variant → objects; deterministic, alias-free, errors with paths."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpabench.deploy.render import (
    LB_ALGORITHM_ANNOTATION,
    MANIFESTS_DIR,
    MAX_CONN_ANNOTATION,
    VARIANT_ANNOTATION,
    dump_yaml,
    find,
    render,
    render_objects,
)
from hpabench.deploy.variant import Variant, load_variant
from hpabench.errors import SpecError

VARIANTS_DIR = MANIFESTS_DIR.parent / "variants"


def variant_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "variant.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def issues(tmp_path: Path, text: str) -> dict[str, str]:
    path = variant_file(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        render_objects(path, None)
    assert all(issue.file == str(path) for issue in caught.value.issues)
    return {issue.path: issue.message for issue in caught.value.issues}


def web_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = find(objects, "Deployment", "web")
    assert deployment is not None
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "web")


def base_objects() -> list[dict[str, Any]]:
    objects = []
    for path in sorted(MANIFESTS_DIR.glob("*.yaml")):
        objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return objects


def test_baseline_is_the_base_manifests_plus_the_variant_annotation() -> None:
    rendered = render()
    base = base_objects()
    assert [(o["kind"], o["metadata"]["name"]) for o in rendered] == [(o["kind"], o["metadata"]["name"]) for o in base]
    for got, want in zip(rendered, base, strict=True):
        assert got["metadata"]["annotations"].pop(VARIANT_ANNOTATION) == "baseline"
        if not got["metadata"]["annotations"]:
            del got["metadata"]["annotations"]
        assert got == want


def test_rendering_is_deterministic_and_does_not_share_nodes() -> None:
    first, second = render(), render()
    assert first == second and dump_yaml(first) == dump_yaml(second)
    container = web_container(first)
    init = find(first, "Deployment", "web")["spec"]["template"]["spec"]["initContainers"][0]  # type: ignore[index]
    assert container["env"] == init["env"]  # the base shares them through a YAML anchor...
    assert container["env"] is not init["env"]  # ...the rendered objects do not
    container["env"].append({"name": "X", "value": "1"})
    assert len(init["env"]) == len(container["env"]) - 1


def test_dump_is_alias_free_multi_document_yaml_that_round_trips() -> None:
    for path in [None, *sorted(VARIANTS_DIR.glob("*.yaml"))]:
        objects = render_objects(path, "registry.example/team/refapp:2.0")
        text = dump_yaml(objects)
        assert "&id" not in text and "*id" not in text and "<<:" not in text
        assert text.startswith("---\n") and text.count("\n---\n") == len(objects) - 1
        assert list(yaml.safe_load_all(text)) == objects
        assert text.index("apiVersion:") < text.index("kind:") < text.index("metadata:")  # kubectl-style order


def test_every_object_is_annotated_with_the_variant() -> None:
    objects = render_objects(VARIANTS_DIR / "leastconn.yaml", None)
    assert {o["metadata"]["annotations"][VARIANT_ANNOTATION] for o in objects} == {"leastconn"}


def test_image_override_replaces_only_the_app_image() -> None:
    objects = render(image="ghcr.io/acme/refapp@sha256:abc")
    pod = find(objects, "Deployment", "web")["spec"]["template"]["spec"]  # type: ignore[index]
    assert pod["containers"][0]["image"] == "ghcr.io/acme/refapp@sha256:abc"
    assert pod["initContainers"][0]["image"] == "ghcr.io/acme/refapp@sha256:abc"
    postgres = find(objects, "StatefulSet", "postgres")["spec"]["template"]["spec"]  # type: ignore[index]
    assert postgres["containers"][0]["image"] == "postgres:15"


def test_bad_image_is_refused() -> None:
    with pytest.raises(SpecError, match="image: 'a b' is not a container image reference"):
        render(image="a b")


def test_web_knobs_land_where_documented(tmp_path: Path) -> None:
    path = variant_file(
        tmp_path,
        """
name: knobs
web:
  resources: {requests: {cpu: 300m}, limits: {memory: 1Gi}}
  replicas: 3
  concurrency: 48
  cache_ttl_s: 5
  work_cost: 1234
""",
    )
    objects = render_objects(path, None)
    container = web_container(objects)
    assert container["resources"] == {
        "requests": {"cpu": "300m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},
    }
    assert container["args"] == ["--no-access-log", "--limit-concurrency", "48"]
    assert find(objects, "Deployment", "web")["spec"]["replicas"] == 3  # type: ignore[index]
    data = find(objects, "ConfigMap", "web-config")["data"]  # type: ignore[index]
    assert (data["DB_POOL_MAX"], data["CACHE_TTL_S"], data["WORK_DEFAULT_COST"]) == ("48", "5", "1234")


def test_explicit_db_pool_overrides_concurrency_and_concurrency_is_set_once(tmp_path: Path) -> None:
    variant = load_variant(variant_file(tmp_path, "name: pool\nweb: {concurrency: 64, db_pool_max: 12}\n"))
    objects = render(variant)
    assert find(objects, "ConfigMap", "web-config")["data"]["DB_POOL_MAX"] == "12"  # type: ignore[index]
    again = render(variant, manifests_dir=_manifests_with_args(tmp_path, ["--limit-concurrency=5", "--no-access-log"]))
    assert web_container(again)["args"] == ["--no-access-log", "--limit-concurrency", "64"]


def _manifests_with_args(tmp_path: Path, args: list[str]) -> Path:
    target = tmp_path / "k8s"
    shutil.copytree(MANIFESTS_DIR, target)
    web = target / "30-web.yaml"
    web.write_text(web.read_text().replace('args: ["--no-access-log"]', f"args: {args}"))
    return target


def test_hpa_knobs(tmp_path: Path) -> None:
    objects = render_objects(VARIANTS_DIR / "fast-scale-up.yaml", None)
    spec = find(objects, "HorizontalPodAutoscaler", "web")["spec"]  # type: ignore[index]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 6)
    assert spec["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}
    ]
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 60
    path = variant_file(
        tmp_path,
        """
name: rps
hpa:
  metrics:
    - type: Pods
      pods: {metric: {name: http_requests_per_second}, target: {type: AverageValue, averageValue: "20"}}
""",
    )
    metrics = find(render_objects(path, None), "HorizontalPodAutoscaler", "web")["spec"]["metrics"]  # type: ignore[index]
    assert [m["type"] for m in metrics] == ["Resource", "Pods"]  # appended after the base CPU metric
    assert metrics[1]["pods"]["target"] == {"type": "AverageValue", "averageValue": "20"}


def test_hpa_disabled_removes_it(tmp_path: Path) -> None:
    objects = render_objects(variant_file(tmp_path, "name: fixed\nweb: {replicas: 3}\nhpa: {enabled: false}\n"), None)
    assert find(objects, "HorizontalPodAutoscaler", "web") is None
    assert find(objects, "Deployment", "web")["spec"]["replicas"] == 3  # type: ignore[index]


def test_networking_knobs_become_service_fields_and_annotations() -> None:
    objects = render_objects(VARIANTS_DIR / "leastconn.yaml", None)
    service = find(objects, "Service", "web")
    assert service is not None
    assert service["spec"]["sessionAffinity"] == "None"
    assert service["metadata"]["annotations"][LB_ALGORITHM_ANNOTATION] == "leastconn"
    assert service["metadata"]["annotations"][MAX_CONN_ANNOTATION] == "32"


def test_extras_add_the_optional_objects(tmp_path: Path) -> None:
    assert find(render(), "PodDisruptionBudget", "web") is None
    path = variant_file(tmp_path, "name: extras\nextras: {pdb: true, networkpolicy: true}\n")
    objects = render_objects(path, None)
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert kinds[-3:] == [
        ("NetworkPolicy", "postgres-from-web"),
        ("NetworkPolicy", "redis-from-web"),
        ("PodDisruptionBudget", "web"),
    ]


def test_patches_apply_in_order_after_the_knobs(tmp_path: Path) -> None:
    path = variant_file(
        tmp_path,
        """
name: patched
web: {replicas: 2}
patches:
  - {kind: Deployment, name: web, op: test, path: /spec/replicas, value: 2}
  - {kind: Deployment, name: web, op: replace, path: /spec/replicas, value: 5}
  - {kind: Secret, name: db-credentials, op: replace, path: /stringData/POSTGRES_PASSWORD, value: rotated}
  - kind: Deployment
    name: web
    op: add
    path: /spec/template/spec/tolerations
    value: [{key: bench, operator: Exists}]
  - {kind: Deployment, name: web, op: copy, from: /spec/replicas, path: /spec/minReadySeconds}
  - {kind: Service, name: web, op: remove, path: /metadata/labels/app.kubernetes.io~1part-of}
""",
    )
    objects = render_objects(path, None)
    deployment = find(objects, "Deployment", "web")
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 5 and deployment["spec"]["minReadySeconds"] == 5
    assert deployment["spec"]["template"]["spec"]["tolerations"] == [{"key": "bench", "operator": "Exists"}]
    assert find(objects, "Secret", "db-credentials")["stringData"]["POSTGRES_PASSWORD"] == "rotated"  # type: ignore[index]
    assert "app.kubernetes.io/part-of" not in find(objects, "Service", "web")["metadata"]["labels"]  # type: ignore[index]


def test_patch_errors_name_the_patch_and_field(tmp_path: Path) -> None:
    found = issues(
        tmp_path,
        """
name: broken
patches:
  - {kind: Deployment, name: nope, op: replace, path: /spec/replicas, value: 1}
  - {kind: Deployment, name: web, op: replace, path: /spec/replicaz, value: 1}
  - {kind: Deployment, name: web, op: add, path: /spec/template/spec/containers/7, value: {}}
  - {kind: Deployment, name: web, op: test, path: /spec/replicas, value: 99}
  - {kind: Deployment, name: web, op: move, from: /spec/nothing, path: /spec/x}
  - {kind: Deployment, name: web, op: replace, path: /metadata/name, value: other}
  - {kind: Deployment, name: web, op: add, path: /spec/replicas/deeper, value: 1}
""",
    )
    assert found["patches.0.name"] == "no Deployment named 'nope' in the rendered objects"
    assert found["patches.1.path"].startswith("/spec/replicaz does not exist (keys under /spec: replicas, selector")
    assert "index 7 is out of range (/spec/template/spec/containers has 1 items)" in found["patches.2.path"]
    assert found["patches.3.value"] == "test failed: the value at /spec/replicas differs"
    assert found["patches.4.from"].startswith("/spec/nothing does not exist")
    assert found["patches.5.path"] == "a patch must not change the object's kind or metadata.name"
    assert "/spec/replicas is a number, not an object or list" in found["patches.6.path"]
    assert len(found) == 7  # every patch problem at once


def test_knob_conflicts_with_the_base_manifests(tmp_path: Path) -> None:
    # base: HPA max 4, web cpu limit 500m, PostgreSQL max_connections=200
    assert (
        "minReplicas 5 would exceed maxReplicas 4"
        in issues(tmp_path, "name: c1\nhpa: {min_replicas: 5}\n")["hpa.min_replicas"]
    )
    assert (
        "cpu request 2 would exceed the cpu limit 500m"
        in issues(tmp_path, "name: c2\nweb: {resources: {requests: {cpu: '2'}}}\n")["web.resources"]
    )
    too_many = issues(tmp_path, "name: c3\nweb: {concurrency: 100}\nhpa: {max_replicas: 4}\n")
    assert (
        "4 web pods x DB_POOL_MAX 100 = 400 connections exceed PostgreSQL's max_connections 200"
        in too_many["web.concurrency"]
    )


def test_cpu_target_without_a_cpu_request_is_a_conflict(tmp_path: Path) -> None:
    target = _manifests_with_args(tmp_path, ["--no-access-log"])
    web = target / "30-web.yaml"
    web.write_text(web.read_text().replace("requests: { cpu: 200m, memory: 128Mi }", "requests: { memory: 128Mi }"))
    variant = Variant(name="t", hpa={"target_cpu_utilization": 70})  # type: ignore[arg-type]
    with pytest.raises(SpecError) as caught:
        render(variant, manifests_dir=target)
    assert [(i.path, i.message) for i in caught.value.issues] == [
        ("hpa.target_cpu_utilization", "the HPA targets CPU utilization but container 'web' has no cpu request")
    ]


def test_knobs_need_their_objects(tmp_path: Path) -> None:
    target = tmp_path / "k8s"
    target.mkdir()
    shutil.copy(MANIFESTS_DIR / "00-config.yaml", target)
    variant = Variant(name="t", web={"replicas": 2}, networking={"lb_algorithm": "random"})  # type: ignore[arg-type]
    with pytest.raises(SpecError) as caught:
        render(variant, manifests_dir=target)
    assert {(i.path, i.message) for i in caught.value.issues} == {
        ("web.replicas", "Deployment 'web' is not in the base manifests"),
        ("networking", "Service 'web' is not in the base manifests"),
    }


def test_malformed_base_manifests_name_file_and_document(tmp_path: Path) -> None:
    (tmp_path / "10-bad.yaml").write_text("kind: ConfigMap\nmetadata: {name: x}\n---\n- a list\n")
    with pytest.raises(SpecError) as caught:
        render(manifests_dir=tmp_path)
    assert [(i.file, i.path, i.message) for i in caught.value.issues] == [
        (str(tmp_path / "10-bad.yaml"), "document 1", "missing apiVersion"),
        (str(tmp_path / "10-bad.yaml"), "document 2", "must be a Kubernetes object (a mapping)"),
    ]
    (tmp_path / "10-bad.yaml").write_text("a: [1, 2\n")
    with pytest.raises(SpecError, match=r"10-bad.yaml: line 2, column 1: invalid YAML"):
        render(manifests_dir=tmp_path)


def test_duplicate_and_missing_base_objects(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"no \*\.yaml manifests"):
        render(manifests_dir=tmp_path)
    shutil.copy(MANIFESTS_DIR / "00-config.yaml", tmp_path / "00-config.yaml")
    shutil.copy(MANIFESTS_DIR / "00-config.yaml", tmp_path / "01-again.yaml")
    with pytest.raises(SpecError, match="ConfigMap/web-config: defined twice"):
        render(manifests_dir=tmp_path)


def test_render_objects_without_a_variant_is_the_baseline() -> None:
    assert render_objects(None, None) == render()
