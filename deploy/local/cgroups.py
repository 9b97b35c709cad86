"""Pod cgroups: create with limits, attach processes, read usage, kill leftovers, remove.

Three drivers behind one interface (`CgroupDriver.create(name, limits) -> PodCgroup`):

* `V1Driver`: separate or joined `cpu`, `cpuacct` and `memory` hierarchies (cgroup v1).
* `V2Driver`: the unified hierarchy with the `cpu` and `memory` controllers (cgroup v2).
* `NullDriver`: no writable cgroups (not root, no delegation): no limits, usage read from the
  process tree with psutil. `enforced` is False and the caller must say so loudly.

Layout: `<parent>/hpabench-<tag>/<pod>` in every hierarchy, where `<parent>` is, by default,
the cgroup this process already lives in (v1: a nested group stays inside any limit and
accounting the caller is subject to) or the root of the unified mount (v2: the "no internal
processes" rule forbids children with controllers under our own, populated cgroup).
Processes are attached by writing their pid into `procs_files` *before* they exec the workload
(see `pods.launch`), so no child escapes the limits.

Units: CPU seconds, bytes, CFS periods (counts).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psutil

from hpabench.deploy.local.resources import CgroupLimits

PROC_MOUNTS = Path("/proc/self/mounts")
PROC_CGROUP = Path("/proc/self/cgroup")
V1_CONTROLLERS = ("cpu", "cpuacct", "memory")


@dataclass(frozen=True)
class CgroupUsage:
    """Cumulative usage of a pod cgroup since it was created."""

    cpu_usage_seconds: float = 0.0
    cpu_periods: int = 0
    cpu_throttled_periods: int = 0
    cpu_throttled_seconds: float = 0.0
    memory_usage_bytes: int = 0
    memory_working_set_bytes: int = 0


class PodCgroup(Protocol):
    """One pod's cgroup (in every hierarchy the driver manages)."""

    name: str
    procs_files: list[Path]  # files a launcher writes its own pid into before exec

    def attach(self, pid: int) -> None: ...
    def usage(self) -> CgroupUsage: ...
    def pids(self) -> list[int]: ...
    def kill_all(self, timeout_s: float = 5.0) -> None: ...
    def remove(self) -> None: ...


class CgroupDriver(Protocol):
    version: str  # "v1" | "v2" | "none"
    enforced: bool
    base_paths: list[Path]  # our `hpabench-<tag>` folders (empty for the null driver)

    def create(self, name: str, limits: CgroupLimits) -> PodCgroup: ...
    def remove(self) -> None: ...


# ---------------------------------------------------------------- discovery (pure parsers)


def parse_mounts(text: str) -> list[tuple[str, str, list[str]]]:
    """`/proc/self/mounts` → [(mount point, fs type, options)] for cgroup/cgroup2 mounts."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] in ("cgroup", "cgroup2"):
            mounts.append((fields[1], fields[2], fields[3].split(",")))
    return mounts


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """`/proc/self/cgroup` → {controller: path}; the v2 entry is keyed "" ."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers = parts[1].split(",") if parts[1] else [""]
        for controller in controllers:
            paths[controller] = parts[2]
    return paths


def _read_int(path: Path, default: int = 0) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def _read_kv(path: Path) -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        text = path.read_text()
    except OSError:
        return values
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            with contextlib.suppress(ValueError):
                values[parts[0]] = int(parts[1])
    return values


def _pids_in(procs_file: Path) -> list[int]:
    try:
        return [int(x) for x in procs_file.read_text().split()]
    except (OSError, ValueError):
        return []


def _kill_pids(list_pids: Callable[[], list[int]], timeout_s: float) -> None:
    """SIGKILL every pid reported by `list_pids()` until none is left or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        pids = list_pids()
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            return
        time.sleep(0.02)


def _rmdir(path: Path, timeout_s: float = 2.0) -> None:
    """rmdir a cgroup; EBUSY right after the last task died is transient, so retry briefly."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# ---------------------------------------------------------------- cgroup v1


class V1PodCgroup:
    def __init__(self, name: str, dirs: dict[str, Path]) -> None:
        self.name = name
        self.dirs = dirs  # controller → directory (cpu and cpuacct may share one)
        self.procs_files = sorted({d / "cgroup.procs" for d in dirs.values()})

    def attach(self, pid: int) -> None:
        for procs in self.procs_files:
            procs.write_text(str(pid))

    def usage(self) -> CgroupUsage:
        cpu_stat = _read_kv(self.dirs["cpu"] / "cpu.stat")
        mem_stat = _read_kv(self.dirs["memory"] / "memory.stat")
        mem_usage = _read_int(self.dirs["memory"] / "memory.usage_in_bytes")
        inactive = mem_stat.get("total_inactive_file", mem_stat.get("inactive_file", 0))
        return CgroupUsage(
            cpu_usage_seconds=_read_int(self.dirs["cpuacct"] / "cpuacct.usage") / 1e9,
            cpu_periods=cpu_stat.get("nr_periods", 0),
            cpu_throttled_periods=cpu_stat.get("nr_throttled", 0),
            cpu_throttled_seconds=cpu_stat.get("throttled_time", 0) / 1e9,
            memory_usage_bytes=mem_usage,
            memory_working_set_bytes=max(0, mem_usage - inactive),
        )

    def pids(self) -> list[int]:
        found: set[int] = set()
        for procs in self.procs_files:
            found.update(_pids_in(procs))
        return sorted(found)

    def kill_all(self, timeout_s: float = 5.0) -> None:
        _kill_pids(self.pids, timeout_s)

    def remove(self) -> None:
        self.kill_all()
        for directory in sorted(set(self.dirs.values())):
            _rmdir(directory)


class V1Driver:
    """cgroup v1: one folder per pod in each of the cpu, cpuacct and memory hierarchies."""

    version = "v1"
    enforced = True

    def __init__(self, hierarchy_bases: dict[str, Path]) -> None:
        # controller → our `hpabench-<tag>` folder in the hierarchy holding that controller
        self.bases = hierarchy_bases
        self.base_paths = sorted(set(hierarchy_bases.values()))

    @classmethod
    def setup(
        cls, mounts: list[tuple[str, str, list[str]]], own: dict[str, str], parent: str | None, tag: str
    ) -> V1Driver:
        """Create `hpabench-<tag>` in each hierarchy; raises OSError if any is not writable."""
        bases: dict[str, Path] = {}
        created: list[Path] = []
        try:
            for controller in V1_CONTROLLERS:
                mount = next((m for m, fs, opts in mounts if fs == "cgroup" and controller in opts), None)
                if mount is None:
                    raise OSError(errno.ENOENT, f"no cgroup v1 hierarchy with the {controller} controller")
                rel = parent if parent is not None else own.get(controller, "/")
                base = Path(mount) / rel.lstrip("/") / f"hpabench-{tag}"
                if base not in created:
                    base.mkdir()
                    created.append(base)
                bases[controller] = base
            memory = bases["memory"]
            # Nested groups account hierarchically (always true on modern kernels; harmless if so).
            with contextlib.suppress(OSError):
                (memory / "memory.use_hierarchy").write_text("1")
        except OSError:
            for path in reversed(created):
                with contextlib.suppress(OSError):
                    path.rmdir()
            raise
        return cls(bases)

    def create(self, name: str, limits: CgroupLimits) -> V1PodCgroup:
        dirs: dict[str, Path] = {}
        try:
            for controller, base in self.bases.items():
                directory = base / name
                if directory not in dirs.values():
                    directory.mkdir(exist_ok=True)
                dirs[controller] = directory
            cpu = dirs["cpu"]
            (cpu / "cpu.cfs_period_us").write_text(str(limits.cpu_period_us))
            (cpu / "cpu.cfs_quota_us").write_text(str(limits.cpu_quota_us or -1))
            (cpu / "cpu.shares").write_text(str(limits.cpu_shares))
            if limits.memory_limit_bytes is not None:
                (dirs["memory"] / "memory.limit_in_bytes").write_text(str(limits.memory_limit_bytes))
        except OSError:
            for directory in sorted(set(dirs.values())):
                with contextlib.suppress(OSError):
                    directory.rmdir()
            raise
        return V1PodCgroup(name, dirs)

    def remove(self) -> None:
        for base in self.base_paths:
            if not base.exists():
                continue
            for child in base.iterdir():
                if child.is_dir():
                    _kill_pids(functools.partial(_pids_in, child / "cgroup.procs"), 5.0)
                    _rmdir(child)
            _rmdir(base)


# ---------------------------------------------------------------- cgroup v2


class V2PodCgroup:
    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.directory = directory
        self.procs_files = [directory / "cgroup.procs"]

    def attach(self, pid: int) -> None:
        (self.directory / "cgroup.procs").write_text(str(pid))

    def usage(self) -> CgroupUsage:
        cpu_stat = _read_kv(self.directory / "cpu.stat")
        mem_stat = _read_kv(self.directory / "memory.stat")
        mem_usage = _read_int(self.directory / "memory.current")
        return CgroupUsage(
            cpu_usage_seconds=cpu_stat.get("usage_usec", 0) / 1e6,
            cpu_periods=cpu_stat.get("nr_periods", 0),
            cpu_throttled_periods=cpu_stat.get("nr_throttled", 0),
            cpu_throttled_seconds=cpu_stat.get("throttled_usec", 0) / 1e6,
            memory_usage_bytes=mem_usage,
            memory_working_set_bytes=max(0, mem_usage - mem_stat.get("inactive_file", 0)),
        )

    def pids(self) -> list[int]:
        return _pids_in(self.directory / "cgroup.procs")

    def kill_all(self, timeout_s: float = 5.0) -> None:
        kill_file = self.directory / "cgroup.kill"  # kernel >= 5.14: kills the whole subtree
        if kill_file.exists() and self.pids():
            with contextlib.suppress(OSError):
                kill_file.write_text("1")
        _kill_pids(self.pids, timeout_s)

    def remove(self) -> None:
        self.kill_all()
        _rmdir(self.directory)


class V2Driver:
    """cgroup v2: `<parent>/hpabench-<tag>/<pod>` with cpu.max, cpu.weight and memory.max."""

    version = "v2"
    enforced = True

    def __init__(self, base: Path) -> None:
        self.base = base
        self.base_paths = [base]

    @classmethod
    def setup(cls, mount: Path, parent: str | None, tag: str) -> V2Driver:
        """Create `hpabench-<tag>` and delegate cpu+memory to its children; OSError if impossible."""
        parent_dir = mount / (parent or "/").lstrip("/")
        available = (parent_dir / "cgroup.controllers").read_text().split()
        if "cpu" not in available or "memory" not in available:
            raise OSError(errno.ENOTSUP, f"{parent_dir} does not offer the cpu and memory controllers")
        enabled = (parent_dir / "cgroup.subtree_control").read_text().split()
        missing = [c for c in ("cpu", "memory") if c not in enabled]
        if missing:
            (parent_dir / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
        base = parent_dir / f"hpabench-{tag}"
        base.mkdir()
        try:
            (base / "cgroup.subtree_control").write_text("+cpu +memory")
        except OSError:
            base.rmdir()
            raise
        return cls(base)

    def create(self, name: str, limits: CgroupLimits) -> V2PodCgroup:
        directory = self.base / name
        directory.mkdir(exist_ok=True)
        try:
            quota = "max" if limits.cpu_quota_us is None else str(limits.cpu_quota_us)
            (directory / "cpu.max").write_text(f"{quota} {limits.cpu_period_us}")
            (directory / "cpu.weight").write_text(str(limits.cpu_weight))
            if limits.memory_limit_bytes is not None:
                (directory / "memory.max").write_text(str(limits.memory_limit_bytes))
        except OSError:
            with contextlib.suppress(OSError):
                directory.rmdir()
            raise
        return V2PodCgroup(name, directory)

    def remove(self) -> None:
        if not self.base.exists():
            return
        for child in self.base.iterdir():
            if child.is_dir():
                V2PodCgroup(child.name, child).remove()
        _rmdir(self.base)


# ---------------------------------------------------------------- no cgroups


class NullPodCgroup:
    """No cgroup: usage summed over the pod's live process tree (exited children are lost)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.procs_files: list[Path] = []
        self._roots: list[int] = []
        self._dead_cpu_s = 0.0
        self._last_cpu_s: dict[int, float] = {}

    def attach(self, pid: int) -> None:
        self._roots.append(pid)

    def _processes(self) -> list[psutil.Process]:
        procs: list[psutil.Process] = []
        for pid in self._roots:
            try:
                root = psutil.Process(pid)
                procs.append(root)
                procs.extend(root.children(recursive=True))
            except psutil.Error:
                continue
        return procs

    def usage(self) -> CgroupUsage:
        cpu_now: dict[int, float] = {}
        rss = 0
        for proc in self._processes():
            try:
                times = proc.cpu_times()
                cpu_now[proc.pid] = times.user + times.system
                rss += proc.memory_info().rss
            except psutil.Error:
                continue
        # Keep the CPU of processes that exited so the counter stays monotonic.
        for pid, seconds in self._last_cpu_s.items():
            if pid not in cpu_now:
                self._dead_cpu_s += seconds
        self._last_cpu_s = cpu_now
        return CgroupUsage(
            cpu_usage_seconds=self._dead_cpu_s + sum(cpu_now.values()),
            memory_usage_bytes=rss,
            memory_working_set_bytes=rss,
        )

    def pids(self) -> list[int]:
        return sorted(p.pid for p in self._processes())

    def kill_all(self, timeout_s: float = 5.0) -> None:
        _kill_pids(self.pids, timeout_s)

    def remove(self) -> None:
        self.kill_all()
        self._roots.clear()


class NullDriver:
    version = "none"
    enforced = False
    base_paths: list[Path] = []  # noqa: RUF012 - immutable in practice, part of the protocol

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def create(self, name: str, limits: CgroupLimits) -> NullPodCgroup:
        return NullPodCgroup(name)

    def remove(self) -> None:
        return None


# ---------------------------------------------------------------- selection


def detect_driver(mode: str = "auto", parent: str | None = None, tag: str | None = None) -> CgroupDriver:
    """The first usable driver for `mode` ("auto" | "v1" | "v2" | "none").

    "auto" tries v2 when the unified hierarchy offers cpu+memory, else v1, else the null driver
    (whose `reason` says why). An explicit "v1"/"v2" that cannot be set up raises OSError.
    """
    tag = tag or f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    if mode == "none":
        return NullDriver("cgroups disabled by settings")
    try:
        mounts = parse_mounts(PROC_MOUNTS.read_text())
        own = parse_proc_cgroup(PROC_CGROUP.read_text())
    except OSError as exc:
        if mode != "auto":
            raise
        return NullDriver(f"cannot read cgroup mounts: {exc}")
    reasons: list[str] = []
    if mode in ("auto", "v2"):
        for mount, fs, _ in mounts:
            if fs != "cgroup2":
                continue
            try:
                return V2Driver.setup(Path(mount), parent, tag)
            except OSError as exc:
                if mode == "v2":
                    raise
                reasons.append(f"v2 at {mount}: {exc.strerror or exc}")
        if mode == "v2":
            raise OSError(errno.ENOENT, "no cgroup v2 hierarchy is mounted")
    if mode in ("auto", "v1"):
        try:
            return V1Driver.setup(mounts, own, parent, tag)
        except OSError as exc:
            if mode == "v1":
                raise
            reasons.append(f"v1: {exc.strerror or exc}")
    return NullDriver("; ".join(reasons) or "no cgroup hierarchy found")
