"""The in-cluster Locust objects: strictly valid for two Kubernetes minor versions, and shaped as promised."""

from __future__ import annotations

import json

import pytest

from hpabench.deploy.k8s.loadgen import (
    CONFIG_DIR,
    MASTER,
    WORKERS,
    LoadgenSpec,
    hpabench_locustfiles,
    loadgen_objects,
)
from hpabench.deploy.schema_check import validate_objects
from hpabench.scenarios.catalogue import load_scenario
from hpabench.scenarios.drive.locust_runtime import CONFIG_FILE, RuntimeConfig


def spec(workers: int = 3, **extra) -> LoadgenSpec:
    scenario = load_scenario("spike")
    config = RuntimeConfig(scenario, 0.1, "/ignored", workers)  # type: ignore[arg-type]
    return LoadgenSpec(
        run_id="20261201-224000-spike",
        config=config,
        locustfiles=hpabench_locustfiles(None),
        host="http://web:80",
        workers=workers,
        planned_s=42.0,
        **extra,
    )


@pytest.mark.parametrize("version", ["1.31", "1.35"])
def test_loadgen_objects_pass_strict_validation(version: str) -> None:
    assert validate_objects(loadgen_objects(spec()), version, "loadgen") == []


def test_the_objects_have_the_promised_shape() -> None:
    objects = {o["metadata"]["name"] + "/" + o["kind"]: o for o in loadgen_objects(spec(workers=3, image="me/lg:1"))}
    config = json.loads(objects["hpabench-loadgen/ConfigMap"]["data"][CONFIG_FILE])
    assert config["ship_rows"] is True and config["generators"] == 3 and config["plan"]["scenario_name"] == "spike"
    assert "hpabench_catalogue.py" in objects["hpabench-loadgen/ConfigMap"]["data"]
    workers = objects[f"{WORKERS}/Job"]["spec"]
    assert workers["parallelism"] == workers["completions"] == 3 and workers["backoffLimit"] == 0
    pod = workers["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    terms = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    selectors = [t["podAffinityTerm"]["labelSelector"]["matchLabels"] for t in terms]
    assert {"app.kubernetes.io/name": "web"} in selectors
    assert {"app.kubernetes.io/name": "hpabench-loadgen", "app.kubernetes.io/component": "worker"} in selectors
    container = pod["containers"][0]
    assert container["image"] == "me/lg:1" and container["resources"]["requests"]["cpu"] == "1000m"
    assert f"{CONFIG_DIR}/hpabench_catalogue.py" in container["args"]
    master = objects[f"{MASTER}/Job"]["spec"]
    args = master["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--expect-workers") + 1] == "3"
    for job in (master, workers):
        assert job["activeDeadlineSeconds"] == spec().active_deadline_s > 42
        assert job["template"]["metadata"]["labels"]["hpabench.io/run-id"] == "20261201-224000-spike"
    assert "HorizontalPodAutoscaler" not in {o["kind"] for o in objects.values()}  # never autoscaled
