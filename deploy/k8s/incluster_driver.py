"""The k8s target's in-cluster load driver: Locust master and workers as pods, artefacts copied home first.

`InClusterDriver(...)` is a `hpabench.pipeline.LoadDriver`: called with the pipeline's
`DriverConfig`, it returns the same `DriverResult` as the local driver, and leaves the same files
in `data/` (`client_stats.*.jsonl`, `load.*.jsonl`, `errors.*.jsonl`, their merged parquet,
`locust_clock.json`, `locust_config.json`, Locust logs), so everything downstream is unchanged.

1. Applies `loadgen.loadgen_objects` (ConfigMap, master Service, master Job, N-worker Job).
2. **Waits for the workers**: the master runs Locust with `--expect-workers N`, so its load clock
   starts only when N workers are connected; the driver polls the master's `/status` (through
   `MasterLink`, in production a loopback port-forward to the master pod — never a cluster IP) until
   the clock has `t0` and `workers == N`, at most `expect_workers_wait_s` (+ pod startup). Past it:
   `LoadDriverError` naming how many worker pods are running and what the others are doing.
   When: `locust_clock.json` (`t0`, `workers`) and the `load_clock` event (`waited_s`).
3. Supervises: progress each second, the worker pods from the target's pod watch (missing,
   failed, restarted → evidence), bounded by t0 + plan + `GRACE_S` (flag `driver_timeout`).
4. **Copies every artefact before any pod goes away**: every file the master serves (it holds the
   workers' rows, sent to it over Locust's messages — `scenarios/drive/locust_messages.py`; simplest
   robust choice: one pod to read, one port-forward, no exec/tar, the files exist even when a
   worker dies) and each worker pod's log (`pods/log`); then tells the master it is done and
   deletes the load objects (also on Ctrl-C and on errors; a second deletion at namespace teardown).
5. Merges (`results.write_results`) and runs the validity guard (`loadcheck`): any reason → flag
   `load_invalid`, a `load_invalid` event with the evidence, `manifest.load_validity`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from hpabench.deploy.k8s import loadcheck, loadgen
from hpabench.deploy.k8s.api import ApiError, KubeApi
from hpabench.deploy.k8s.apply import apply_objects
from hpabench.deploy.k8s.resources import ref_of
from hpabench.errors import HpabenchError, LoadDriverError
from hpabench.rundir import RunDir
from hpabench.scenarios.drive.driver import DriverResult
from hpabench.scenarios.drive.locust_runtime import CLOCK_FILE, CONFIG_FILE, RuntimeConfig, read_clock
from hpabench.scenarios.drive.results import write_results
from hpabench.scenarios.plan import compile_plan

POLL_S = 1.0
GRACE_S = 30.0
POD_STARTUP_S = 180.0
FETCH_TIMEOUT_S = 30.0
_ARTEFACT = re.compile(
    r"^((client_stats|load|errors)\.[A-Za-z0-9_-]+\.jsonl|locust\.[A-Za-z0-9_-]+\.log|locust_clock\.json)$"
)


class MasterLink(Protocol):
    """The master pod's artefact endpoint (see `hpabench.scenarios.drive.incluster`)."""

    def status(self) -> dict[str, Any]: ...
    def fetch(self, name: str) -> bytes: ...
    def done(self) -> None: ...
    def close(self) -> None: ...


class HttpMasterLink:
    """`MasterLink` over HTTP at `url` (a loopback port-forward in production). One kept-alive
    connection, so polling each second costs one port-forward stream, not one per request; reconnects
    once when it broke. `close` closes it and runs `on_close` (the port-forward)."""

    def __init__(self, url: str, on_close: Callable[[], None] | None = None) -> None:
        self.url, self.on_close = url.rstrip("/"), on_close
        parsed = urllib.parse.urlsplit(self.url)
        self._address = (parsed.hostname or "127.0.0.1", int(parsed.port or 80))
        self._connection: http.client.HTTPConnection | None = None

    def _open(self, path: str, method: str = "GET") -> bytes:
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(*self._address, timeout=FETCH_TIMEOUT_S)
            try:
                self._connection.request(method, path, body=b"" if method == "POST" else None)
                response = self._connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                self._connection.close()
                self._connection = None
                if attempt == 2:
                    raise
                continue
            if response.status != 200:
                raise OSError(f"{method} {path}: HTTP {response.status}")
            return body
        raise AssertionError("unreachable")

    def status(self) -> dict[str, Any]:
        data = json.loads(self._open("/status"))
        return data if isinstance(data, dict) else {}

    def fetch(self, name: str) -> bytes:
        return self._open(f"/files/{name}")

    def done(self) -> None:
        self._open("/done", "POST")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self.on_close is not None:
            self.on_close()
            self.on_close = None


LinkFactory = Callable[[str], MasterLink]  # master pod name → link


class InClusterDriver:
    """See the module docstring. `pods()` lists the namespace's pods (the target's watch)."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        run: RunDir,
        pods: Callable[[], list[dict[str, Any]]],
        open_link: LinkFactory,
        app_url: str,
        image: str = loadgen.DEFAULT_LOADGEN_IMAGE,
        workers: int = 2,
        expect_workers_wait_s: float = 120.0,
    ) -> None:
        self.api, self.namespace, self.run, self.pods, self.open_link = api, namespace, run, pods, open_link
        self.app_url, self.image, self.workers, self.wait_s = app_url, image, workers, expect_workers_wait_s
        self.objects: list[dict[str, Any]] = []
        self.evidence: list[str] = []

    # -- pods ---------------------------------------------------------------------------------
    def _component(self, component: str) -> list[dict[str, Any]]:
        wanted = {"app.kubernetes.io/name": loadgen.NAME, "app.kubernetes.io/component": component}
        return [
            p
            for p in self.pods()
            if all(((p.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in wanted.items())
        ]

    def _running_master(self) -> str | None:
        for pod in self._component("master"):
            if (pod.get("status") or {}).get("phase") == "Running":
                return str(pod["metadata"]["name"])
        return None

    def _worker_summary(self) -> str:
        phases = [
            f"{p['metadata']['name']}: {(p.get('status') or {}).get('phase', 'Pending')}"
            for p in self._component("worker")
        ]
        return "; ".join(phases) or "no worker pod exists (check the Job's events: quota, image pull, scheduling)"

    def _note_workers(self) -> None:
        for line in loadcheck.worker_evidence(self._component("worker"), self.workers):
            if line not in self.evidence:
                self.evidence.append(line)
                self.run.events.emit("warning", message=f"in-cluster load: {line}")

    # -- phases -------------------------------------------------------------------------------
    def _apply(self, config: Any) -> float:
        plan = config.plan or compile_plan(config.scenario, config.time_scale)
        planned_s = plan.duration_s
        runtime = RuntimeConfig(
            config.scenario, config.time_scale, config.data_dir, self.workers, config.locustfile is not None, plan=plan
        )
        spec = loadgen.LoadgenSpec(
            run_id=self.run.run_id,
            config=runtime,
            locustfiles=loadgen.hpabench_locustfiles(config.locustfile),
            host=self.app_url,
            workers=self.workers,
            image=self.image,
            planned_s=planned_s,
            expect_workers_wait_s=self.wait_s,
        )
        self.objects = loadgen.loadgen_objects(spec)
        config.data_dir.mkdir(parents=True, exist_ok=True)
        (config.data_dir / CONFIG_FILE).write_text(self.objects[0]["data"][CONFIG_FILE], encoding="utf-8")
        apply_objects(self.api, self.objects, self.namespace)
        return planned_s

    def _wait_for_start(self, progress: Callable[[str], None]) -> tuple[MasterLink, dict[str, Any]]:
        started = time.time()
        deadline = started + POD_STARTUP_S + self.wait_s
        link: MasterLink | None = None
        while time.time() < deadline:
            if link is None:
                master = self._running_master()
                if master is not None:
                    link = self.open_link(master)
            if link is not None:
                with contextlib.suppress(OSError, ValueError):
                    clock = link.status().get("clock") or {}
                    if clock.get("t0"):
                        if int(clock.get("workers") or 0) < self.workers:
                            raise LoadDriverError(
                                f"the Locust master started with {clock.get('workers')} of {self.workers} workers"
                            )
                        waited = float(clock["t0"]) - started
                        self.run.events.emit(
                            "load_clock", t0=clock["t0"], workers=self.workers, waited_s=round(waited, 3)
                        )
                        return link, clock
            progress(
                f"waiting for {self.workers} Locust workers ({time.time() - started:.0f} s): {self._worker_summary()}"
            )
            time.sleep(POLL_S)
        if link is not None:
            link.close()
        raise LoadDriverError(
            f"the load did not start within {POD_STARTUP_S + self.wait_s:.0f} s: --expect-workers {self.workers} "
            f"were not all connected to the Locust master (workers: {self._worker_summary()}); "
            "fix: check the worker pods' events (image pull, CPU requests vs. free capacity) or lower --expect-workers"
        )

    def _supervise(self, link: MasterLink, t0: float, planned_s: float, progress: Callable[[str], None]) -> set[str]:
        flags: set[str] = set()
        while True:
            now = time.time()
            self._note_workers()
            with contextlib.suppress(OSError, ValueError):
                if link.status().get("state") == "finished":
                    return flags
            if now > t0 + planned_s + GRACE_S:
                flags.add("driver_timeout")
                self.run.events.emit("warning", message="the in-cluster Locust overran the planned duration")
                return flags
            progress(f"in-cluster load {now - t0:.0f}/{planned_s:.0f} s, {self.workers} workers")
            time.sleep(POLL_S)

    def copy_artefacts(self, link: MasterLink | None, data_dir: Path) -> list[str]:
        """Every artefact into `data_dir` (the master's files, each worker's log); the names copied."""
        copied: list[str] = []
        if link is not None:
            with contextlib.suppress(OSError, ValueError):
                for name in link.status().get("files") or []:
                    if isinstance(name, str) and _ARTEFACT.match(name):
                        (data_dir / name).write_bytes(link.fetch(name))
                        copied.append(name)
        for pod in self._component("worker"):
            name = pod["metadata"]["name"]
            with contextlib.suppress(HpabenchError):
                text = self.api.request_text(f"/api/v1/namespaces/{self.namespace}/pods/{name}/log")
                (data_dir / f"locust.pod-{name}.log").write_text(text, encoding="utf-8")
                copied.append(f"locust.pod-{name}.log")
        return copied

    def delete_objects(self) -> None:
        for obj in reversed(self.objects):
            ref = ref_of(obj, self.namespace)
            body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
            try:
                self.api.request("DELETE", ref.path, body=body)
            except ApiError as exc:
                if exc.status != 404:
                    self.run.events.emit("warning", message=f"cannot delete {ref}: {exc}")

    # -- the driver -----------------------------------------------------------------------------
    def __call__(self, config: Any, progress: Callable[[str], None] | None = None) -> DriverResult:
        say = progress or (lambda line: None)
        link: MasterLink | None = None
        interrupted, flags = False, set()
        planned_s = 0.0
        try:
            planned_s = self._apply(config)
            link, clock = self._wait_for_start(say)
            flags = self._supervise(link, float(clock["t0"]), planned_s, say)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            try:
                copied = self.copy_artefacts(link, config.data_dir)
                self.run.events.emit("load_artefacts", files=copied)
                if link is not None:
                    with contextlib.suppress(OSError):
                        link.done()
            finally:
                if link is not None:
                    link.close()
                self.delete_objects()
        return self._result(config, planned_s, interrupted, flags)

    def _result(self, config: Any, planned_s: float, interrupted: bool, flags: set[str]) -> DriverResult:
        data_dir = config.data_dir
        if not (data_dir / CLOCK_FILE).exists() and not interrupted:
            raise LoadDriverError("the Locust master's clock was not copied: no load was measured")
        plan = config.plan or compile_plan(config.scenario, config.time_scale)
        results = write_results(data_dir, plan, config.scenario.arrivals.behind_window_s)
        for episode in results.episodes:
            self.run.events.emit(episode.kind, ts=episode.start_ts, until_ts=episode.end_ts, **episode.details)
        reasons = loadcheck.validity_reasons(results.load, self.evidence)
        if reasons:
            flags.add(loadcheck.FLAG_LOAD_INVALID)
            self.run.events.emit("load_invalid", reasons=reasons)
        self.run.update_manifest(load_validity={"valid": not reasons, "reasons": reasons, "workers": self.workers})
        clock = read_clock(data_dir)
        started = float(clock.get("t0") or time.time())
        all_rows = results.client_stats[results.client_stats["route"] == "ALL"]
        return DriverResult(
            started_at=started,
            ended_at=max(float(clock.get("t_end") or time.time()), started),
            interrupted=interrupted,
            flags=sorted(flags | set(results.flags)),
            planned_duration_s=planned_s,
            requests=int(all_rows["requests"].sum()),
            failures=int(all_rows["failures"].sum()),
            processes=("master", *(f"worker-{i + 1}" for i in range(self.workers))),
            client_stats_path=data_dir / "client_stats.parquet",
            load_path=data_dir / "load.parquet",
        )
