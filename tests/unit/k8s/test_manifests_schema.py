"""Strict upstream schemas (kubernetes-validate) for what the k8s target ships beyond the rendered
manifests (those are checked for every variant in tests/unit/test_validate.py): the RBAC, and
the example variant the pre-flight recommends, for every supported minor version."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hpabench.deploy.k8s.monitors import interval, monitor_objects
from hpabench.deploy.render import render, render_objects
from hpabench.deploy.schema_check import SUPPORTED_K8S_VERSIONS, schema_issues, validate_objects
from hpabench.deploy.variant import default_variant

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("version", SUPPORTED_K8S_VERSIONS)
def test_rbac_is_valid(version: str) -> None:
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy/rbac/hpabench-rbac.yaml").read_text()) if d]
    assert {d["kind"] for d in docs} == {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
    assert [i for d in docs for i in schema_issues(d, version, "rbac")] == []


@pytest.mark.parametrize("version", SUPPORTED_K8S_VERSIONS)
def test_emptydir_example_variant_is_valid_and_has_no_claim(version: str) -> None:
    objects = render_objects(ROOT / "deploy/k8s/examples/postgres-emptydir.yaml", "ghcr.io/acme/refapp:1.0")
    assert validate_objects(objects, version, "postgres-emptydir") == []
    postgres = next(o for o in objects if o["kind"] == "StatefulSet")
    assert "volumeClaimTemplates" not in postgres["spec"]
    assert {"name": "data", "emptyDir": {}} in postgres["spec"]["template"]["spec"]["volumes"]


def test_pod_monitors_select_the_run_only_at_a_fine_interval() -> None:
    # No upstream schema exists for the Prometheus Operator's CRDs in kubernetes-validate: shape checks only.
    monitors = monitor_objects(render(default_variant()), "hpabench-run-1", scrape_interval_s=0.5)
    web = next(m for m in monitors if m["metadata"]["name"] == "hpabench-web")
    assert web["spec"]["namespaceSelector"] == {"matchNames": ["hpabench-run-1"]}
    assert web["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "web"}
    assert web["spec"]["podMetricsEndpoints"][0]["interval"] == "1s"
    assert interval(30) == "5s" and interval(2.4) == "2s"
