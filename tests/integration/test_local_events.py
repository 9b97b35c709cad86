"""Scenario events on the real local stack: rollouts under their strategy, and each disruption.

One stack (3 web replicas, no HPA so the counts are the rollout's own) shared by the module:
rollout maxSurge 1 / maxUnavailable 0 under traffic → rollout maxSurge 0 / maxUnavailable 1 →
kill-pod → restart-db → restart-cache → scale-to. Each test checks the event's fault or
result is recorded and that the stack is whole again afterwards.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hpabench.deploy.local.cluster import LocalCluster, LocalSettings
from hpabench.deploy.local.target import LocalDeployed
from hpabench.deploy.render import render
from hpabench.deploy.variant import Variant
from hpabench.rundir import RunDir, read_events
from hpabench.scenarios.events import KillPod, RestartCache, RestartDb, Rollout, ScaleTo
from tests.integration.test_local_support import find, wait_until

pytestmark = pytest.mark.integration

REPLICAS = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalDeployed, RunDir]]:
    run = RunDir.create(tmp_path_factory.mktemp("reports"), "events-it")
    variant = Variant.model_validate(
        {"name": "surge", "web": {"replicas": REPLICAS, "rollout": {"max_surge": 1, "max_unavailable": 0}}}
    )
    settings = LocalSettings(scrape_interval_s=1.0, autoscale=False, restart_backoff_base_s=0.5, ready_timeout_s=120)
    cluster = LocalCluster.start(render(variant), run, settings)
    try:
        yield LocalDeployed(cluster), run
    finally:
        cluster.stop()
        run.close()


class Traffic:
    """A client sending requests through HAProxy in a thread; counts failures (5xx, errors)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10.0) as client:
            while not self._stop.is_set():
                try:
                    response = client.get("/items/1")
                    if response.status_code >= 500:
                        self.failed.append(str(response.status_code))
                except httpx.HTTPError as exc:
                    self.failed.append(type(exc).__name__)
                self.sent += 1
                self._stop.wait(0.01)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)


class PodCounts:
    """Samples the web pods every 20 ms: most non-terminating pods, fewest ready ones."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.max_active = 0
        self.min_ready = 10**6
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        web = self.cluster.deployment("web")
        while not self._stop.is_set():
            pods = [p for p in web.pods() if not p.deleting]
            self.max_active = max(self.max_active, len(pods))
            self.min_ready = min(self.min_ready, sum(1 for p in pods if p.ready))
            self.samples += 1
            self._stop.wait(0.02)

    def __enter__(self) -> PodCounts:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def events_of(run: RunDir, kind: str, since: float) -> list[dict[str, Any]]:
    return [e for e in read_events(run.path) if e["kind"] == kind and e["ts"] >= since]


def web_images(cluster: LocalCluster) -> set[str]:
    web = cluster.deployment("web")
    return {str(web.spec.main.image)} | {p.name.split("-")[1] for p in web.pods() if not p.deleting}


def assert_whole(deployed: LocalDeployed) -> None:
    cluster = deployed.cluster
    web = cluster.deployment("web")
    wait_until(lambda: web.ready_count() == web.spec_replicas, 120, "web pods ready")
    wait_until(
        lambda: (
            {n for n, r in cluster.haproxy_api.servers("web").items() if r["status"] != "MAINT"}
            == {p.name for p in web.pods() if p.ready and not p.deleting}
        ),
        30,
        "HAProxy routes to exactly the ready pods",
    )
    with httpx.Client(base_url=deployed.service_url, timeout=10.0) as client:
        assert client.get("/items/7").status_code == 200
        assert client.post("/orders", json={"item_id": 3, "quantity": 1}).status_code in (200, 201)


def test_rollout_surge_one_unavailable_zero_never_drops_capacity(stack: tuple[LocalDeployed, RunDir]) -> None:
    deployed, run = stack
    cluster = deployed.cluster
    web = cluster.deployment("web")
    old_pods = {p.name for p in web.pods()}
    old_hash = web.template_hash
    since = time.time()
    with Traffic(deployed.service_url) as traffic, PodCounts(cluster) as counts:
        result = deployed.perform_event(Rollout(at_s=0, kind="rollout", image_tag="0.1.1"), run.events.emit)
        time.sleep(0.5)  # traffic keeps going while the last old pod finishes terminating
    assert result["complete"] and result["max_surge_pods"] == 1 and result["max_unavailable_pods"] == 0
    assert counts.samples > 50
    assert counts.max_active <= REPLICAS + 1, "more than maxSurge extra pods"
    assert counts.max_active == REPLICAS + 1, "the surge pod was never used"
    assert counts.min_ready >= REPLICAS, "a pod became unavailable with maxUnavailable 0"
    assert result["surge_seen"] <= 1 and result["unavailable_seen"] == 0
    new_pods = {p.name for p in web.pods() if not p.deleting}
    assert len(new_pods) == REPLICAS and not new_pods & old_pods
    assert web.template_hash != old_hash and all(old_hash not in name for name in new_pods)
    assert web.spec.main.image.endswith(":0.1.1")
    wait_until(lambda: all(p not in {q.name for q in web.pods()} for p in old_pods), 60, "old pods gone")
    terminating = {e["pod"]: e for e in events_of(run, "pod_terminating", since)}
    assert set(terminating) >= old_pods
    assert all(terminating[p]["drained"] for p in old_pods), "an old pod got SIGTERM before HAProxy drained it"
    assert traffic.sent > 100
    assert traffic.failed == [], f"requests failed during a surge rollout: {traffic.failed[:10]}"
    assert [e for e in events_of(run, "rollout_finished", since) if e["complete"]]
    assert_whole(deployed)


def test_rollout_unavailable_one_surge_zero_never_exceeds_replicas(stack: tuple[LocalDeployed, RunDir]) -> None:
    deployed, run = stack
    cluster = deployed.cluster
    objects = copy.deepcopy(cluster.objects)
    find(objects, "Deployment", "web")["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }
    cluster.objects = objects  # as `kubectl apply` of a changed strategy, before the next rollout
    old_pods = {p.name for p in cluster.deployment("web").pods()}
    with PodCounts(cluster) as counts:
        result = deployed.perform_event(Rollout(at_s=0, kind="rollout", config={"CACHE_TTL_S": "7"}), run.events.emit)
    assert result["complete"] and result["max_surge_pods"] == 0 and result["max_unavailable_pods"] == 1
    assert counts.max_active <= REPLICAS, "a surge pod with maxSurge 0"
    assert counts.min_ready >= REPLICAS - 1, "more than maxUnavailable pods unavailable"
    assert counts.min_ready == REPLICAS - 1, "the unavailability budget was never used"
    web = cluster.deployment("web")
    assert not {p.name for p in web.pods() if not p.deleting} & old_pods
    assert web.spec.annotations.get("checksum/config"), "the config change reached the template as a checksum"
    assert_whole(deployed)


def test_kill_pod_records_the_fault_and_is_replaced(stack: tuple[LocalDeployed, RunDir]) -> None:
    deployed, run = stack
    since = time.time()
    result = deployed.perform_event(KillPod(at_s=0, kind="kill-pod", fraction=0.5), run.events.emit)
    assert len(result["killed"]) == 2  # ceil(0.5 * 3)
    faults = events_of(run, "fault", since)
    assert {f["pod"] for f in faults} == set(result["killed"])
    terminating = {e["pod"]: e for e in events_of(run, "pod_terminating", since)}
    assert all(terminating[p]["grace_left_s"] == 0 for p in result["killed"])
    live = {p.name for p in deployed.cluster.deployment("web").pods() if not p.deleting}
    assert not live & set(result["killed"])
    assert_whole(deployed)


@pytest.mark.parametrize("event", [RestartDb(at_s=0, kind="restart-db"), RestartCache(at_s=0, kind="restart-cache")])
def test_restart_backing_server_is_recorded_and_recovers(
    stack: tuple[LocalDeployed, RunDir], event: RestartDb | RestartCache
) -> None:
    deployed, run = stack
    workload = "postgres" if isinstance(event, RestartDb) else "redis"
    pod = deployed.cluster.deployment(workload).live_pods()[0]
    restarts = pod.restarts
    since = time.time()
    result = deployed.perform_event(event, run.events.emit)
    assert result["pod"] == pod.name and pod.restarts == restarts + 1
    assert [f for f in events_of(run, "fault", since) if f["pod"] == pod.name]
    assert [e for e in events_of(run, "pod_crashed", since) if e["pod"] == pod.name]
    assert pod.ready and not pod.deleting
    assert_whole(deployed)


def test_scale_to_sets_replicas_by_user(stack: tuple[LocalDeployed, RunDir]) -> None:
    deployed, run = stack
    since = time.time()
    result = deployed.perform_event(ScaleTo(at_s=0, kind="scale-to", replicas=2), run.events.emit)
    assert result == {"from": REPLICAS, "to": 2}
    scales = events_of(run, "scale", since)
    assert scales and scales[-1]["by"] == "user" and scales[-1]["to"] == 2
    assert_whole(deployed)
    assert deployed.replicas("web").ready_replicas == 2
