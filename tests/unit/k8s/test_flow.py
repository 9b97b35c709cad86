"""Deploy → watch → scale → teardown of the k8s target against the API emulator (see conftest)."""

from __future__ import annotations

import asyncio
import json

import pandas as pd
import pytest

from hpabench.deploy.k8s.target import K8sTarget
from hpabench.deploy.render import render
from hpabench.deploy.variant import default_variant
from hpabench.rundir import RunDir, read_events
from hpabench.target import TargetOptions

from .conftest import Emulator, call, controllers_running, seed_cluster, url_of

pytestmark = pytest.mark.asyncio
IMAGE = "hpabench/refapp:0.1.0"


def kubeconfig(tmp_path, emulator: Emulator):
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "emu",
                "clusters": [{"name": "emu", "cluster": {"server": url_of(emulator)}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "u"}}],
            }
        )
    )
    return path


def make_target(tmp_path, emulator: Emulator, **extra) -> K8sTarget:
    return K8sTarget(
        TargetOptions(scrape_interval_s=2.0, extra={"kubeconfig": kubeconfig(tmp_path, emulator), **extra})
    )


async def test_admit_passes_on_a_ready_cluster_and_asks_every_permission(cluster: Emulator, tmp_path) -> None:
    await seed_cluster(cluster, images=[IMAGE])
    target = make_target(tmp_path, cluster)
    issues = await asyncio.to_thread(target.admit, render(default_variant()))
    assert issues == []
    asked = {(r["verb"], r.get("group", ""), r["resource"]) for r in cluster.reviews}
    assert ("patch", "apps", "deployments") in asked and ("create", "", "namespaces") in asked
    assert target.facts["server_version"] == "v1.26.4+k3s1"
    assert target.facts["nodes"][0]["instance_type"] == "kind"
    assert target.facts["prometheus_pod"] == "monitoring/prometheus-0"


async def test_admit_reports_every_problem_with_its_fix(cluster: Emulator, tmp_path) -> None:
    await seed_cluster(cluster, images=[])  # the app image was never loaded into the node
    await call(cluster, "DELETE", "/apis/storage.k8s.io/v1/storageclasses/standard")
    await call(cluster, "DELETE", "/api/v1/namespaces/monitoring/pods/prometheus-0")
    target = make_target(tmp_path, cluster)
    messages = [f"{i.path}: {i.message}" for i in await asyncio.to_thread(target.admit, render(default_variant()))]
    assert any("default StorageClass" in m and "postgres-emptydir" in m for m in messages), messages
    assert any(IMAGE in m and "kind load docker-image" in m for m in messages), messages
    assert any("no Prometheus found" in m for m in messages), messages


async def test_admit_names_each_missing_permission(cluster: Emulator, tmp_path) -> None:
    await seed_cluster(cluster, images=[IMAGE])
    cluster.allow = lambda a: not (a["verb"] == "create" and a["resource"] == "namespaces")
    issues = await asyncio.to_thread(make_target(tmp_path, cluster).admit, render(default_variant()))
    assert [i.path for i in issues] == ["create namespaces.core"]
    assert "deploy/rbac" in issues[0].message


async def test_unknown_target_setting_is_refused(tmp_path) -> None:
    from hpabench.errors import SpecError

    with pytest.raises(SpecError) as info:
        K8sTarget(TargetOptions(extra={"contex": "kind-kind", "namespace_prefix": "Bad_Prefix"}))
    paths = {i.path for i in info.value.issues}
    assert paths == {"contex", "namespace_prefix"}


async def test_deploy_watch_scale_teardown(cluster: Emulator, tmp_path) -> None:
    await seed_cluster(cluster, images=[IMAGE])
    objects = render(default_variant())
    target = make_target(tmp_path, cluster, ready_timeout_s=30, monitors="off")
    run = RunDir.create(tmp_path / "reports", "k8s-flow")
    messages: list[str] = []
    deployed = None
    async with controllers_running(cluster):
        try:
            deployed = await asyncio.to_thread(target.start, objects, run, messages.append)
            namespace = deployed.namespace
            ns = await call(cluster, "GET", f"/api/v1/namespaces/{namespace}")
            assert ns["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "hpabench"
            assert ns["metadata"]["labels"]["hpabench.io/run-id"] == run.run_id
            # exactly the rendered objects, each applied server-side by our field manager, strictly validated
            applies = [r for r in cluster._requests if "apply-patch" in str(r.headers.get("Content-Type", ""))]
            assert len(applies) == len(objects)
            assert all(
                r.params.get("fieldManager") == "hpabench" and r.params.get("fieldValidation") == "Strict"
                for r in applies
            )
            web = await call(cluster, "GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
            rendered_web = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "web")
            assert web["spec"]["template"] == rendered_web["spec"]["template"]
            assert deployed.service_url.startswith("http://127.0.0.1:")
            assert deployed.load_hosts == ("127.0.0.1",)
            assert deployed.replicas("web").ready_replicas == rendered_web["spec"]["replicas"]
            assert any("ready: Deployment/web" in m for m in messages)

            # the HPA controller acts: status, then the Deployment's replicas
            await call(
                cluster,
                "PATCH",
                f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/web/status",
                {
                    "status": {
                        "currentReplicas": 2,
                        "desiredReplicas": 4,
                        "currentMetrics": [
                            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 140}}}
                        ],
                        "conditions": [
                            {
                                "type": "AbleToScale",
                                "status": "True",
                                "reason": "SucceededRescale",
                                "message": "the HPA controller was able to update the target scale to 4",
                            },
                            {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
                        ],
                    }
                },
            )
            await call(
                cluster, "PATCH", f"/apis/apps/v1/namespaces/{namespace}/deployments/web", {"spec": {"replicas": 4}}
            )
            for _ in range(100):
                kinds = [e["kind"] for e in read_events(run.path)]
                if "scale" in kinds and "hpa_rescale" in kinds and kinds.count("pod_ready") >= 5:
                    break
                await asyncio.sleep(0.05)
            await asyncio.to_thread(deployed.stop)
        finally:
            if deployed is not None:
                await asyncio.to_thread(deployed.stop)  # idempotent; also after a failed assertion
            run.close()

    events = read_events(run.path)
    scale = [e for e in events if e["kind"] == "scale"]
    assert scale and scale[0]["deployment"] == "web" and scale[0]["to"] == 4 and scale[0]["by"] == "hpa"
    assert any(e["kind"] == "hpa_rescale" and e["to"] == 4 for e in events)
    assert any(e["kind"] == "hpa_condition" and e["reason"] == "SucceededRescale" for e in events)
    ready = {e["pod"] for e in events if e["kind"] == "pod_ready"}
    assert {"web-0", "web-1", "web-2", "web-3", "postgres-0", "redis-0"} <= ready
    hpa = pd.read_parquet(run.data / "hpa.parquet")
    row = hpa[hpa["desired_replicas"] == 4].iloc[0]
    assert json.loads(row["metrics"])["cpu"] == {"current": 140.0, "target": 60.0, "type": "utilization"}
    pods = pd.read_parquet(run.data / "pods.parquet")
    assert set(pods["pod"]) >= {"web-0", "web-3"} and (pods["cpu_request_millicores"] == 250).all()
    # teardown: the namespace is gone and the manifest says what the API was asked while watching
    gone = await call(cluster, "GET", f"/api/v1/namespaces/{namespace}")
    assert gone.get("code") == 404
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert manifest["cluster"]["namespace"] == namespace
    assert manifest["cluster"]["pod_placement"]["web-0"] == "kind-control-plane"
    assert manifest["k8s_api"]["watch_requests"] >= 0
