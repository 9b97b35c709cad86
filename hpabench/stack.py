"""The stack record: what a run (or `hpabench up`) started, so anyone can clean it up later.

`<run>/stack.json` is rewritten atomically whenever the stack changes:

```json
{"schema_version": 1, "state": "active" | "released",
 "runner": {"pid": 123, "create_time": 1764625000.1},      # the `hpabench run` process
 "reaper": {"pid": 124, "create_time": ...},               # its lifeline watcher (reaper.py)
 "urls": {"service": "http://127.0.0.1:...", "prometheus": "..."},
 "groups": {"locust": {"processes": [[pid, create_time, label]], "cgroups": [], "ports": [], "temp_paths": []},
            "local":  {...}}}
```

Each *group* is owned by one component (the load driver writes `locust`, the local target
`local`) and replaced as a whole. A process is identified by pid **and** start time, so a
reused pid is never signalled. `clean(record)` stops a stack whose owner is gone: Locust first
(it may still be sending load), then every recorded process group, cgroup (its remaining
members killed), temp path; `leftovers(record)` says what is still there (empty = clean) — by
the recorded pids, paths and ports only, never by process name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from hpabench.rundir import write_json_atomic

SCHEMA_VERSION = 1
STACK_FILE = "stack.json"
STATE_ACTIVE = "active"
STATE_RELEASED = "released"
# Locust first: a stack left behind that still sends load is the worst kind of leftover.
CLEAN_ORDER = ("locust",)
KILL_WAIT_S = 10.0


def process_identity(pid: int) -> list[Any]:
    """[pid, create_time] of a live process (create_time None if it already vanished)."""
    try:
        return [pid, float(psutil.Process(pid).create_time())]
    except psutil.Error:
        return [pid, None]


def same_process(pid: int, created: float | None) -> bool:
    """Is `pid` still the process we recorded (running, not a zombie, not a reused pid)?"""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return created is None or abs(proc.create_time() - float(created)) < 1.0
    except psutil.Error:
        return False


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something listens on host:port (TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


class StackRecord:
    """Writer of one `stack.json` (thread-safe; every change is written at once)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._data: dict[str, Any] = read_stack(self.path) or {
            "schema_version": SCHEMA_VERSION,
            "state": STATE_ACTIVE,
            "groups": {},
        }

    def _write(self) -> None:
        self._data["updated_at"] = time.time()
        write_json_atomic(self.path, self._data)

    def set_owner(self, role: str, pid: int) -> None:
        """Record the runner (or reaper) process by pid and start time."""
        ident = process_identity(pid)
        with self._lock:
            self._data[role] = {"pid": ident[0], "create_time": ident[1]}
            self._data["state"] = STATE_ACTIVE
            self._write()

    def set_urls(self, **urls: str) -> None:
        with self._lock:
            self._data.setdefault("urls", {}).update(urls)
            self._write()

    def set_group(
        self,
        name: str,
        processes: list[list[Any]] | None = None,
        cgroups: list[str] | None = None,
        ports: list[int] | None = None,
        temp_paths: list[str] | None = None,
    ) -> None:
        """Replace group `name`; `processes` are [pid, create_time, label] (see module doc)."""
        group = {
            "processes": [list(p) for p in processes or []],
            "cgroups": [str(c) for c in cgroups or []],
            "ports": sorted({int(p) for p in ports or []}),
            "temp_paths": [str(t) for t in temp_paths or []],
        }
        with self._lock:
            if self._data["groups"].get(name) == group:
                return
            self._data["groups"][name] = group
            self._data["state"] = STATE_ACTIVE
            self._write()

    def clear_group(self, name: str) -> None:
        with self._lock:
            if self._data["groups"].pop(name, None) is not None:
                self._write()

    def release(self) -> None:
        """Everything recorded is gone: mark the record released (kept for the post-mortem)."""
        with self._lock:
            self._data["state"] = STATE_RELEASED
            self._write()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            copied: dict[str, Any] = json.loads(json.dumps(self._data))
            return copied


def read_stack(path: Path) -> dict[str, Any] | None:
    """The record at `path` (a run directory or its stack.json), or None if absent/unreadable."""
    path = Path(path)
    if path.is_dir():
        path = path / STACK_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("groups"), dict) else None


def owner_alive(record: dict[str, Any], role: str = "runner") -> bool:
    owner = record.get(role) or {}
    pid = owner.get("pid")
    return isinstance(pid, int) and same_process(pid, owner.get("create_time"))


def _ordered_groups(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    groups = dict(record.get("groups") or {})
    first = [(n, groups.pop(n)) for n in CLEAN_ORDER if n in groups]
    return first + sorted(groups.items())


def _processes(group: dict[str, Any]) -> list[tuple[int, float | None, str]]:
    found = []
    for entry in group.get("processes") or []:
        if entry and isinstance(entry[0], int):
            created = entry[1] if len(entry) > 1 else None
            label = str(entry[2]) if len(entry) > 2 else ""
            found.append((entry[0], created, label))
    return found


def _kill_group_of(pid: int, created: float | None) -> None:
    """SIGKILL the process group led by `pid` (our children are session leaders), else the pid."""
    if not same_process(pid, created):
        return
    try:
        target_group = os.getpgid(pid) == pid
    except OSError:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if target_group:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)


def _cgroup_members(path: Path) -> list[int]:
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _clean_cgroup(base: Path, deadline: float) -> None:
    """Kill every member of `base` and its children, then remove the folders (deepest first)."""
    if not base.exists():
        return
    nested = sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    folders = [*nested, base]
    for folder in folders:
        while (members := _cgroup_members(folder)) and time.monotonic() < deadline:
            for pid in members:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        with contextlib.suppress(OSError):
            folder.rmdir()


def clean(record: dict[str, Any], timeout_s: float = KILL_WAIT_S) -> list[str]:
    """Stop everything `record` lists (Locust first) and return what is still left (see module doc)."""
    deadline = time.monotonic() + timeout_s
    groups = _ordered_groups(record)
    for _, group in groups:
        procs = _processes(group)
        for pid, created, _ in procs:
            _kill_group_of(pid, created)
        while any(same_process(pid, created) for pid, created, _ in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
    for _, group in groups:
        for base in group.get("cgroups") or []:
            _clean_cgroup(Path(base), deadline)
        for temp in group.get("temp_paths") or []:
            shutil.rmtree(temp, ignore_errors=True)
    # Ports close with their processes; give the kernel a moment before judging.
    while leftovers(record, ports=True) and time.monotonic() < deadline:
        time.sleep(0.1)
    return leftovers(record)


def leftovers(record: dict[str, Any], ports: bool = True) -> list[str]:
    """What of `record` still exists: live recorded processes, cgroup folders, temp paths, bound ports."""
    found: list[str] = []
    for name, group in _ordered_groups(record):
        for pid, created, label in _processes(group):
            if same_process(pid, created):
                found.append(f"{name}: process {pid} ({label or 'unnamed'}) still running")
        for path in group.get("cgroups") or []:
            if Path(path).exists():
                found.append(f"{name}: cgroup {path} still exists")
        for path in group.get("temp_paths") or []:
            if Path(path).exists():
                found.append(f"{name}: temporary path {path} still exists")
        if ports:
            for port in group.get("ports") or []:
                if port_in_use(int(port)):
                    found.append(f"{name}: port {port} still in use")
    return found
