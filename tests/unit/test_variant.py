"""Variant files: the examples load, defaults hold, bad input names the file and the field path."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpabench.deploy.hpa.controller_settings import HpaSettings
from hpabench.deploy.variant import (
    BUILTIN_SOURCE,
    Variant,
    cpu_millicores,
    default_variant,
    load_variant,
    memory_bytes,
)
from hpabench.errors import SpecError

VARIANTS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "variants"
EXAMPLES = sorted(VARIANTS_DIR.glob("*.yaml"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "variant.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def issues_of(path: Path) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        load_variant(path)
    assert all(issue.file == str(path) for issue in caught.value.issues)
    return {issue.path: issue.message for issue in caught.value.issues}


def test_the_four_examples_exist_and_load() -> None:
    assert {p.stem for p in EXAMPLES} >= {"baseline", "fast-scale-up", "big-pods", "leastconn"}
    for path in EXAMPLES:
        variant = load_variant(path)
        assert variant.name == path.stem  # file name and variant name agree
        assert variant.source_file == str(path)
        assert variant.description


def test_default_variant_is_baseline_with_upstream_controller_defaults() -> None:
    variant = default_variant()
    assert variant.name == "baseline" and variant.source_file == BUILTIN_SOURCE
    assert isinstance(variant.controller, HpaSettings)
    controller = variant.controller
    assert (controller.sync_period_s, controller.tolerance, controller.downscale_stabilization_s) == (15, 0.1, 300)
    assert (controller.cpu_initialization_period_s, controller.initial_readiness_delay_s) == (300, 30)
    assert controller.metrics_window_s == 15
    assert variant.patches == [] and not variant.extras.pdb and not variant.extras.networkpolicy
    assert variant.hpa.enabled and variant.web.replicas is None


def test_fast_scale_up_keeps_behavior_in_manifest_shape() -> None:
    variant = load_variant(VARIANTS_DIR / "fast-scale-up.yaml")
    behavior = variant.hpa.behavior_manifest()
    assert behavior is not None
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert behavior["scaleUp"]["policies"][0] == {"type": "Percent", "value": 300, "periodSeconds": 15}
    assert "tolerance" not in behavior["scaleUp"]  # only what the variant wrote
    assert variant.controller.sync_period_s == 5


def test_quantities() -> None:
    assert cpu_millicores("250m") == 250 and cpu_millicores("0.5") == 500 and cpu_millicores("2") == 2000
    assert memory_bytes("128Mi") == 128 * 2**20 and memory_bytes("1G") == 10**9


def test_every_problem_is_reported_with_its_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
name: Not_A_Label
web:
  replicas: 0
  resources: {requests: {cpu: 2, memory: 12Q}}
  bogus: 1
hpa: {target_cpu_utilization: 0}
networking: {lb_algorithm: fastest}
slo: {error_rate: 2}
controller: {tolerance: 1.5}
patches:
  - {kind: Deployment, name: web, op: add, path: spec/x, value: 1}
  - {kind: Deployment, name: web, op: replace, path: /spec/x}
  - {kind: Deployment, name: web, op: move, path: /spec/x}
  - {kind: Deployment, name: web, op: frobnicate, path: /spec/x}
""",
    )
    issues = issues_of(path)
    assert set(issues) == {
        "name",
        "web.replicas",
        "web.resources.requests.memory",
        "web.bogus",
        "hpa.target_cpu_utilization",
        "networking.lb_algorithm",
        "slo.error_rate",
        "controller.tolerance",
        "patches.0.path",
        "patches.1",
        "patches.2",
        "patches.3.op",
    }
    assert issues["web.bogus"] == "unknown field"
    assert "not a quantity: '12Q'" in issues["web.resources.requests.memory"]
    assert "JSON pointer" in issues["patches.0.path"]
    assert "needs a value" in issues["patches.1"]
    assert "needs from" in issues["patches.2"]


def test_resource_and_replica_conflicts_inside_the_variant(tmp_path: Path) -> None:
    issues = issues_of(
        write(
            tmp_path,
            """
name: bad
web: {resources: {requests: {cpu: 1}, limits: {cpu: 500m}}}
hpa: {min_replicas: 5, max_replicas: 2}
""",
        )
    )
    assert "requests.cpu 1 exceeds limits.cpu 500m" in issues["web.resources"]
    assert "min_replicas 5 exceeds max_replicas 2" in issues["hpa"]


def test_disabled_hpa_with_hpa_knobs_is_a_conflict(tmp_path: Path) -> None:
    issues = issues_of(write(tmp_path, "name: fixed\nhpa: {enabled: false, max_replicas: 3}\n"))
    assert "max_replicas set while enabled is false" in issues["hpa"]


def test_behavior_and_metrics_are_checked_like_the_api_server(tmp_path: Path) -> None:
    issues = issues_of(
        write(
            tmp_path,
            """
name: weird-hpa
hpa:
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 4000
      selectPolicy: Sometimes
      policies: [{type: Pods, value: 0, periodSeconds: 0}]
    scaleSideways: {}
  metrics:
    - type: Pods
      pods: {metric: {name: rps}, target: {type: Utilization, averageUtilization: 50}}
""",
        )
    )
    # shape errors first (unknown key), in the manifest's camelCase
    assert issues == {"hpa.behavior.scaleSideways": "unknown field"}
    path = write(
        tmp_path,
        """
name: weird-hpa
hpa:
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 4000
      selectPolicy: Sometimes
      policies: [{type: Pods, value: 0, periodSeconds: 0}]
  metrics:
    - type: Pods
      pods: {metric: {name: rps}, target: {type: Utilization, averageUtilization: 50}}
""",
    )
    issues = issues_of(path)
    assert set(issues) == {
        "hpa.behavior.scaleUp.stabilizationWindowSeconds",
        "hpa.behavior.scaleUp.selectPolicy",
        "hpa.behavior.scaleUp.policies.0.value",
        "hpa.behavior.scaleUp.policies.0.periodSeconds",
        "hpa.metrics.0.pods.target.type",
    }
    assert "between 0 and 3600" in issues["hpa.behavior.scaleUp.stabilizationWindowSeconds"]


def test_patch_from_alias_and_operation(tmp_path: Path) -> None:
    variant = load_variant(
        write(
            tmp_path,
            """
name: patched
patches:
  - {kind: Deployment, name: web, op: copy, from: /spec/replicas, path: /spec/minReadySeconds}
  - {kind: Deployment, name: web, op: add, path: /metadata/labels/tier, value: null}
""",
        )
    )
    assert variant.patches[0].operation() == {"op": "copy", "path": "/spec/minReadySeconds", "from": "/spec/replicas"}
    assert variant.patches[1].operation() == {"op": "add", "path": "/metadata/labels/tier", "value": None}


def test_empty_and_missing_files_are_clear(tmp_path: Path) -> None:
    assert issues_of(write(tmp_path, "")) == {"": "is empty"}
    with pytest.raises(SpecError, match="file not found"):
        load_variant(tmp_path / "nope.yaml")


def test_variant_is_immutable() -> None:
    variant = Variant(name="x")
    with pytest.raises(ValueError, match="frozen"):
        variant.name = "y"  # type: ignore[misc]
