"""Namespace teardown (also stuck Terminating) and readiness failures, against the API emulator."""

from __future__ import annotations

import asyncio

import pytest

from hpabench.deploy.k8s.api import KubeApi
from hpabench.deploy.k8s.apply import create_namespace, delete_namespace
from hpabench.deploy.k8s.readiness import wait_ready
from hpabench.errors import TargetError

from .conftest import Emulator, call, post_namespace, url_of

pytestmark = pytest.mark.asyncio


async def _terminating_namespace(cluster: Emulator) -> str:
    # the namespace controller's finalizer, as a real server adds it (kmock honours metadata.finalizers)
    await post_namespace(cluster, "hpabench-stuck", finalizers=["kubernetes"])
    return "hpabench-stuck"


async def test_teardown_waits_while_the_namespace_is_terminating(cluster: Emulator) -> None:
    name = await _terminating_namespace(cluster)
    with KubeApi.for_host(url_of(cluster)) as api:
        waiting = asyncio.create_task(asyncio.to_thread(delete_namespace, api, name, 10.0, 0.05))
        await asyncio.sleep(0.4)
        still = await call(cluster, "GET", f"/api/v1/namespaces/{name}")
        assert still["metadata"].get("deletionTimestamp") and not waiting.done()
        # the namespace controller finishes: finalizer removed, the object goes
        await call(cluster, "PATCH", f"/api/v1/namespaces/{name}", {"metadata": {"finalizers": []}})
        waited_s = await waiting
    assert waited_s >= 0.4
    assert (await call(cluster, "GET", f"/api/v1/namespaces/{name}")).get("code") == 404


async def test_teardown_of_a_stuck_namespace_says_what_to_do(cluster: Emulator) -> None:
    name = await _terminating_namespace(cluster)
    with KubeApi.for_host(url_of(cluster)) as api, pytest.raises(TargetError) as info:
        await asyncio.to_thread(delete_namespace, api, name, 0.3, 0.05)
    assert name in str(info.value) and "hpabench gc" in str(info.value) and "finalizers" in str(info.value)


async def test_deleting_an_absent_namespace_is_fine(cluster: Emulator) -> None:
    with KubeApi.for_host(url_of(cluster)) as api:
        assert await asyncio.to_thread(delete_namespace, api, "never-was", 1.0) == 0.0


async def test_created_namespace_is_labelled_and_a_valid_dns_label(cluster: Emulator) -> None:
    with KubeApi.for_host(url_of(cluster)) as api:
        name = await asyncio.to_thread(create_namespace, api, "hpabench", "20261201-220000-Spike_Baseline", 1.0)
    assert len(name) <= 63 and name.startswith("hpabench-20261201-220000-spike-baseline-")
    ns = await call(cluster, "GET", f"/api/v1/namespaces/{name}")
    assert ns["metadata"]["labels"]["hpabench.io/run-id"] == "20261201-220000-Spike_Baseline"
    assert ns["metadata"]["annotations"]["hpabench.io/created-at"] == "1"


async def test_an_image_pull_error_fails_fast_naming_the_object_and_the_fix(cluster: Emulator) -> None:
    ns = "run-a"
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns, "generation": 1},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}}},
    }
    await call(cluster, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments", deployment)
    await call(
        cluster,
        "POST",
        f"/api/v1/namespaces/{ns}/pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-abc", "namespace": ns, "labels": {"app.kubernetes.io/name": "web"}},
            "status": {
                "phase": "Pending",
                "containerStatuses": [
                    {
                        "name": "web",
                        "restartCount": 0,
                        "state": {
                            "waiting": {
                                "reason": "ImagePullBackOff",
                                "message": "Back-off pulling image hpabench/refapp:0.1.0",
                            }
                        },
                    }
                ],
            },
        },
    )
    await call(
        cluster,
        "POST",
        f"/api/v1/namespaces/{ns}/events",
        {
            "apiVersion": "v1",
            "kind": "Event",
            "type": "Warning",
            "reason": "Failed",
            "metadata": {"name": "web-abc.1", "namespace": ns},
            "involvedObject": {"kind": "Pod", "name": "web-abc"},
            "message": "Failed to pull image",
        },
    )
    with KubeApi.for_host(url_of(cluster)) as api, pytest.raises(TargetError) as info:
        await asyncio.to_thread(wait_ready, api, ns, [deployment], 60.0)
    text = str(info.value)
    assert "Deployment/web in namespace run-a cannot become ready" in text
    assert "ImagePullBackOff" in text and "Pod/web-abc: Failed: Failed to pull image" in text
    assert "--image" in text and "kind load docker-image" in text


async def test_a_stuck_teardown_is_reported_not_raised_from_stop(cluster: Emulator, tmp_path) -> None:
    import json

    from hpabench.deploy.k8s.target import K8sDeployed
    from hpabench.rundir import RunDir, read_events

    from .test_flow import make_target

    name = await _terminating_namespace(cluster)
    target = make_target(tmp_path, cluster, teardown_timeout_s=0.3)
    run = RunDir.create(tmp_path / "reports", "stuck")
    said: list[str] = []
    deployed = K8sDeployed(target, KubeApi.for_host(url_of(cluster)), name, run, said.append)
    await asyncio.to_thread(deployed.stop)  # returns: stop() runs in the pipeline's `finally`
    await asyncio.to_thread(deployed.stop)  # idempotent
    run.close()
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert name in manifest["teardown_error"]
    assert any(e["kind"] == "warning" and "teardown incomplete" in e["message"] for e in read_events(run.path))
    assert any("teardown incomplete" in line for line in said)


async def test_an_apply_conflict_is_retried_once_with_force(cluster: Emulator) -> None:
    from hpabench.deploy.k8s.apply import apply_object

    path = "/apis/apps/v1/namespaces/run-a/deployments/web"
    cluster.conflict_once.add(path)
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}}
    with KubeApi.for_host(url_of(cluster)) as api:
        stored = await asyncio.to_thread(apply_object, api, deployment, "run-a")
    applies = [r for r in cluster._requests if r.url.path == path]
    assert [r.params.get("force") for r in applies] == [None, "true"]
    assert all(r.params["fieldManager"] == "hpabench" for r in applies)
    assert stored["spec"]["replicas"] == 2 and stored["metadata"]["namespace"] == "run-a"
