"""Reading rendered objects for the local target: runtimes, Services, resources, clear refusals."""

from __future__ import annotations

import copy
import glob
from typing import Any

import pytest
import yaml

from hpabench.deploy.local.deployment import pick_pods_to_delete
from hpabench.deploy.local.pods import PodInfo
from hpabench.deploy.local.runtimes import _app_argv
from hpabench.deploy.local.workloads import (
    RUNTIME_APP,
    RUNTIME_POSTGRES,
    RUNTIME_REDIS,
    SAFE_ALPHABET,
    image_runtime,
    parse_objects,
    random_suffix,
    template_hash,
)
from hpabench.errors import SpecError


def base_objects() -> list[dict[str, Any]]:
    """The base manifests, as `render_objects(None, None)` gives them (when available)."""
    try:
        from hpabench.deploy.render import render_objects
    except ImportError:
        files = sorted(glob.glob("deploy/manifests/*.yaml"))
        return [o for f in files for o in yaml.safe_load_all(open(f)) if o]
    return render_objects(None, None)


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


@pytest.mark.parametrize(
    ("image", "runtime"),
    [
        ("hpabench/refapp:0.1.0", RUNTIME_APP),
        ("registry.example.com:5000/team/refapp:1", RUNTIME_APP),
        ("ghcr.io/x/refapp@sha256:abc", RUNTIME_APP),
        ("postgres:15", RUNTIME_POSTGRES),
        ("docker.io/library/postgres:16-alpine", RUNTIME_POSTGRES),
        ("redis:7", RUNTIME_REDIS),
        ("nginx:1.25", None),
        ("refapp-sidecar:1", None),
    ],
)
def test_image_runtime(image: str, runtime: str | None) -> None:
    assert image_runtime(image) == runtime


def test_base_manifests_map_to_local_runtimes() -> None:
    spec = parse_objects(base_objects())
    runtimes = {w.name: w.runtime for w in spec.workloads}
    assert runtimes == {"postgres": RUNTIME_POSTGRES, "redis": RUNTIME_REDIS, "web": RUNTIME_APP}
    web = spec.workload("web")
    assert web.resources.cpu_request_millicores == 200
    assert web.resources.cpu_limit_millicores == 500
    assert [c.name for c in web.init_containers] == ["migrate"]
    assert web.grace_s == 10
    services = {s.name: s for s in spec.services}
    assert services["web"].load_balanced and services["web"].ports[0].target_port == 8080
    assert not services["postgres"].load_balanced and not services["redis"].load_balanced
    assert services["web"].lb_algorithm == "roundrobin"
    assert [h["metadata"]["name"] for h in spec.hpas] == ["web"]
    assert set(spec.configmaps) == {"web-config"} and "POSTGRES_PASSWORD" in spec.secrets["db-credentials"]


def test_every_problem_is_reported_at_once() -> None:
    objects = copy.deepcopy(base_objects())
    web = find(objects, "Deployment", "web")
    web["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:latest"
    find(objects, "StatefulSet", "postgres")["spec"]["replicas"] = 3
    objects.append({"kind": "DaemonSet", "metadata": {"name": "agent"}})
    redis = find(objects, "Deployment", "redis")
    redis["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "lots"
    with pytest.raises(SpecError) as info:
        parse_objects(objects)
    found = {(i.file, i.path) for i in info.value.issues}
    assert ("Deployment/web", "spec.template.spec.containers.0.image") in found
    assert ("StatefulSet/postgres", "spec.replicas") in found
    assert ("DaemonSet/agent", "kind") in found
    assert ("Deployment/redis", "spec.template.spec.containers.0.resources") in found
    assert "no local runtime for image 'nginx:latest'" in str(info.value)


def test_missing_secret_key_is_a_spec_error() -> None:
    objects = copy.deepcopy(base_objects())
    secret = find(objects, "Secret", "db-credentials")
    secret.get("stringData", {}).pop("POSTGRES_PASSWORD", None)
    secret.get("data", {}).pop("POSTGRES_PASSWORD", None)
    with pytest.raises(SpecError) as info:
        parse_objects(objects)
    assert any("POSTGRES_PASSWORD" in i.message and i.file == "Deployment/web" for i in info.value.issues)


def test_service_annotations_are_read_and_checked() -> None:
    objects = copy.deepcopy(base_objects())
    service = find(objects, "Service", "web")
    service["metadata"].setdefault("annotations", {}).update(
        {"hpabench.io/lb-algorithm": "leastconn", "hpabench.io/max-conn-per-pod": "8"}
    )
    web = next(s for s in parse_objects(objects).services if s.name == "web")
    assert (web.lb_algorithm, web.max_conn_per_pod) == ("leastconn", 8)
    service["metadata"]["annotations"].update(
        {"hpabench.io/lb-algorithm": "fastest", "hpabench.io/max-conn-per-pod": "0"}
    )
    with pytest.raises(SpecError) as info:
        parse_objects(objects)
    paths = {i.path for i in info.value.issues}
    assert "metadata.annotations.hpabench.io/lb-algorithm" in paths
    assert "metadata.annotations.hpabench.io/max-conn-per-pod" in paths


def test_ignored_kinds_are_listed() -> None:
    objects = [*base_objects(), {"kind": "PodDisruptionBudget", "metadata": {"name": "web"}}]
    assert "PodDisruptionBudget/web" in parse_objects(objects).ignored


def test_template_hash_is_stable_and_safe() -> None:
    template = find(base_objects(), "Deployment", "web")["spec"]["template"]
    assert template_hash(template) == template_hash(copy.deepcopy(template))
    changed = copy.deepcopy(template)
    changed["spec"]["containers"][0]["image"] = "hpabench/refapp:9"
    assert template_hash(changed) != template_hash(template)
    assert set(template_hash(template)) <= set(SAFE_ALPHABET)
    suffix = random_suffix()
    assert len(suffix) == 5 and set(suffix) <= set(SAFE_ALPHABET)


def test_app_command_mapping() -> None:
    web = parse_objects(base_objects()).workload("web")
    argv = _app_argv(web.main, 4321)
    assert argv[1:5] == ["-m", "uvicorn", "hpabench_refapp.main:app", "--host"]
    assert argv[argv.index("--port") + 1] == "4321"
    assert argv[-len(web.main.args or ()) :] == list(web.main.args or ())  # uvicorn options appended
    migrate = _app_argv(web.init_containers[0], 1)
    assert migrate[1:] == ["-m", "hpabench_refapp.migrate"]


def _info(name: str, **kw: Any) -> PodInfo:
    base: dict[str, Any] = dict(
        name=name,
        deployment="web",
        phase="Running",
        ready=True,
        deleting=False,
        created_ts=100.0,
        started_ts=101.0,
        ready_ts=102.0,
        restarts=0,
        pid=1,
        cpu_request_millicores=200,
        cpu_limit_millicores=500,
        memory_request_bytes=None,
        memory_limit_bytes=None,
        cpu_usage_seconds=0.0,
        memory_usage_bytes=0,
        cpu_throttled_periods=0,
    )
    base.update(kw)
    return PodInfo(**base)


def test_scale_down_picks_like_the_replicaset_controller() -> None:
    pods = [
        _info("old-ready", created_ts=100, ready_ts=110),
        _info("new-ready", created_ts=200, ready_ts=210),
        _info("unready", created_ts=50, ready=False, ready_ts=None),
        _info("pending", phase="Pending", ready=False, created_ts=10),
        _info("crashy", created_ts=100, ready_ts=110, restarts=4),
        _info("going", deleting=True),
    ]
    assert pick_pods_to_delete(pods, 1) == ["pending"]
    assert pick_pods_to_delete(pods, 3) == ["pending", "unready", "new-ready"]
    assert pick_pods_to_delete(pods, 4)[-1] == "crashy"  # same readiness age: more restarts first
    assert "going" not in pick_pods_to_delete(pods, 10)
    assert pick_pods_to_delete(pods, 0) == []
