"""deploy/helm/hpabench-reference renders, for every shipped variant, exactly what `hpabench render`
does — object by object — and passes `helm lint`. Needs the real helm v4 that `make setup`
installs into .tools/bin (scripts/install-k8s-tools.sh)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hpabench.deploy.render import render_objects

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "deploy" / "helm" / "hpabench-reference"
VARIANTS = sorted((ROOT / "deploy" / "variants").glob("*.yaml"))
IMAGE = "ghcr.io/acme/refapp:1.2"


def helm() -> str:
    found = ROOT / ".tools" / "bin" / "helm"
    if found.exists():
        return str(found)
    on_path = shutil.which("helm")
    assert on_path, "helm v4 is missing: run `make setup` (scripts/install-k8s-tools.sh installs it into .tools/bin)"
    return on_path


def helm_template(*args: str) -> list[dict]:
    out = subprocess.run(
        [helm(), "template", "hpabench", str(CHART), *args], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def by_key(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


@pytest.mark.parametrize("variant", [None, *VARIANTS], ids=lambda p: "default" if p is None else p.stem)
def test_chart_renders_what_hpabench_render_renders(variant: Path | None) -> None:
    args = ["--set", f"image={IMAGE}"] + (["-f", str(variant)] if variant else [])
    chart = by_key(helm_template(*args))
    ours = by_key(render_objects(variant, IMAGE))
    assert sorted(chart) == sorted(ours)
    for key, obj in ours.items():
        assert chart[key] == obj, f"{key[0]}/{key[1]} differs between the chart and hpabench render"


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
