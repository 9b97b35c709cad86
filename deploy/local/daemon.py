"""`hpabench up` / `status` / `down`: a LocalCluster in a detached supervisor process.

State lives in `<reports>/.local/`:
* `lock` – held (flock) by the running supervisor: a second `up` fails fast and clearly;
* `request.json` – the objects and settings `up` hands to the supervisor;
* `stack.json` – the supervisor's state: `starting` → `ready` (URLs, run dir, ports, cgroups)
  → `stopping` → `stopped`, or `failed` with the error;
* `pods.json` – a `kubectl get pods`-like snapshot, rewritten every second;
* `supervisor.log` – the supervisor's own output.

`up` validates the objects and binaries in the caller's process (so bad input is exit code 2,
not a log line), starts the supervisor with its own session, and returns once every pod is
ready. `down` sends SIGTERM, waits, and verifies that no process, cgroup or port is left
(killing and removing stragglers itself if the supervisor died).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from hpabench.deploy.local.binaries import check_binaries
from hpabench.deploy.local.cluster import LocalCluster
from hpabench.deploy.local.ports import is_port_free
from hpabench.deploy.local.settings import LocalSettings
from hpabench.deploy.local.workloads import parse_objects
from hpabench.errors import TargetError
from hpabench.rundir import (
    STATUS_COMPLETED,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_RUNNING,
    RunDir,
    write_json_atomic,
)
from hpabench.stack import leftovers, same_process

STATE_DIR = ".local"
STACK = "stack.json"
PODS = "pods.json"
REQUEST = "request.json"
LOCK = "lock"
SNAPSHOT_PERIOD_S = 1.0
UP_EXTRA_TIMEOUT_S = 60.0  # on top of ready_timeout_s: server start-up and teardown on failure
DOWN_TIMEOUT_S = 90.0


def state_dir(reports_dir: Path) -> Path:
    return Path(reports_dir) / STATE_DIR


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _alive(stack: dict[str, Any]) -> bool:
    """Is the supervisor recorded in `stack` still running (same pid *and* start time, no zombie)?"""
    pid, created = stack.get("pid"), stack.get("pid_create_time")
    if not isinstance(pid, int):
        return False
    return _same_process(pid, created)


def _running_stack(folder: Path) -> dict[str, Any] | None:
    stack = _read_json(folder / STACK)
    if stack is None or stack.get("status") in ("stopped", "failed") or not _alive(stack):
        return None
    return stack


# ------------------------------------------------------------------------------------------ up


def up(objects: list[dict[str, Any]], reports_dir: Path, settings: LocalSettings) -> dict[str, Any]:
    """Start the stack in the background; return {service_url, prometheus_url, exporter_url, run_dir, pid}."""
    folder = state_dir(reports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    running = _running_stack(folder)
    if running is not None:
        raise TargetError(
            f"a local stack is already running (pid {running.get('pid')}, run {running.get('run_dir')}); "
            "stop it first with: hpabench down"
        )
    parse_objects(objects)  # SpecError here, in the caller, with exit code 2
    check_binaries(["haproxy", "prometheus"])
    (folder / STACK).unlink(missing_ok=True)
    (folder / PODS).unlink(missing_ok=True)
    write_json_atomic(folder / REQUEST, {"objects": objects, "settings": settings.to_json()})
    # Double fork: an intermediate process starts the supervisor in its own session and exits,
    # so the supervisor is not our child (no zombie, no ResourceWarning, survives our exit).
    spawn = subprocess.run(
        [
            sys.executable,
            "-m",
            "hpabench.deploy.local.daemon",
            "--reports-dir",
            str(Path(reports_dir).resolve()),
            "--spawn",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if spawn.returncode != 0 or not spawn.stdout.strip().isdigit():
        raise TargetError(f"could not start the supervisor: {spawn.stderr.strip() or spawn.stdout.strip()}")
    pid = int(spawn.stdout.strip())
    try:
        return _wait_up(folder, pid, settings)
    except KeyboardInterrupt:
        # Ctrl-C on `up` means "do not bring it up": stop the supervisor (it tears down) and wait.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        _wait_pid_gone(pid, DOWN_TIMEOUT_S)
        raise


def _wait_up(folder: Path, pid: int, settings: LocalSettings) -> dict[str, Any]:
    deadline = time.monotonic() + settings.ready_timeout_s + UP_EXTRA_TIMEOUT_S
    while True:
        stack = _read_json(folder / STACK) or {}
        mine = stack.get("pid") == pid
        if mine and stack.get("status") == "ready":
            return {
                "service_url": stack["service_url"],
                "prometheus_url": stack["prometheus_url"],
                "exporter_url": stack["exporter_url"],
                "run_dir": stack["run_dir"],
                "pid": pid,
            }
        exited = not _pid_alive(pid)
        if (mine and stack.get("status") == "failed") or exited:
            _wait_pid_gone(pid, DOWN_TIMEOUT_S)
            error = (stack.get("error") if mine else None) or "the supervisor exited"
            raise TargetError(f"hpabench up failed: {error} (see {folder / 'supervisor.log'})")
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            _wait_pid_gone(pid, DOWN_TIMEOUT_S)
            raise TargetError(f"hpabench up timed out; the supervisor was stopped (see {folder / 'supervisor.log'})")
        time.sleep(0.1)


def _create_time(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def _pid_alive(pid: int) -> bool:
    """True if `pid` runs (a zombie is not running)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _wait_pid_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _spawn(reports_dir: Path) -> int:
    """The intermediate of the double fork: start the supervisor detached, print its pid, exit."""
    folder = state_dir(reports_dir)
    with (folder / "supervisor.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hpabench.deploy.local.daemon", "--reports-dir", str(reports_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the user's terminal does not reach it
            close_fds=True,
        )
    print(proc.pid, flush=True)
    proc.returncode = 0  # deliberately not waited for: it is adopted by init when we exit
    return 0


# ------------------------------------------------------------------------------------------ status


def _age(seconds: float) -> str:
    """kubectl-style age: 45s, 3m12s, 2h5m, 3d4h."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    if s < 600:
        return f"{s // 60}m{s % 60}s"
    if s < 3 * 3600:
        return f"{s // 60}m" if s < 3600 else f"{s // 3600}h{(s % 3600) // 60}m"
    if s < 2 * 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d{(s % 86400) // 3600}h"


def status_rows(pods: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """`kubectl get pods` rows (NAME READY STATUS RESTARTS AGE) from PodInfo dicts (pure)."""
    rows = []
    for pod in sorted(pods, key=lambda p: (p["deployment"], p["created_ts"])):
        rows.append(
            {
                "NAME": pod["name"],
                "READY": "1/1" if pod["ready"] else "0/1",
                "STATUS": pod.get("status") or pod["phase"],
                "RESTARTS": pod["restarts"],
                "AGE": _age(now - pod["created_ts"]),
            }
        )
    return rows


def has_stack(reports_dir: Path) -> bool:
    """Is there an `up` stack record to stop (running, or left by a dead supervisor)?"""
    return (state_dir(reports_dir) / STACK).exists()


def stack_urls(reports_dir: Path) -> dict[str, str]:
    """Service, Prometheus and exporter URLs of the running `up` stack (empty if none is ready)."""
    stack = _running_stack(state_dir(reports_dir)) or {}
    names = {"service_url": "service", "prometheus_url": "prometheus", "exporter_url": "exporter"}
    return {label: str(stack[key]) for key, label in names.items() if stack.get(key)}


def status(reports_dir: Path) -> list[dict[str, Any]]:
    """The pods of the running stack as `kubectl get pods` rows; TargetError if none runs."""
    folder = state_dir(reports_dir)
    stack = _read_json(folder / STACK)
    if stack is None or stack.get("status") in ("stopped", None):
        raise TargetError("no local stack is running (start one with: hpabench up)")
    if not _alive(stack):
        raise TargetError("the local stack's supervisor is gone; clean up with: hpabench down")
    snapshot = _read_json(folder / PODS) or {"pods": []}
    return status_rows(list(snapshot.get("pods") or []), time.time())


def hpa_status(reports_dir: Path) -> list[str]:
    """`kubectl describe hpa` texts of the running stack's autoscalers (empty when none runs)."""
    snapshot = _read_json(state_dir(reports_dir) / PODS) or {}
    return [str(text) for text in snapshot.get("hpas") or []]


def format_status(rows: list[dict[str, Any]]) -> str:
    """Rows as an aligned text table with kubectl's headers."""
    headers = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    if not rows:
        return "No resources found."
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
    lines = ["   ".join(h.ljust(widths[h]) for h in headers).rstrip()]
    for row in rows:
        lines.append("   ".join(str(row[h]).ljust(widths[h]) for h in headers).rstrip())
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ down


def _cleanup_leftovers(stack: dict[str, Any]) -> list[str]:
    """Kill processes in the recorded cgroups and remove them; what could not be cleaned."""
    problems: list[str] = []
    for base in map(Path, stack.get("cgroup_paths") or []):
        if not base.exists():
            continue
        for child in [c for c in base.iterdir() if c.is_dir()] + [base]:
            procs = child / "cgroup.procs"
            for _ in range(100):
                pids = [int(p) for p in procs.read_text().split()] if procs.exists() else []
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.05)
            try:
                child.rmdir()
            except OSError as exc:
                problems.append(f"cgroup {child}: {exc.strerror}")
    return problems


def _recorded_processes(stack: dict[str, Any], snapshot: dict[str, Any]) -> list[tuple[int, float | None]]:
    """(pid, create time) of HAProxy, Prometheus and the pods' main processes, as last recorded."""
    procs = [(int(pid), created) for pid, created in stack.get("server_procs") or []]
    procs += [(int(p["pid"]), p.get("pid_create_time")) for p in snapshot.get("pods") or [] if p.get("pid")]
    return procs


_same_process = same_process  # one rule for "still the process we recorded" (hpabench/stack.py)


def _kill_recorded(procs: list[tuple[int, float | None]]) -> None:
    """SIGKILL the process groups of recorded processes (each was started as a session leader)."""
    for pid, created in procs:
        if _same_process(pid, created):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while any(_same_process(pid, created) for pid, created in procs) and time.monotonic() < deadline:
        time.sleep(0.05)


def verify_clean(stack: dict[str, Any], snapshot: dict[str, Any] | None = None) -> list[str]:
    """What the stack left behind: live processes, cgroup folders, bound ports (empty = clean)."""
    problems = []
    for pid, created in _recorded_processes(stack, snapshot or {}):
        if _same_process(pid, created):
            problems.append(f"process {pid} still running")
    for path in stack.get("cgroup_paths") or []:
        if Path(path).exists():
            problems.append(f"cgroup {path} still exists")
    for path in stack.get("temp_paths") or []:
        if Path(path).exists():
            problems.append(f"temporary folder {path} still exists")
    for port in stack.get("ports") or []:
        if not is_port_free(port):
            problems.append(f"port {port} still in use")
    return problems


def down(reports_dir: Path) -> dict[str, Any]:
    """Stop the running stack and verify nothing is left; TargetError if something is."""
    folder = state_dir(reports_dir)
    stack = _read_json(folder / STACK)
    if stack is None:
        raise TargetError("no local stack is running (nothing to stop)")
    snapshot = _read_json(folder / PODS) or {}
    t0 = time.monotonic()
    if _alive(stack):
        pid = int(stack["pid"])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + DOWN_TIMEOUT_S
        while _alive(stack) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(stack):
            os.killpg(pid, signal.SIGKILL)
    # Normally the supervisor has stopped everything; if it died, clean up after it.
    _kill_recorded(_recorded_processes(stack, snapshot))
    for temp in stack.get("temp_paths") or []:
        shutil.rmtree(temp, ignore_errors=True)
    problems = _cleanup_leftovers(stack)
    problems += verify_clean(stack, snapshot)
    stopped = _read_json(folder / STACK) or stack
    if problems:
        raise TargetError("hpabench down left things behind:\n  " + "\n  ".join(problems))
    for name in (STACK, PODS, REQUEST):
        (folder / name).unlink(missing_ok=True)
    return {"run_dir": stopped.get("run_dir"), "stopped_in_s": round(time.monotonic() - t0, 3)}


# ------------------------------------------------------------------------------------------ supervisor


class _Supervisor:
    def __init__(self, reports_dir: Path) -> None:
        self.reports_dir = reports_dir
        self.folder = state_dir(reports_dir)
        self.stop = threading.Event()
        self.starting = True
        self.stack: dict[str, Any] = {}

    def write(self, **fields: Any) -> None:
        self.stack.update(fields)
        write_json_atomic(self.folder / STACK, self.stack)

    def write_snapshot(self, cluster: LocalCluster) -> None:
        """pods.json: PodInfo dicts plus each main process's start time (to recognise it later)."""
        pods = cluster.snapshot()
        for pod in pods:
            pod["pid_create_time"] = _create_time(pod["pid"]) if pod.get("pid") else None
        snapshot = {"ts": time.time(), "pods": pods, "hpas": cluster.hpa_descriptions()}
        write_json_atomic(self.folder / PODS, snapshot)

    def on_signal(self, signum: int, frame: object) -> None:
        self.stop.set()
        if self.starting:
            raise KeyboardInterrupt(f"signal {signum} during start-up")

    def main(self) -> int:
        lock = (self.folder / LOCK).open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            print("another supervisor holds the lock", file=sys.stderr)
            return 1
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self.on_signal)
        me = psutil.Process()
        self.write(status="starting", pid=os.getpid(), pid_create_time=me.create_time(), started_at=time.time())
        request = _read_json(self.folder / REQUEST) or {}
        run: RunDir | None = None
        cluster: LocalCluster | None = None
        code = 0
        interrupted_start = False
        try:
            settings = LocalSettings.from_json(request.get("settings") or {})
            run = RunDir.create(self.reports_dir, "up")
            run.update_manifest(run_id=run.run_id, status=STATUS_RUNNING, target="local", created_at=time.time())
            run.stack.set_owner("runner", os.getpid())
            self.write(run_dir=str(run.path))
            cluster = LocalCluster.start(list(request.get("objects") or []), run, settings, progress=print)
            self.starting = False
            self.write_snapshot(cluster)
            self.write(
                status="ready",
                service_url=cluster.service_urls().get("web", ""),
                prometheus_url=cluster.prometheus_url,
                exporter_url=cluster.exporter_url,
                cgroup_paths=[str(p) for p in cluster.cgroup_paths],
                temp_paths=[str(p) for p in cluster.temp_paths],
                server_procs=[[pid, _create_time(pid)] for pid in cluster.server_pids],
                ports=cluster.infra_ports,
            )
            while not self.stop.wait(SNAPSHOT_PERIOD_S):
                self.write_snapshot(cluster)
        except (KeyboardInterrupt, Exception) as exc:  # recorded for `up` to report
            interrupted_start = isinstance(exc, KeyboardInterrupt) and cluster is None
            self.starting = False
            if not self.stop.is_set() or not isinstance(exc, KeyboardInterrupt):
                code = 1
                self.write(status="failed", error=str(exc) or type(exc).__name__)
                if run is not None:
                    run.update_manifest(status=STATUS_FAILED, error=str(exc))
        finally:
            self.starting = False
            if cluster is not None:
                if code == 0:
                    self.write(status="stopping")
                cluster.stop()
            if run is not None:
                if not leftovers(run.stack.snapshot()):
                    run.stack.release()
                if code == 0:
                    # Stopped during start-up (Ctrl-C on `up`, `down`): it never served; say so.
                    final = STATUS_INTERRUPTED if interrupted_start else STATUS_COMPLETED
                    run.update_manifest(status=final, finished_at=time.time())
                run.close()
            if code == 0:
                self.write(status="stopped", stopped_at=time.time())
            lock.close()
        return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="hpabench local stack supervisor (started by `hpabench up`)")
    parser.add_argument("--reports-dir", type=Path, required=True)
    parser.add_argument("--spawn", action="store_true", help="start the supervisor detached and print its pid")
    args = parser.parse_args(argv)
    if args.spawn:
        return _spawn(args.reports_dir)
    return _Supervisor(args.reports_dir).main()


if __name__ == "__main__":
    sys.exit(main())
