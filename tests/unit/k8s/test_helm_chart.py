"""deploy/helm/hpabench-reference renders, for every shipped variant, exactly what `hpabench render`
does — object by object — and passes `helm lint`. Needs the real helm v4 that `make setup`
installs into .tools/bin (scripts/install-k8s-tools.sh)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hpabench.deploy.helm_values import dump_helm_values, helm_values
from hpabench.deploy.hpa.controller_settings import HpaSettings
from hpabench.deploy.render import render_objects
from hpabench.deploy.variant import (
    HpaKnobs,
    Netem,
    NetemKnobs,
    Networking,
    Readiness,
    RolloutKnobs,
    Variant,
    WebKnobs,
    load_variant,
    resolve_variant,
)
from hpabench.errors import SpecError
from hpabench.slo import Slo

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "deploy" / "helm" / "hpabench-reference"
VARIANTS = sorted((ROOT / "deploy" / "variants").glob("*.yaml"))
IMAGE = "ghcr.io/acme/refapp:1.2"


def helm() -> str:
    found = ROOT / ".tools" / "bin" / "helm"
    if found.exists():
        return str(found)
    on_path = shutil.which("helm")
    assert on_path, "helm v4 is missing: run `make tools` (scripts/install-k8s-tools.sh installs it into .tools/bin)"
    return on_path


def helm_template(*args: str) -> list[dict]:
    out = subprocess.run(
        [helm(), "template", "hpabench", str(CHART), *args], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def helm_template_fails(*args: str) -> str:
    proc = subprocess.run(
        [helm(), "template", "hpabench", str(CHART), *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0, "helm template should have refused"
    return proc.stderr


def by_key(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def assert_same(chart_objects: list[dict], ours_objects: list[dict]) -> None:
    chart, ours = by_key(chart_objects), by_key(ours_objects)
    assert sorted(chart) == sorted(ours)
    for key, obj in ours.items():
        assert chart[key] == obj, f"{key[0]}/{key[1]} differs between the chart and hpabench render"


def resolved_values(tmp_path: Path, variant: Path | None, overrides: tuple[str, ...] = ()) -> Path:
    """What `hpabench render --variant V --helm-values` prints, as a values file."""
    values = tmp_path / "values.yaml"
    values.write_text(dump_helm_values(resolve_variant(variant, overrides)))
    return values


def needs_resolving(variant: Path) -> bool:
    """A variant helm cannot take as it is: an `extends` chain, or a scale point hpabench computes."""
    data = yaml.safe_load(variant.read_text())
    return "extends" in data or "resources" in (data.get("web") or {}) or "scale_point" in (data.get("hpa") or {})


DIRECT = [v for v in VARIANTS if not needs_resolving(v)]


@pytest.mark.parametrize("variant", [None, *VARIANTS], ids=lambda p: "default" if p is None else p.stem)
def test_chart_renders_what_hpabench_render_renders(variant: Path | None, tmp_path: Path) -> None:
    """Every shipped variant, resolved by hpabench (extends, derived scale point) and fed to helm."""
    chart = helm_template("--set", f"image={IMAGE}", "-f", str(resolved_values(tmp_path, variant)))
    assert_same(chart, render_objects(variant, IMAGE))


@pytest.mark.parametrize("variant", [None, *DIRECT], ids=lambda p: "default" if p is None else p.stem)
def test_chart_takes_a_variant_file_as_values(variant: Path | None) -> None:
    """A variant without extends or scale-point changes is a values file as it is."""
    args = ["--set", f"image={IMAGE}"] + (["-f", str(variant)] if variant else [])
    assert_same(helm_template(*args), render_objects(variant, IMAGE))


def test_direct_files_cover_the_plain_knobs() -> None:
    names = {v.stem for v in DIRECT}
    assert {"baseline", "hpa-rps-metric", "db-latency-5ms", "keepalive-off", "cpu-no-limit", "static-max"} <= names


def test_chart_follows_every_knob(tmp_path: Path) -> None:
    """The knobs no shipped variant sets (rollout, readiness, every netem field, extra metrics
    beside the RPS metric), through an extends chain and --set overrides."""
    parent = tmp_path / "parent.yaml"
    parent.write_text(
        yaml.safe_dump(
            {
                "name": "parent",
                "web": {
                    "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "1", "memory": "512Mi"}},
                    "readiness": {"period_s": 5, "failure_threshold": 2, "initial_delay_s": 0},
                    "rollout": {"max_surge": 1, "max_unavailable": "0%", "min_ready_s": 5},
                    "cache_ttl_s": 60,
                    "work_cost": 0,
                },
                "hpa": {"scale_point": "iso", "max_replicas": 6, "behavior": {"scaleUp": {"selectPolicy": "Max"}}},
                "networking": {
                    "client_keepalive": True,
                    "lb_algorithm": "random",
                    "netem": {
                        "client_web": {"delay_ms": 0.5, "loss_pct": 1.25},
                        "web_db": {"delay_ms": 10, "jitter_ms": 2.5, "rate_mbit": 100},
                        "web_cache": {"rate_mbit": 0.75},
                    },
                },
                "extras": {"networkpolicy": True, "pdb": True},
            }
        )
    )
    child = tmp_path / "child.yaml"
    child.write_text("name: child\nextends: parent.yaml\nweb: {remove_limits: [memory]}\n")
    overrides = (
        "web.rollout.termination_grace_s=40",
        "web.rollout.pre_stop_delay_s=7",
        "hpa.target_rps_per_pod=12.5",
        "hpa.metrics=[{type: Pods, pods: {metric: {name: queue_depth},"
        " target: {type: AverageValue, averageValue: 3}}}]",
    )
    chart = helm_template("--set", f"image={IMAGE}", "-f", str(resolved_values(tmp_path, child, overrides)))
    ours = render_objects(child, IMAGE, overrides)
    assert_same(chart, ours)
    hpa = by_key(ours)[("HorizontalPodAutoscaler", "web")]
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 48  # iso: 60 x 200/250
    assert [m["type"] for m in hpa["spec"]["metrics"]] == ["Resource", "Pods", "Pods"]


def test_chart_drops_every_cpu_metric_when_cpu_metric_is_false(tmp_path: Path) -> None:
    overrides = (
        "hpa.cpu_metric=false",
        "hpa.metrics=[{type: Resource, resource: {name: cpu, target: {type: AverageValue, averageValue: 100m}}},"
        " {type: Resource, resource: {name: memory, target: {type: Utilization, averageUtilization: 80}}}]",
    )
    chart = helm_template("--set", f"image={IMAGE}", "-f", str(resolved_values(tmp_path, None, overrides)))
    assert_same(chart, render_objects(None, IMAGE, overrides))


@pytest.mark.parametrize("stem", ["hpa-fast-scaleup", "cpu-request-double-iso"])
def test_chart_refuses_an_unresolved_extends(stem: str) -> None:
    stderr = helm_template_fails("-f", str(ROOT / "deploy" / "variants" / f"{stem}.yaml"))
    assert "helm cannot resolve" in stderr and "--helm-values" in stderr


@pytest.mark.parametrize("stem", ["big-pods", "cpu-limit-tight", "cpu-request-double"])
def test_chart_refuses_a_scale_point_it_cannot_compute(stem: str) -> None:
    stderr = helm_template_fails("-f", str(ROOT / "deploy" / "variants" / f"{stem}.yaml"))
    assert "scale point" in stderr and "--helm-values" in stderr


def test_chart_takes_overrides_made_by_hpabench(tmp_path: Path) -> None:
    variant, overrides = ROOT / "deploy" / "variants" / "cpu-limit-tight.yaml", ("hpa.target_cpu_utilization=70",)
    chart = helm_template("--set", f"image={IMAGE}", "-f", str(resolved_values(tmp_path, variant, overrides)))
    ours = render_objects(variant, IMAGE, overrides)
    assert_same(chart, ours)
    assert (
        by_key(ours)[("HorizontalPodAutoscaler", "web")]["metadata"]["annotations"][
            "hpabench.io/scale-point-millicores"
        ]
        == "140"
    )


@pytest.mark.parametrize("setting", ["web.resources.requests.cpu=300m", "hpa.target_cpu_utilization=70"])
def test_chart_refuses_derived_values_gone_stale(setting: str, tmp_path: Path) -> None:
    """helm --set after hpabench derived the scale point would render a stale one: refused."""
    values = resolved_values(tmp_path, ROOT / "deploy" / "variants" / "cpu-limit-tight.yaml")
    assert "derived" in helm_template_fails("-f", str(values), "--set", setting)


@pytest.mark.parametrize(
    "setting", ["web.resourcse.limits.cpu=1", "hpa.target_cpu_utilisation=50", "networking.netem.web_db.delay=5"]
)
def test_chart_refuses_an_unknown_knob(setting: str) -> None:
    assert "additional properties" in helm_template_fails("--set", setting)


def test_schema_knows_the_variant_knobs() -> None:
    """values.schema.json names exactly the Variant model's knobs (no knob silently unknown)."""
    schema = json.loads((CHART / "values.schema.json").read_text())

    def names(node: dict) -> set[str]:
        return set(node["properties"])

    top = names(schema) - {"image", "derived"}
    assert top == set(Variant.model_fields) - {"overrides"}
    assert names(schema["properties"]["web"]) == set(WebKnobs.model_fields)
    assert names(schema["properties"]["web"]["properties"]["rollout"]) == set(RolloutKnobs.model_fields)
    assert names(schema["properties"]["web"]["properties"]["readiness"]) == set(Readiness.model_fields)
    assert names(schema["properties"]["hpa"]) == set(HpaKnobs.model_fields)
    assert names(schema["properties"]["networking"]) == set(Networking.model_fields)
    assert names(schema["properties"]["networking"]["properties"]["netem"]) == set(NetemKnobs.model_fields)
    assert names(schema["properties"]["networking"]["properties"]["netem"]["properties"]["web_db"]) == set(
        Netem.model_fields
    )
    assert names(schema["properties"]["controller"]) == set(HpaSettings.model_fields)
    assert names(schema["properties"]["slo"]) == set(Slo.model_fields)


def test_helm_values_refuses_patches() -> None:
    with pytest.raises(SpecError, match="cannot be expressed in the chart"):
        helm_values(load_variant(ROOT / "deploy/k8s/examples/postgres-emptydir.yaml"))


def test_chart_refuses_a_variant_with_patches() -> None:
    proc = subprocess.run(
        [helm(), "template", "x", str(CHART), "-f", str(ROOT / "deploy/k8s/examples/postgres-emptydir.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "cannot be expressed in the chart" in proc.stderr


def test_helm_lint_passes() -> None:
    proc = subprocess.run([helm(), "lint", "--strict", str(CHART)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
