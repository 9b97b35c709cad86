"""Scenario events on the k8s target against the API emulator: admission before anything is created,
then every event performed in the run's namespace through the EventRunner and recorded.

kmock runs no controllers: `play_controllers` (conftest) recreates deleted pods and `play_rollouts`
below plays the deployment controller's part of a rollout (generation, then status), so the
assertions are about the requests the target sent and what it recorded, not about a real rollout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hpabench.deploy.render import render
from hpabench.deploy.variant import default_variant
from hpabench.events import EventRunner
from hpabench.rundir import RunDir, read_events
from hpabench.scenarios.events import (
    AddLatency,
    BaseEvent,
    KillPod,
    RestartCache,
    RestartDb,
    Rollout,
    ScaleTo,
    ScheduledEvent,
)

from .conftest import Emulator, call, controllers_running, seed_cluster
from .test_flow import IMAGE, make_target

pytestmark = pytest.mark.asyncio

EVERY_EVENT: list[BaseEvent] = [
    Rollout(at_s=0, kind="rollout", image_tag="0.1.1", timeout_s=20),
    Rollout(at_s=0, kind="rollout", config={"CACHE_TTL_S": "7"}, timeout_s=20),
    Rollout.model_validate(
        {
            "at_s": 0,
            "kind": "rollout",
            "timeout_s": 20,
            "patch": [{"op": "add", "path": "/metadata/annotations/hpabench.io~1poke", "value": "1"}],
        }
    ),
    KillPod(at_s=0, kind="kill-pod", count=1),
    RestartDb(at_s=0, kind="restart-db"),
    RestartCache(at_s=0, kind="restart-cache"),
    ScaleTo(at_s=0, kind="scale-to", replicas=3),
]
MUTATING = ("POST", "PATCH", "PUT", "DELETE")
SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


def _method(request: Any) -> str:
    return str(getattr(request.method, "value", request.method))


async def play_rollouts(emulator: Emulator, namespace: str, stop: asyncio.Event, seen: Any) -> None:
    """The deployment controller's part of a rollout of web: a template changed from `seen` bumps
    `metadata.generation` (the API server's job), then the status reports it rolled out."""
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/web"
    while not stop.is_set():
        web = await call(emulator, "GET", path)
        template = (web.get("spec") or {}).get("template")
        if template != seen:
            seen = template
            generation = int(web["metadata"].get("generation") or 1) + 1
            await call(emulator, "PATCH", path, {"metadata": {"generation": generation}})
            await asyncio.sleep(0.2)
            n = int(web["spec"].get("replicas", 1))
            status = {"observedGeneration": generation, "replicas": n, "updatedReplicas": n, "availableReplicas": n}
            await call(emulator, "PATCH", f"{path}/status", {"status": status})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


@contextlib.asynccontextmanager
async def rollouts_played(emulator: Emulator, namespace: str) -> AsyncIterator[None]:
    # The template before any event: read here, before the caller starts the events (a first read
    # inside the task could come after the first patch, and that rollout would never be played).
    web = await call(emulator, "GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    stop = asyncio.Event()
    task = asyncio.create_task(play_rollouts(emulator, namespace, stop, (web.get("spec") or {}).get("template")))
    try:
        yield
    finally:
        stop.set()
        await task


async def perform_every_event(cluster: Emulator, deployed: Any, run: RunDir) -> list[dict[str, Any]]:
    """Fire EVERY_EVENT through an EventRunner (all due at once: they run one after another)."""
    plan = [ScheduledEvent(i, f"{e.kind_name}-{i + 1}", 0.0, e) for i, e in enumerate(EVERY_EVENT)]
    runner = EventRunner(plan, deployed, run.events, lambda: time.time(), fallback_t0=time.time())
    async with rollouts_played(cluster, deployed.namespace):
        runner.start()
        for _ in range(600):
            if sum(1 for r in runner.results if r["state"] != "started") == len(plan):
                break
            await asyncio.sleep(0.05)
        await asyncio.to_thread(runner.stop, 10.0)
    return runner.results


async def test_unsupported_events_are_refused_before_anything_is_created(cluster: Emulator, tmp_path) -> None:
    await seed_cluster(cluster, images=[IMAGE])
    objects = render(default_variant())
    target = make_target(tmp_path, cluster)
    before = len(cluster._requests)
    events: list[BaseEvent] = [
        ScaleTo(at_s=0, kind="scale-to", replicas=2),
        AddLatency(at_s=1, kind="add-latency", between=["web", "postgres"], delay_ms=20),
        Rollout(at_s=2, kind="rollout", image_tag="0.1.0"),  # the tag it already runs: nothing would roll
    ]
    issues = await asyncio.to_thread(target.admit_events, events, objects)
    assert [i.path for i in issues] == ["events.1", "events.2"]
    assert "network chaos" in issues[0].message and "nothing would roll out" in issues[1].message
    assert cluster._requests[before:] == []  # refused without a single request
    # the possible ones: only the permissions are asked, nothing is created
    cluster.allow = lambda a: not (a["verb"] == "delete" and a["resource"] == "pods")
    denied = await asyncio.to_thread(target.admit_events, [KillPod(at_s=0, kind="kill-pod")], objects)
    assert [i.path for i in denied] == ["delete pods.core"]
    new = cluster._requests[before:]
    assert new and all(r.url.path == SSAR for r in new if _method(r) in MUTATING)
    assert (await call(cluster, "GET", "/api/v1/namespaces")).get("items") == []


async def test_every_event_is_performed_in_the_run_namespace_and_recorded(cluster: Emulator, tmp_path) -> None:
    await seed_cluster(cluster, images=[IMAGE])
    objects = render(default_variant())
    target = make_target(tmp_path, cluster, ready_timeout_s=30, monitors="off")
    assert await asyncio.to_thread(target.admit_events, EVERY_EVENT, objects) == []
    run = RunDir.create(tmp_path / "reports", "k8s-events")
    deployed = None
    async with controllers_running(cluster):
        try:
            deployed = await asyncio.to_thread(target.start, objects, run, lambda m: None)
            namespace = deployed.namespace
            # a look-alike the suite did not deploy, in the same namespace: never touched
            foreign = {"app.kubernetes.io/name": "web"}
            await call(
                cluster,
                "POST",
                f"/api/v1/namespaces/{namespace}/pods",
                {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "aaa-foreign", "labels": foreign}},
            )
            mark = len(cluster._requests)
            results = await perform_every_event(cluster, deployed, run)
            sent = [r for r in cluster._requests[mark:] if _method(r) in MUTATING]
            web = await call(cluster, "GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
            config = await call(cluster, "GET", f"/api/v1/namespaces/{namespace}/configmaps/web-config")
        finally:
            if deployed is not None:
                await asyncio.to_thread(deployed.stop)
            run.close()

    states = {r["name"]: r["state"] for r in results if r["state"] != "started"}
    assert states == {f"{e.kind_name}-{i + 1}": "finished" for i, e in enumerate(EVERY_EVENT)}, [
        r.get("error") for r in results
    ]
    finished = {r["name"]: r["result"] for r in results if r["state"] == "finished"}
    assert finished["rollout-1"]["complete"] and finished["rollout-1"]["via"] == "api"
    assert finished["kill-pod-4"]["killed"][0].startswith("web-")
    assert finished["kill-pod-4"]["ready_after_s"] >= 0.0  # waited for the replacement (the test plays the ReplicaSet)
    assert finished["restart-db-5"]["pod"] == "postgres-0" and finished["restart-cache-6"]["pod"] == "redis-0"
    assert finished["scale-to-7"]["to"] == 3

    # every mutating request of the events was in the run's namespace, on what the suite deployed
    assert sent and all(f"/namespaces/{namespace}/" in r.url.path for r in sent)
    assert not any("aaa-foreign" in r.url.path for r in sent)
    by_type = [(_method(r), r.url.path.rsplit("/", 2)[-2:], r.headers.get("Content-Type")) for r in sent]
    patches = [(path, ctype) for method, path, ctype in by_type if method == "PATCH"]
    assert (["deployments", "web"], "application/strategic-merge-patch+json") in patches
    assert (["deployments", "web"], "application/json-patch+json") in patches
    assert (["configmaps", "web-config"], "application/merge-patch+json") in patches
    assert (["web", "scale"], "application/merge-patch+json") in patches
    deletes = [path[-1] for method, path, _ in by_type if method == "DELETE" and path[0] == "pods"]
    assert deletes == [finished["kill-pod-4"]["killed"][0], "postgres-0", "redis-0"]
    # what the emulator stored: the new image on the web container (other fields kept), the config
    # value, the patched annotation, the scale
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "hpabench/refapp:0.1.1" and container.get("readinessProbe")
    assert config["data"]["CACHE_TTL_S"] == "7"
    assert web["spec"]["template"]["metadata"]["annotations"]["hpabench.io/poke"] == "1"
    assert web["spec"]["replicas"] == 3

    kinds = [e["kind"] for e in read_events(run.path)]
    assert kinds.count("scenario_event") == 2 * len(EVERY_EVENT)
    assert kinds.count("rollout_started") == 3 and kinds.count("rollout_finished") == 3
    assert kinds.count("fault") == 3
