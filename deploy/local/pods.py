"""A pod: its containers as processes in one cgroup, supervised like the kubelet does.

Lifecycle (one supervisor thread per pod):
1. create the pod cgroup with limits from the pod resources;
2. run the init containers to completion, in order; a failed one is restarted with back-off;
3. start the main container (after its `prepare` step, e.g. initdb), then loop: check the
   process, run due probes (startup, then liveness and readiness), sleep `probe_tick_s`;
   readiness gates `ready`; a failed liveness/startup probe kills the container; an exit
   restarts it with the crash-loop back-off (immediate, then base, 2·base, … up to max; reset
   after `backoff_reset_s` of running);
4. on `delete()`: not ready at once (endpoints drop it), wait briefly for the endpoints
   controller to confirm (like a preStop pause), stop signal, SIGKILL after the grace period,
   kill whatever is left in the cgroup, remove the cgroup.

Events (docs/contracts.md): pod_created, pod_started, pod_ready, pod_unready, pod_crashed,
pod_restarted, pod_deleted. `on_change(pod)` is called after every state change.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hpabench.deploy.local.cgroups import CgroupDriver, CgroupUsage, NullPodCgroup, PodCgroup
from hpabench.deploy.local.probes import ProbeSpec, ProbeState, run_probe
from hpabench.deploy.local.procs import launch, log_tail, stop_process
from hpabench.deploy.local.resources import cgroup_limits
from hpabench.deploy.local.runtimes import ContainerRun, PodPlan
from hpabench.rundir import EventLog

UNPUBLISH_WAIT_S = 2.0  # longest wait for the load balancer to drop a deleted pod


def backoff_delay_s(crashes: int, base_s: float, max_s: float) -> float:
    """Delay before restarting after the `crashes`-th consecutive crash (1-based), kubelet-style."""
    if crashes <= 1:
        return 0.0
    return float(min(max_s, base_s * 2 ** (crashes - 2)))


@dataclass(frozen=True)
class PodInfo:
    """A snapshot of one pod. Times are unix seconds; CPU in millicores/seconds; memory in bytes.

    `ready_ts` is when the pod last became ready (None until ready); `ready_transition_ts` is the
    last change of the Ready condition either way (the HPA's CPU initialization rule uses it).
    `status` is what `kubectl get pods` shows (Init:0/1, Running, CrashLoopBackOff, Terminating…).
    """

    name: str
    deployment: str
    phase: str  # Pending | Running | Succeeded | Failed
    ready: bool
    deleting: bool
    created_ts: float
    started_ts: float | None
    ready_ts: float | None
    restarts: int
    pid: int | None
    cpu_request_millicores: int | None
    cpu_limit_millicores: int | None
    memory_request_bytes: int | None
    memory_limit_bytes: int | None
    cpu_usage_seconds: float
    memory_usage_bytes: int
    cpu_throttled_periods: int
    cpu_periods: int = 0
    cpu_throttled_seconds: float = 0.0
    memory_working_set_bytes: int = 0
    ready_transition_ts: float = 0.0
    status: str = "Pending"
    port: int | None = None
    deleted_ts: float | None = None
    first_ready_ts: float | None = None


@dataclass(frozen=True)
class PodTimings:
    restart_backoff_base_s: float = 10.0
    restart_backoff_max_s: float = 300.0
    backoff_reset_s: float = 600.0
    probe_tick_s: float = 0.05


class Pod:
    """One pod. `start()` launches its supervisor thread; `delete()` asks it to terminate."""

    def __init__(
        self,
        plan: PodPlan,
        driver: CgroupDriver,
        events: EventLog,
        timings: PodTimings,
        on_change: Callable[[Pod], None],
    ) -> None:
        self.plan = plan
        self.name = plan.name
        self.workload = plan.workload
        self._driver = driver
        self._events = events
        self._timings = timings
        self._on_change = on_change
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._unpublished = threading.Event()
        self._gone = threading.Event()
        self._thread: threading.Thread | None = None
        self._cgroup: PodCgroup | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._proc_container: ContainerRun | None = None
        self._last_usage = CgroupUsage()
        self.created_ts = time.time()
        self.started_ts: float | None = None
        self.ready_ts: float | None = None
        self.first_ready_ts: float | None = None
        self.ready_transition_ts = self.created_ts
        self.deleted_ts: float | None = None
        self.phase = "Pending"
        self.status = "Pending"
        self.ready = False
        self.deleting = False
        self.restarts = 0
        self.error: str | None = None
        self._grace_override_s: float | None = None
        self.log_path = plan.pod_dir / "logs" / f"{plan.main.name}.log"
        self._emit("pod_created")

    # ------------------------------------------------------------------ public

    def start(self) -> None:
        self._thread = threading.Thread(target=self._supervise, name=f"pod-{self.name}", daemon=True)
        self._thread.start()

    def delete(self, grace_s: float | None = None) -> None:
        """Begin graceful termination (non-blocking). Idempotent. `grace_s` overrides the pod's
        grace period like `kubectl delete --grace-period`; 0 kills at once (no preStop, no drain)."""
        with self._lock:
            if self.deleting:
                return
            if grace_s is not None:
                self._grace_override_s = max(0.0, float(grace_s))
            self.deleting = True
            self.deleted_ts = time.time()
            self.status = "Terminating"
            self._set_ready(False, notify=False)
        self._stop.set()
        self._on_change(self)

    def restart_container(self) -> int | None:
        """Stop the main container (its stop signal, SIGKILL after the grace period) but keep the
        pod: the supervisor restarts it as after a crash. The exit code, None if nothing ran."""
        proc, container = self._proc, self._proc_container
        if proc is None or container is None or self.deleting or proc.poll() is not None:
            return None
        return stop_process(proc, self.plan.grace_s, container.stop_signal)

    def mark_unpublished(self) -> None:
        """Called by the endpoints controller once no load balancer sends new requests here."""
        self._unpublished.set()

    def wait_gone(self, timeout_s: float) -> bool:
        return self._gone.wait(timeout_s)

    @property
    def gone(self) -> bool:
        return self._gone.is_set()

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def usage(self) -> CgroupUsage:
        cgroup = self._cgroup
        if cgroup is not None and not self.gone:
            with contextlib.suppress(OSError):
                self._last_usage = cgroup.usage()
        return self._last_usage

    def cgroup_pids(self) -> list[int]:
        cgroup = self._cgroup
        return cgroup.pids() if cgroup is not None and not self.gone else []

    def info(self) -> PodInfo:
        usage = self.usage()
        res = self.plan.resources
        with self._lock:
            return PodInfo(
                name=self.name,
                deployment=self.workload,
                phase=self.phase,
                ready=self.ready,
                deleting=self.deleting,
                created_ts=self.created_ts,
                started_ts=self.started_ts,
                ready_ts=self.ready_ts,
                restarts=self.restarts,
                pid=self.pid,
                cpu_request_millicores=res.cpu_request_millicores,
                cpu_limit_millicores=res.cpu_limit_millicores,
                memory_request_bytes=res.memory_request_bytes,
                memory_limit_bytes=res.memory_limit_bytes,
                cpu_usage_seconds=usage.cpu_usage_seconds,
                memory_usage_bytes=usage.memory_usage_bytes,
                cpu_throttled_periods=usage.cpu_throttled_periods,
                cpu_periods=usage.cpu_periods,
                cpu_throttled_seconds=usage.cpu_throttled_seconds,
                memory_working_set_bytes=usage.memory_working_set_bytes,
                ready_transition_ts=self.ready_transition_ts,
                status=self.status,
                port=self.plan.main_port,
                deleted_ts=self.deleted_ts,
                first_ready_ts=self.first_ready_ts,
            )

    def row(self) -> dict[str, Any]:
        """The pods.jsonl row (docs/contracts.md)."""
        return {
            "pod": self.name,
            "deployment": self.workload,
            "created_ts": self.created_ts,
            "started_ts": self.started_ts,
            "ready_ts": self.first_ready_ts,
            "deleted_ts": self.deleted_ts,
            "restarts": self.restarts,
            "cpu_request_millicores": self.plan.resources.cpu_request_millicores,
            "cpu_limit_millicores": self.plan.resources.cpu_limit_millicores,
        }

    # ------------------------------------------------------------------ internals

    def _emit(self, kind: str, **fields: Any) -> None:
        self._events.emit(kind, pod=self.name, deployment=self.workload, **fields)

    def _set_ready(self, ready: bool, notify: bool = True) -> None:
        with self._lock:
            if ready == self.ready:
                return
            if ready and self.deleting:
                return
            self.ready = ready
            now = time.time()
            self.ready_transition_ts = now
            if ready:
                self.ready_ts = now
                if self.first_ready_ts is None:
                    self.first_ready_ts = now
        self._emit("pod_ready" if ready else "pod_unready")
        if notify:
            self._on_change(self)

    def _set_status(self, phase: str, status: str) -> None:
        with self._lock:
            if self.deleting:
                self.phase = phase
                return
            changed = (phase, status) != (self.phase, self.status)
            self.phase, self.status = phase, status
        if changed:
            self._on_change(self)

    def _launch(self, container: ContainerRun) -> subprocess.Popen[bytes]:
        assert self._cgroup is not None
        log = self.plan.pod_dir / "logs" / f"{container.name}.log"
        self.log_path = log
        if container.prepare is not None:
            container.prepare(self._cgroup.procs_files, log)
        proc: subprocess.Popen[bytes] = launch(
            container.argv,
            container.env,
            log,
            cwd=self.plan.pod_dir,
            procs_files=self._cgroup.procs_files,
            run_as=container.run_as,
        )
        if isinstance(self._cgroup, NullPodCgroup):
            self._cgroup.attach(proc.pid)
        self._proc, self._proc_container = proc, container
        return proc

    def _reap(self) -> None:
        """After a container exited: kill whatever it left running in the pod cgroup (one
        container runs at a time here, so everything in the cgroup belonged to it)."""
        if self._cgroup is not None:
            try:
                self._cgroup.kill_all(timeout_s=2.0)
            except OSError as exc:
                self._emit("warning", message=f"pod {self.name}: leftover processes not killed: {exc}")

    def _wait_exit(self, proc: subprocess.Popen[bytes]) -> int | None:
        """Wait for `proc` unless deletion is requested (then None)."""
        while not self._stop.is_set():
            code = proc.poll()
            if code is not None:
                return code
            self._stop.wait(self._timings.probe_tick_s)
        return None

    def _crashed(self, container: str, exit_code: int | None, crashes: int, reason: str, init: bool) -> bool:
        """Record a crash and sleep the back-off; False if deletion interrupted the wait."""
        self._set_ready(False)
        delay = backoff_delay_s(crashes, self._timings.restart_backoff_base_s, self._timings.restart_backoff_max_s)
        self._emit("pod_crashed", container=container, exit_code=exit_code, reason=reason, backoff_s=delay)
        if delay > 0:
            self._set_status("Pending" if init else "Running", "Init:CrashLoopBackOff" if init else "CrashLoopBackOff")
        if self._stop.wait(delay):
            return False
        with self._lock:
            self.restarts += 1
        self._emit("pod_restarted", container=container, backoff_s=delay)
        return True

    def _run_inits(self) -> bool:
        total = len(self.plan.init_containers)
        for index, container in enumerate(self.plan.init_containers):
            crashes = 0
            while True:
                self._set_status("Pending", f"Init:{index}/{total}")
                try:
                    proc = self._launch(container)
                except Exception as exc:
                    code, reason = None, f"failed to start: {exc}"
                else:
                    code = self._wait_exit(proc)
                    if code is None:
                        return False
                    reason = "Error" if code else "Completed"
                    self._reap()
                    self._proc = None
                if code == 0:
                    break
                crashes += 1
                if not self._crashed(container.name, code, crashes, reason, init=True):
                    return False
        return True

    def _run_main(self) -> None:
        container = self.plan.main
        crashes = 0
        while not self._stop.is_set():
            if self.started_ts is None:
                self._set_status("Pending", "PodInitializing" if self.plan.init_containers else "ContainerCreating")
            try:
                proc = self._launch(container)
            except Exception as exc:
                crashes += 1
                self.error = str(exc)
                if not self._crashed(container.name, None, crashes, f"failed to start: {exc}", init=False):
                    return
                continue
            started = time.monotonic()
            with self._lock:
                first = self.started_ts is None
                if first:
                    self.started_ts = time.time()
            if first:
                self._emit("pod_started", pid=proc.pid)
            self._set_status("Running", "Running")
            outcome = self._monitor(proc, container)
            if outcome is None:
                return  # deletion requested; the finally block stops the process
            code, reason = outcome
            self._reap()
            self._proc = None
            if time.monotonic() - started >= self._timings.backoff_reset_s:
                crashes = 0
            crashes += 1
            if not self._crashed(container.name, code, crashes, reason, init=False):
                return

    def _monitor(self, proc: subprocess.Popen[bytes], container: ContainerRun) -> tuple[int | None, str] | None:
        """Watch the running container; (exit code, reason) when it must restart, None on deletion."""
        start = time.monotonic()
        specs: dict[str, ProbeSpec] = {}
        states: dict[str, ProbeState] = {}
        due: dict[str, float] = {}
        for kind in ("startup", "liveness", "readiness"):
            spec: ProbeSpec | None = getattr(container, kind)
            if spec is not None:
                specs[kind] = spec
                states[kind] = ProbeState(spec)
                due[kind] = start + spec.initial_delay_s
        if "readiness" not in specs:
            self._set_ready(True)
        started_ok = "startup" not in specs
        while not self._stop.is_set():
            code = proc.poll()
            if code is not None:
                return code, f"exited with code {code}"
            now = time.monotonic()
            for kind in ("startup", "liveness", "readiness"):
                if kind not in specs or now < due[kind]:
                    continue
                if kind == "startup" and started_ok:
                    continue
                if kind != "startup" and not started_ok:
                    continue
                spec = specs[kind]
                result = run_probe(spec, self.plan.ports, container.env, self.plan.main_port)
                due[kind] = time.monotonic() + spec.period_s
                state = states[kind]
                state.record(result.ok)
                if kind == "startup":
                    if state.result:
                        started_ok = True
                    elif state.result is False:
                        return self._kill_for(proc, container, f"startup probe failed: {result.message}")
                elif kind == "liveness" and state.result is False:
                    return self._kill_for(proc, container, f"liveness probe failed: {result.message}")
                elif kind == "readiness" and state.result is not None:
                    self._set_ready(bool(state.result))
            self._stop.wait(self._timings.probe_tick_s)
        return None

    def _kill_for(self, proc: subprocess.Popen[bytes], container: ContainerRun, reason: str) -> tuple[int | None, str]:
        self._set_ready(False)
        code = stop_process(proc, self.plan.grace_s, container.stop_signal)
        return code, reason

    def _supervise(self) -> None:
        try:
            self._cgroup = self._driver.create(self.name, cgroup_limits(self.plan.resources))
        except OSError as exc:
            self.error = f"cannot create the pod cgroup: {exc}"
            self._emit("warning", message=f"pod {self.name}: {self.error}")
            self._set_status("Failed", "Failed")
            self._finish()
            return
        try:
            if self._run_inits():
                self._run_main()
        except Exception as exc:
            self.error = f"pod supervisor failed: {exc}"
            self._emit("warning", message=f"pod {self.name}: {self.error}")
            self._set_status("Failed", "Error")
        finally:
            self._terminate()
            self._finish()

    def _terminate(self) -> None:
        grace_s = self.plan.grace_s if self._grace_override_s is None else self._grace_override_s
        proc, container = self._proc, self._proc_container
        if self.deleting and grace_s > 0:
            # Give the endpoints controller a moment to stop new requests before SIGTERM, then
            # hold for the preStop sleep (both count against the grace period, as in the kubelet).
            self._unpublished.wait(min(UNPUBLISH_WAIT_S, grace_s))
            since_delete_s = time.time() - (self.deleted_ts or time.time())
            hold_s = min(self.plan.pre_stop_s, grace_s) - since_delete_s
            if hold_s > 0 and proc is not None:
                time.sleep(hold_s)
            grace_s = max(0.0, grace_s - (time.time() - (self.deleted_ts or time.time())))
        if proc is not None and container is not None:
            if self.deleting:
                self._emit(
                    "pod_terminating",
                    drained=self._unpublished.is_set(),
                    grace_left_s=round(grace_s, 3),
                    pre_stop_s=self.plan.pre_stop_s,
                )
            stop_process(proc, grace_s, container.stop_signal)
        cgroup = self._cgroup
        if cgroup is not None:
            with contextlib.suppress(OSError):
                self._last_usage = cgroup.usage()
            try:
                cgroup.remove()
            except OSError as exc:
                self._emit("warning", message=f"pod {self.name}: cgroup not removed: {exc}")

    def _finish(self) -> None:
        with self._lock:
            self.ready = False
            if self.deleted_ts is None:
                self.deleted_ts = time.time()
            if self.phase not in ("Failed",):
                self.phase = "Succeeded" if self.deleting else "Failed"
        # Emit before `gone`: whoever waits for the pod (stop, then closing the event log) must
        # not race this last event.
        self._emit("pod_deleted", restarts=self.restarts)
        self._gone.set()
        self._on_change(self)

    def failure_detail(self) -> str:
        """A short diagnosis for error messages: status, last error and the log tail."""
        tail = log_tail(self.log_path, 800)
        parts = [f"{self.name}: {self.status}, {self.restarts} restarts"]
        if self.error:
            parts.append(self.error)
        if tail:
            parts.append("log tail:\n    " + tail.replace("\n", "\n    "))
        return "\n  ".join(parts)
