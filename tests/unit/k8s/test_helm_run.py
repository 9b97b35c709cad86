"""`hpabench run --target k8s --helm`: the command line, the helm command lines, the pre-flight and a
run whose release is installed, upgraded by a rollout event and uninstalled.

helm cannot talk to the API emulator (it needs the OpenAPI documents for validation and sends
protobuf bodies kmock cannot read), so the run uses a fake `helm` on PATH that records its argv
and applies nothing — except `helm template`, which it hands to the real helm of .tools/bin (no
cluster needed) so that the pre-flight's chart-vs-render comparison is real. The test plays helm's
part of an install by creating the rendered objects itself. A real helm against a real cluster is
not exercised here (the nightly kind workflow is the place for it).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from hpabench.cli import build_parser, main
from hpabench.deploy.k8s import helm as helm_module
from hpabench.deploy.k8s.cli import target_settings_from_args
from hpabench.deploy.k8s.helm import (
    CHART,
    MISSING_HELM,
    chart_differences,
    install_command,
    template_command,
    uninstall_command,
    upgrade_command,
)
from hpabench.deploy.k8s.permissions import covers, helm_rules
from hpabench.deploy.k8s.resources import ref_of
from hpabench.deploy.k8s.target import K8sTarget
from hpabench.deploy.render import render
from hpabench.deploy.variant import default_variant
from hpabench.errors import SpecError
from hpabench.rundir import RunDir, read_events
from hpabench.scenarios.events import Rollout
from hpabench.target import TargetOptions

from .conftest import Emulator, call, controllers_running, seed_cluster, url_of
from .test_events_flow import rollouts_played
from .test_flow import IMAGE, kubeconfig
from .test_helm_chart import helm as real_helm
from .test_rbac import granted_rules

ROOT = Path(__file__).resolve().parents[3]
VARIANT = ROOT / "deploy" / "variants" / "hpa-fast-scaleup.yaml"


def run_args(*argv: str) -> Any:
    return build_parser().parse_args(["run", "--scenario", "spike", *argv])


# --- the command line → options -------------------------------------------------------------


def test_helm_flag_becomes_the_targets_helm_settings() -> None:
    args = run_args("--target", "k8s", "--helm", "--variant", str(VARIANT), "--set", "hpa.max_replicas=6")
    assert target_settings_from_args(args) == {"helm": {"variant": VARIANT, "overrides": ["hpa.max_replicas=6"]}}
    assert "helm" not in target_settings_from_args(run_args("--target", "k8s"))
    settings = K8sTarget(TargetOptions(extra=target_settings_from_args(args))).settings
    assert settings.helm is not None and settings.helm.release == "hpabench"
    assert settings.helm.overrides == ("hpa.max_replicas=6",)


def test_helm_with_the_local_target_is_refused_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SpecError, match="--helm installs the chart into a cluster: it needs --target k8s"):
        target_settings_from_args(run_args("--helm"))
    assert main(["run", "--scenario", "spike", "--helm", "--reports-dir", str(tmp_path)]) == 2
    assert "--helm installs the chart into a cluster" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing was started


def test_helm_without_a_helm_binary_is_refused_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(helm_module, "TOOLS_HELM", tmp_path / "no-tools" / "helm")
    assert helm_module.find_helm() is None
    target = K8sTarget(TargetOptions(extra={"kubeconfig": tmp_path / "none", "helm": {}}))
    issues = target.admit(render(default_variant()))  # refused before the cluster is asked anything
    assert [(i.file, i.message) for i in issues] == [("--helm", MISSING_HELM)]
    assert "make tools" in MISSING_HELM
    code = main(
        ["run", "--scenario", "spike", "--target", "k8s", "--helm", "--kubeconfig", str(tmp_path / "none"),
         "--reports-dir", str(tmp_path / "reports")]
    )  # fmt: skip
    assert code == 2
    assert "make tools" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())


# --- the helm command lines (pure) ----------------------------------------------------------


def test_the_exact_helm_command_lines() -> None:
    values, conn = Path("/run/helm/values.yaml"), ["--kubeconfig", "/k", "--kube-context", "kind-x"]
    assert install_command("helm", "hpabench", CHART, "hpabench-r1-ab12", values, conn) == [
        "helm", "upgrade", "--install", "hpabench", str(CHART), "-n", "hpabench-r1-ab12",
        "-f", "/run/helm/values.yaml", "--wait=hookOnly", "--kubeconfig", "/k", "--kube-context", "kind-x",
    ]  # fmt: skip
    assert upgrade_command("helm", "hpabench", CHART, "ns", values) == [
        "helm", "upgrade", "hpabench", str(CHART), "-n", "ns", "-f", "/run/helm/values.yaml",
        "--wait=hookOnly", "--server-side=false",
    ]  # fmt: skip
    assert uninstall_command("helm", "hpabench", "ns", conn) == [
        "helm", "uninstall", "hpabench", "-n", "ns", "--wait=hookOnly",
        "--kubeconfig", "/k", "--kube-context", "kind-x",
    ]  # fmt: skip
    assert template_command("helm", "hpabench", CHART, values) == [
        "helm", "template", "hpabench", str(CHART), "-f", "/run/helm/values.yaml",
    ]  # fmt: skip
    assert helm_module.connection_args(None, None) == []


def test_chart_differences_names_each_object() -> None:
    ours = render(default_variant())
    chart = [dict(o) for o in ours if o["kind"] != "Secret"]
    chart[0] = {**chart[0], "metadata": {**chart[0]["metadata"], "labels": {}}}
    extra = {"kind": "Job", "metadata": {"name": "x"}}
    differences = chart_differences([*chart, extra], ours)
    assert differences[0] == "Job/x: only in the chart"
    assert any(d.endswith(": not in the chart") and d.startswith("Secret/") for d in differences)
    assert f"{chart[0]['kind']}/{chart[0]['metadata']['name']}: differs" in differences
    assert chart_differences(ours, ours) == []


def test_helm_permissions_are_declared_and_shipped() -> None:
    rules = helm_rules(render(default_variant()))
    assert {str(r) for r in rules} >= {"update secrets.core", "delete deployments.apps", "get configmaps.core"}
    assert [str(r) for r in rules if not covers(granted_rules(), r)] == []


# --- a run with a fake helm against the API emulator -----------------------------------------

FAKE_HELM = """#!{python}
import json, os, sys, time
argv = sys.argv[1:]
values = [open(argv[i + 1]).read() for i, a in enumerate(argv) if a == "-f"]
log_path = os.environ["FAKE_HELM_LOG"]
with open(log_path, "a") as log:
    log.write(json.dumps({{"argv": argv, "ts": time.time(), "values": values}}) + "\\n")
with open(log_path) as log:
    call = sum(1 for _ in log) - 1
if argv[:1] == ["template"]:
    os.execv(os.environ["FAKE_HELM_REAL"], [os.environ["FAKE_HELM_REAL"], *argv])
if argv[:1] == ["upgrade"]:  # like helm, return once the objects are changed (the test plays that)
    deadline = time.time() + 30
    while not os.path.exists(f"{{log_path}}.done.{{call}}") and time.time() < deadline:
        time.sleep(0.05)
print("fake helm: nothing applied")
"""


@pytest.fixture()
def fake_helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `helm` first on PATH that logs each call into the returned file (see FAKE_HELM); its
    `upgrade` returns once `<log>.done.<call index>` exists (`play_helm` creates it)."""
    real = real_helm()  # before PATH changes: afterwards `which helm` would find the fake itself
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "helm"
    script.write_text(FAKE_HELM.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "helm-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_HELM_LOG", str(log))
    monkeypatch.setenv("FAKE_HELM_REAL", real)
    return log


def helm_calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


async def play_helm(emulator: Emulator, log: Path, objects: list[dict[str, Any]], stop: asyncio.Event) -> None:
    """What the real helm would do to the cluster for each logged `helm upgrade`: an install creates
    the chart's objects (= `objects`, the pre-flight checked), an upgrade sets the new values' image
    on the web containers (the only values change a run makes)."""
    handled = 0
    while not stop.is_set():
        calls = helm_calls(log)
        for index in range(handled, len(calls)):
            argv = calls[index]["argv"]
            if argv[:1] != ["upgrade"]:
                continue
            namespace = argv[argv.index("-n") + 1]
            if argv[1] == "--install":
                for obj in objects:
                    body = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
                    await call(emulator, "POST", ref_of(obj, namespace).collection, body)
            else:
                image = yaml.safe_load(calls[index]["values"][0])["image"]
                patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}
                await strategic_patch(emulator, f"/apis/apps/v1/namespaces/{namespace}/deployments/web", patch)
            Path(f"{log}.done.{index}").touch()
        handled = len(calls)
        await asyncio.sleep(0.05)


async def strategic_patch(emulator: Emulator, path: str, body: dict[str, Any]) -> None:
    headers = {"Content-Type": "application/strategic-merge-patch+json"}
    async with (
        aiohttp.ClientSession() as session,
        session.patch(url_of(emulator) + path, data=json.dumps(body), headers=headers) as response,
    ):
        assert response.status == 200, await response.text()


@pytest.mark.asyncio
async def test_a_helm_run_installs_upgrades_and_uninstalls_the_release(
    cluster: Emulator, tmp_path: Path, fake_helm: Path
) -> None:
    await seed_cluster(cluster, images=[IMAGE])
    objects = render(default_variant())
    extra = {"kubeconfig": kubeconfig(tmp_path, cluster), "ready_timeout_s": 30, "monitors": "off", "helm": {}}
    target = K8sTarget(TargetOptions(scrape_interval_s=2.0, extra=extra))
    assert await asyncio.to_thread(target.admit, objects) == []
    template = helm_calls(fake_helm)[0]
    assert template["argv"][:3] == ["template", "hpabench", str(CHART)]
    asked = {(r["verb"], r["resource"]) for r in cluster.reviews}
    assert ("update", "secrets") in asked and ("delete", "deployments") in asked  # helm's permissions too

    run = RunDir.create(tmp_path / "reports", "k8s-helm")
    deployed = None
    async with controllers_running(cluster):
        try:
            stop = asyncio.Event()
            helm_played = asyncio.create_task(play_helm(cluster, fake_helm, objects, stop))
            deployed = await asyncio.to_thread(target.start, objects, run, lambda m: None)
            namespace = deployed.namespace
            ns = await call(cluster, "GET", f"/api/v1/namespaces/{namespace}")
            assert ns["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "hpabench"
            # not one server-side apply: the chart's objects came from (the stand-in for) helm
            assert not [r for r in cluster._requests if "apply-patch" in str(r.headers.get("Content-Type", ""))]
            assert deployed.replicas("web").ready_replicas >= 1
            async with rollouts_played(cluster, namespace):
                image = Rollout(at_s=0, kind="rollout", image_tag="0.1.1", timeout_s=20)
                by_helm = await asyncio.to_thread(deployed.perform_event, image, run.events.emit)
                config = Rollout(at_s=0, kind="rollout", config={"CACHE_TTL_S": "7"}, timeout_s=20)
                by_api = await asyncio.to_thread(deployed.perform_event, config, run.events.emit)
        finally:
            if deployed is not None:
                await asyncio.to_thread(deployed.stop)
            stop.set()
            await helm_played
            run.close()

    calls = helm_calls(fake_helm)
    install = next(c for c in calls if c["argv"][:2] == ["upgrade", "--install"])
    values_file = run.path / "helm" / "values.yaml"
    conn = ["--kubeconfig", str(extra["kubeconfig"])]
    assert install["argv"] == [
        "upgrade", "--install", "hpabench", str(CHART), "-n", namespace, "-f", str(values_file),
        "--wait=hookOnly", *conn,
    ]  # fmt: skip
    assert yaml.safe_load(install["values"][0])["image"] == IMAGE
    # the image-tag rollout was a values change of the release, the config rollout an API patch
    assert by_helm["via"] == "helm" and by_api["via"] == "api"
    upgrade = next(c for c in calls if c["argv"][:2] == ["upgrade", "hpabench"])
    assert "--server-side=false" in upgrade["argv"] and "--install" not in upgrade["argv"]
    assert yaml.safe_load(upgrade["values"][0])["image"] == "hpabench/refapp:0.1.1"
    patches = [r for r in cluster._requests if str(getattr(r.method, "value", r.method)) == "PATCH"]
    assert any(r.url.path.endswith("/configmaps/web-config") for r in patches)
    started = [e for e in read_events(run.path) if e["kind"] == "rollout_started"]
    assert [e["via"] for e in started] == ["helm", "api"]
    # teardown: helm uninstall, then the namespace deleted (and gone)
    uninstall = next(c for c in calls if c["argv"][:1] == ["uninstall"])
    assert uninstall["argv"] == ["uninstall", "hpabench", "-n", namespace, "--wait=hookOnly", *conn]
    assert deployed is not None
    deletes = [c.ts for c in deployed.api.calls if c.method == "DELETE" and c.path.endswith(f"/namespaces/{namespace}")]
    assert deletes and uninstall["ts"] < deletes[0] <= time.time()
    assert (await call(cluster, "GET", f"/api/v1/namespaces/{namespace}")).get("code") == 404
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert manifest["deployed_via"] == "helm"
    assert manifest["helm"]["chart_version"] == yaml.safe_load((CHART / "Chart.yaml").read_text())["version"]
    assert manifest["helm"]["release"] == "hpabench" and manifest["helm_uninstalled"] is True


@pytest.mark.asyncio
async def test_the_preflight_refuses_a_chart_that_would_deploy_something_else(
    cluster: Emulator, tmp_path: Path, fake_helm: Path
) -> None:
    await seed_cluster(cluster, images=[IMAGE])
    objects = render(default_variant())
    web = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "web")
    web["spec"]["template"]["metadata"]["annotations"]["edited"] = "after rendering"
    extra = {"kubeconfig": kubeconfig(tmp_path, cluster), "helm": {}}
    issues = await asyncio.to_thread(K8sTarget(TargetOptions(extra=extra)).admit, objects)
    assert [(i.file, i.message) for i in issues] == [
        ("--helm", "the chart would not deploy what `hpabench render` rendered: Deployment/web: differs")
    ]
    assert cluster.reviews == []  # refused before the cluster was asked anything
