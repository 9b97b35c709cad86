"""The in-cluster load driver against the API emulator (see conftest for what kmock emulates).

The tests play what the cluster would do: a Job controller and kubelet (pods created by POST, their
status as posted), and the Locust master pod's artefact endpoint — the real `incluster` HTTP handler
on loopback over a folder the test fills, as the master would (its clock with `t0` and the number
of connected workers, the workers' rows it received over Locust's messages). Everything the driver
does through the API (apply, list pods, logs, delete) goes to the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from hpabench.deploy.k8s import incluster_driver as driver_module
from hpabench.deploy.k8s.api import KubeApi
from hpabench.deploy.k8s.incluster_driver import HttpMasterLink, InClusterDriver
from hpabench.deploy.k8s.loadgen import MASTER, NAME, WORKERS
from hpabench.deploy.k8s.permissions import covers, required_rules
from hpabench.deploy.k8s.resources import Rule, request_rule
from hpabench.deploy.render import render
from hpabench.deploy.variant import default_variant
from hpabench.errors import LoadDriverError
from hpabench.rundir import RunDir, read_events
from hpabench.scenarios.drive import incluster
from hpabench.scenarios.drive.driver import DriverConfig
from hpabench.scenarios.drive.recording import SecondRecorder
from hpabench.scenarios.spec import Scenario

from .conftest import Emulator, _ready_pod, call, controllers_running, post_namespace, seed_cluster, url_of
from .test_flow import IMAGE, make_target
from .test_rbac import granted_rules

pytestmark = pytest.mark.asyncio
NS = "hpabench-run-1"
DURATION_S = 3
USERS = 4


def scenario() -> Scenario:
    return Scenario.model_validate(
        {
            "name": "short",
            "description": "in-cluster test",
            "stages": [{"name": "a", "duration_s": DURATION_S, "users": USERS}],
            "think_time": {"mean_s": 0.2, "jitter": 0.5},
        }
    )


class FakeMaster:
    """The master pod's endpoint: the real handler over `folder`; `log` records what the driver did."""

    def __init__(self, folder: Path, log: list[str]) -> None:
        folder.mkdir(parents=True)
        self.state = incluster.ArtefactState(folder)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), incluster._handler(self.state))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.log = log
        self.opened: list[str] = []

    def open_link(self, pod: str) -> HttpMasterLink:
        self.opened.append(pod)
        log = self.log

        class Link(HttpMasterLink):
            def fetch(self, name: str) -> bytes:
                log.append(f"fetch {name}")
                return super().fetch(name)

            def done(self) -> None:
                log.append("done")
                super().done()

        return Link(f"http://127.0.0.1:{self.server.server_address[1]}")

    def run_locust(self, workers: int, cpu: float = 0.3, users: int = USERS) -> None:
        """What Locust would leave in the master's folder: the clock, then each worker's rows."""
        t0 = time.time()
        folder = self.state.data_dir
        (folder / "locust_clock.json").write_text(json.dumps({"t0": t0, "source": "shape", "workers": workers}))
        for w in range(1, workers + 1):
            rec = SecondRecorder(f"worker-{w}")
            rec.start(t0, t0)
            for k in range(DURATION_S):
                for _ in range(10):
                    rec.record(t0 + k + 0.1, "/items", 12.0, False)
            rows, completed = rec.rows_before(DURATION_S)
            (folder / f"client_stats.worker-{w}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
            load = [
                {"ts": t0 + k, "t_s": k, "process": f"worker-{w}", "role": "worker", "users": users // workers,
                 "completed": completed.get(k, 0), "sent": completed.get(k, 0), "intended": None, "dropped": None,
                 "cpu": cpu}
                for k in range(DURATION_S)
            ]  # fmt: skip
            (folder / f"load.worker-{w}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in load))
        (folder / "locust.master.log").write_text("master log\n")
        clock = json.loads((folder / "locust_clock.json").read_text())
        (folder / "locust_clock.json").write_text(json.dumps({**clock, "t_end": t0 + DURATION_S}))
        self.state.exit_code = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


async def play_jobs(cluster: Emulator, workers: int, running: int, restarts: int = 0) -> dict[str, Any]:
    """The Job controller and kubelet: once the Jobs exist, their pods (only `running` workers Running)."""
    jobs: dict[str, Any] = {}
    for _ in range(200):
        listing = await call(cluster, "GET", f"/apis/batch/v1/namespaces/{NS}/jobs")
        jobs = {j["metadata"]["name"]: j for j in listing.get("items") or []}
        if MASTER in jobs and WORKERS in jobs:
            break
        await asyncio.sleep(0.05)
    base = {"app.kubernetes.io/name": NAME}
    await call(
        cluster,
        "POST",
        f"/api/v1/namespaces/{NS}/pods",
        _ready_pod(NS, f"{MASTER}-abcde", {**base, "app.kubernetes.io/component": "master"}),
    )
    for i in range(workers):
        pod = _ready_pod(NS, f"{WORKERS}-{i}", {**base, "app.kubernetes.io/component": "worker"})
        if i >= running:
            pod["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]}
        pod["status"].setdefault("containerStatuses", [{"name": "c", "restartCount": 0}])[0]["restartCount"] = (
            restarts if i == 0 else 0
        )
        await call(cluster, "POST", f"/api/v1/namespaces/{NS}/pods", pod)
    return jobs


def make_driver(cluster: Emulator, run: RunDir, master: FakeMaster, log: list[str], workers: int, **extra: Any):
    api = KubeApi.for_host(url_of(cluster))
    original = api.request

    def request(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if method == "DELETE":
            log.append(f"delete {path.rsplit('/', 2)[-2]}")
        return original(method, path, **kwargs)

    api.request = request  # type: ignore[method-assign]

    def pods() -> list[dict[str, Any]]:
        return original("GET", f"/api/v1/namespaces/{NS}/pods").get("items") or []

    driver = InClusterDriver(
        api, NS, run, pods, master.open_link, "http://web:80", image="me/loadgen:1", workers=workers, **extra
    )
    return api, driver


@contextlib.asynccontextmanager
async def harness(cluster: Emulator, tmp_path: Path, workers: int, **extra: Any) -> AsyncIterator[Any]:
    """The run's namespace, a fake master, a run directory and the driver; all closed afterwards."""
    await post_namespace(cluster, NS)
    log: list[str] = []
    master = FakeMaster(tmp_path / "master", log)
    run = RunDir.create(tmp_path / "reports", "incluster")
    api, driver = make_driver(cluster, run, master, log, workers=workers, **extra)
    try:
        yield SimpleNamespace(log=log, master=master, run=run, driver=driver)
    finally:
        api.close()
        master.close()
        run.close()


def config(run: RunDir) -> DriverConfig:
    return DriverConfig(scenario=scenario(), host="http://web:80", data_dir=run.data)


async def _exists(cluster: Emulator, path: str) -> bool:
    found = await call(cluster, "GET", path)
    return found.get("kind") != "Status" and bool(found.get("metadata"))


async def test_a_run_applies_waits_copies_every_artefact_then_deletes(cluster: Emulator, tmp_path) -> None:
    async with harness(cluster, tmp_path, 2) as h:
        log, master, run, driver = h.log, h.master, h.run, h.driver
        task = asyncio.create_task(asyncio.to_thread(driver, config(run)))
        jobs = await play_jobs(cluster, workers=2, running=2)
        await asyncio.sleep(0.3)
        assert not task.done()  # no clock yet: the driver is waiting for the workers
        await asyncio.to_thread(master.run_locust, 2)
        result = await task
    workers = jobs[WORKERS]["spec"]
    assert workers["parallelism"] == 2 and workers["template"]["spec"]["containers"][0]["image"] == "me/loadgen:1"
    assert master.opened == [f"{MASTER}-abcde"], log
    assert any(entry.startswith("delete") for entry in log), log
    # every artefact came home before the first deletion, and the master was told it may go
    first_delete = next(i for i, entry in enumerate(log) if entry.startswith("delete"))
    fetched = {entry.removeprefix("fetch ") for entry in log[:first_delete] if entry.startswith("fetch")}
    assert {"client_stats.worker-1.jsonl", "load.worker-2.jsonl", "locust.master.log", "locust_clock.json"} <= fetched
    assert log.index("done") < first_delete
    assert sorted(e.removeprefix("delete ") for e in log if e.startswith("delete")) == [
        "configmaps", "jobs", "jobs", "services"
    ]  # fmt: skip
    for path in (f"/apis/batch/v1/namespaces/{NS}/jobs/{MASTER}", f"/api/v1/namespaces/{NS}/configmaps/{NAME}"):
        assert not await _exists(cluster, path)
    client = pd.read_parquet(run.data / "client_stats.parquet")
    assert int(client[client["route"] == "ALL"]["requests"].sum()) == 2 * DURATION_S * 10 == result.requests
    assert "load_invalid" not in result.flags and not result.interrupted
    events = read_events(run.path)
    clock = next(e for e in events if e["kind"] == "load_clock")
    assert clock["workers"] == 2 and clock["waited_s"] > 0.2
    assert json.loads((run.path / "manifest.json").read_text())["load_validity"]["valid"] is True
    assert json.loads((run.data / "locust_config.json").read_text())["ship_rows"] is True
    assert_requests_within_rbac(cluster)


def assert_requests_within_rbac(cluster: Emulator) -> None:
    """Every request the driver made is declared (pre-flight asks it) and granted by deploy/rbac."""
    used: set[Rule] = set()
    for request in cluster._requests:
        if not str(request.headers.get("User-Agent", "")).startswith("hpabench/"):
            continue
        rule = request_rule(
            str(getattr(request.method, "value", request.method)), request.url.path, dict(request.params)
        )
        if rule is not None:
            used.add(rule)
            if "apply-patch" in str(request.headers.get("Content-Type", "")):
                used.add(Rule("create", rule.group, rule.resource, rule.subresource, rule.namespaced))
    assert {r.resource_name for r in used} >= {"jobs", "configmaps", "services", "pods", "pods/log"}
    declared = {(r.verb, r.group, r.resource_name) for r in required_rules([], False, False, in_cluster_load=True)}
    assert sorted(str(r) for r in used if (r.verb, r.group, r.resource_name) not in declared) == []
    assert sorted(str(r) for r in used if not covers(granted_rules(), r)) == []


async def test_the_wait_for_workers_is_bounded_and_names_the_missing_ones(
    cluster: Emulator, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(driver_module, "POD_STARTUP_S", 0.0)
    monkeypatch.setattr(driver_module, "POLL_S", 0.1)
    async with harness(cluster, tmp_path, 2, expect_workers_wait_s=1.5) as h:
        log, _master, run, driver = h.log, h.master, h.run, h.driver
        task = asyncio.create_task(asyncio.to_thread(driver, config(run)))
        await play_jobs(cluster, workers=2, running=1)  # one worker never gets scheduled
        with pytest.raises(LoadDriverError, match=r"--expect-workers 2.*hpabench-loadgen-workers-1: Pending"):
            await task
    assert {"delete jobs", "delete configmaps", "delete services"} <= set(log)  # nothing left behind


async def test_a_restarted_worker_and_a_hot_generator_make_the_run_invalid(cluster: Emulator, tmp_path) -> None:
    async with harness(cluster, tmp_path, 2) as h:
        _log, master, run, driver = h.log, h.master, h.run, h.driver
        task = asyncio.create_task(asyncio.to_thread(driver, config(run)))
        await play_jobs(cluster, workers=2, running=2, restarts=1)
        await asyncio.sleep(1.2)  # the driver sees the restart while the load runs
        await asyncio.to_thread(master.run_locust, 2, 0.95, 2)  # 95 % CPU and half the planned users
        result = await task
    assert "load_invalid" in result.flags
    reasons = json.loads((run.path / "manifest.json").read_text())["load_validity"]["reasons"]
    assert any("restarted 1 time" in r for r in reasons)
    assert any("above 90% CPU" in r for r in reasons)
    assert any("below intended" in r for r in reasons)
    assert next(e for e in read_events(run.path) if e["kind"] == "load_invalid")["reasons"] == reasons


async def test_ctrl_c_still_copies_the_artefacts_and_deletes_the_objects(cluster: Emulator, tmp_path) -> None:
    async with harness(cluster, tmp_path, 1) as h:
        log, master, run, driver = h.log, h.master, h.run, h.driver
        supervise = driver._supervise

        def interrupted_supervise(*args: Any) -> set[str]:
            raise KeyboardInterrupt  # Ctrl-C (or SIGTERM via the pipeline) in the middle of the load

        driver._supervise = interrupted_supervise  # type: ignore[method-assign]
        task = asyncio.create_task(asyncio.to_thread(driver, config(run)))
        await play_jobs(cluster, workers=1, running=1)
        await asyncio.to_thread(master.run_locust, 1)
        result = await task
    assert supervise is not None and result.interrupted
    first_delete = next(i for i, entry in enumerate(log) if entry.startswith("delete"))
    assert "fetch client_stats.worker-1.jsonl" in log[:first_delete]
    assert (run.data / "client_stats.parquet").exists()


async def test_the_k8s_target_hands_the_pipeline_its_in_cluster_driver_only_when_asked(
    cluster: Emulator, tmp_path
) -> None:
    await seed_cluster(cluster, images=[IMAGE])
    objects = render(default_variant())
    for load_from in ("runner", "cluster"):
        target = make_target(tmp_path, cluster, load_from=load_from, expect_workers=3, loadgen_image="me/lg:2")
        run = RunDir.create(tmp_path / f"reports-{load_from}", "choose")
        async with controllers_running(cluster):
            deployed = await asyncio.to_thread(target.start, objects, run, lambda m: None)
            try:
                driver = deployed.load_driver
            finally:
                await asyncio.to_thread(deployed.stop)
                run.close()
        if load_from == "runner":
            assert driver is None  # the local driver, through the port-forward
        else:
            assert isinstance(driver, InClusterDriver)
            assert (driver.workers, driver.image, driver.app_url) == (3, "me/lg:2", "http://web:80")
            assert driver.namespace == deployed.namespace


async def test_the_preflight_asks_for_the_loadgen_image_only_for_in_cluster_load(cluster: Emulator, tmp_path) -> None:
    await seed_cluster(cluster, images=[IMAGE])
    objects = render(default_variant())
    assert await asyncio.to_thread(make_target(tmp_path, cluster).admit, objects) == []
    issues = await asyncio.to_thread(make_target(tmp_path, cluster, load_from="cluster").admit, objects)
    assert [i.path for i in issues] == ["hpabench/loadgen:0.1.0"], [str(i) for i in issues]
    assert "deploy/loadgen/Dockerfile" in issues[0].message
    asked = {(r["verb"], r.get("group", ""), r["resource"]) for r in cluster.reviews}
    assert ("delete", "batch", "jobs") in asked
