"""What `run` checks before its run directory exists must accept everything the project ships."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpabench import preflight
from hpabench.deploy.apirules import api_rule_issues, label_value_problem, qualified_name_problem, quantity_problem
from hpabench.deploy.appcheck import app_config_issues
from hpabench.deploy.render import render
from hpabench.deploy.variant import load_variant
from hpabench.pipeline import RunOptions, dry_run, rate_window_variables
from hpabench.promqlcheck import promql_problem
from hpabench.scenarios.catalogue import list_scenarios, load_scenario

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = sorted((ROOT / "deploy" / "variants").glob("*.yaml"))


@pytest.mark.parametrize("variant_file", VARIANTS, ids=[p.stem for p in VARIANTS])
def test_shipped_variants_render_to_objects_a_cluster_and_the_app_accept(variant_file: Path) -> None:
    objects = render(load_variant(variant_file))
    assert preflight.rendered_issues(objects, str(variant_file)) == []


def test_every_catalogue_scenario_and_the_metric_profile_pass() -> None:
    for name, _ in list_scenarios():
        assert load_scenario(name).name == name
    assert preflight.profile_issues(rate_window_variables(5.0)) == []


def test_dry_run_prints_the_plan_and_creates_nothing(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    options = RunOptions(scenario="step", variant=VARIANTS[0], time_scale=0.5, reports_dir=reports)
    text = dry_run(options)
    assert "nothing was started" in text and "scenario: step" in text and "Deployment/web" in text
    assert not reports.exists()


def test_api_rules_bound_what_the_schema_leaves_open() -> None:
    objects = render()
    web = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "web")
    web["spec"]["replicas"] = -1
    web["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = 70000
    web["metadata"]["labels"]["bad key!"] = "x"
    paths = {issue.path for issue in api_rule_issues(objects, "src")}
    assert {
        "Deployment/web: spec.replicas",
        "Deployment/web: spec.template.spec.containers.0.ports.0.containerPort",
        "Deployment/web: metadata.labels",
    } <= paths


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (qualified_name_problem, ["app", "app.kubernetes.io/name", "a_b.c-d"], ["bad key!", "-a", "a/", "UPPER/x"]),
        (label_value_problem, ["", "web", "v1.2_3"], ["no spaces", "-x", "x" * 64, 3]),
        (quantity_problem, ["250m", "0.5", "128Mi", 2], ["1e400", "99999999Ei", "-1", "lots", True]),
        (promql_problem, ["up", "sum by (pod) (rate(x[15s]))"], ["sum((", "rate(x[$w])", "", "a b"]),
    ],
)
def test_format_rules(check, good, bad) -> None:  # type: ignore[no-untyped-def]
    assert [value for value in good if check(value)] == []
    assert [value for value in bad if not check(value)] == []


def test_the_app_config_parser_sees_the_resolved_environment() -> None:
    objects = render()
    assert app_config_issues(objects, "src") == []
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "web-config")
    config["data"]["DB_POOL_MAX"] = "many"
    issues = app_config_issues(objects, "src")
    assert issues and all("DB_POOL_MAX='many'" in issue.message for issue in issues)
    assert {issue.path.split(":")[0] for issue in issues} == {"Deployment/web"}
