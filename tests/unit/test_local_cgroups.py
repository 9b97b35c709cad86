"""cgroup drivers against a fake cgroupfs (plain folders) and the discovery parsers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hpabench.deploy.local import cgroups
from hpabench.deploy.local.cgroups import (
    NullDriver,
    V1Driver,
    V2Driver,
    detect_driver,
    parse_mounts,
    parse_proc_cgroup,
)
from hpabench.deploy.local.resources import Resources, cgroup_limits

WEB_LIMITS = cgroup_limits(Resources(200, 500, 128 * 2**20, 384 * 2**20))

MOUNTS_V1 = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
proc /proc proc rw 0 0
"""


def test_parse_mounts_keeps_cgroup_mounts_only() -> None:
    mounts = parse_mounts(MOUNTS_V1)
    assert [m[0] for m in mounts] == [
        "/sys/fs/cgroup/cpu",
        "/sys/fs/cgroup/cpuacct",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/unified",
    ]
    assert "cpu" in mounts[0][2]
    assert mounts[3][1] == "cgroup2"


def test_parse_proc_cgroup() -> None:
    text = "4:memory:/process_api/abc\n2:cpu,cpuacct:/\n0::/user.slice\n"
    assert parse_proc_cgroup(text) == {"memory": "/process_api/abc", "cpu": "/", "cpuacct": "/", "": "/user.slice"}


def _fake_v1(root: Path, joined: bool = False) -> list[tuple[str, str, list[str]]]:
    if joined:
        (root / "cpu,cpuacct").mkdir()
        (root / "memory").mkdir()
        return [
            (str(root / "cpu,cpuacct"), "cgroup", ["rw", "cpu", "cpuacct"]),
            (str(root / "memory"), "cgroup", ["memory"]),
        ]
    for name in ("cpu", "cpuacct", "memory"):
        (root / name).mkdir()
    return [(str(root / n), "cgroup", ["rw", n]) for n in ("cpu", "cpuacct", "memory")]


def test_v1_driver_writes_limits_and_reads_usage(tmp_path: Path) -> None:
    mounts = _fake_v1(tmp_path)
    (tmp_path / "memory" / "job").mkdir()
    driver = V1Driver.setup(mounts, {"memory": "/job", "cpu": "/", "cpuacct": "/"}, None, "t1")
    assert driver.version == "v1" and driver.enforced
    # nested under the cgroup this process lives in, per hierarchy
    assert tmp_path / "memory" / "job" / "hpabench-t1" in driver.base_paths
    assert tmp_path / "cpu" / "hpabench-t1" in driver.base_paths
    pod = driver.create("web-abc", WEB_LIMITS)
    cpu_dir = tmp_path / "cpu" / "hpabench-t1" / "web-abc"
    mem_dir = tmp_path / "memory" / "job" / "hpabench-t1" / "web-abc"
    assert (cpu_dir / "cpu.cfs_quota_us").read_text() == "50000"
    assert (cpu_dir / "cpu.cfs_period_us").read_text() == "100000"
    assert (cpu_dir / "cpu.shares").read_text() == "204"
    assert (mem_dir / "memory.limit_in_bytes").read_text() == str(384 * 2**20)
    assert set(pod.procs_files) == {
        cpu_dir / "cgroup.procs",
        tmp_path / "cpuacct" / "hpabench-t1" / "web-abc" / "cgroup.procs",
        mem_dir / "cgroup.procs",
    }
    (cpu_dir / "cpu.stat").write_text("nr_periods 40\nnr_throttled 7\nthrottled_time 350000000\n")
    (tmp_path / "cpuacct" / "hpabench-t1" / "web-abc" / "cpuacct.usage").write_text("2500000000\n")
    (mem_dir / "memory.usage_in_bytes").write_text("1000000\n")
    (mem_dir / "memory.stat").write_text("cache 10\ntotal_inactive_file 250000\n")
    usage = pod.usage()
    assert usage.cpu_usage_seconds == pytest.approx(2.5)
    assert (usage.cpu_periods, usage.cpu_throttled_periods) == (40, 7)
    assert usage.cpu_throttled_seconds == pytest.approx(0.35)
    assert usage.memory_usage_bytes == 1_000_000
    assert usage.memory_working_set_bytes == 750_000


def test_v1_unlimited_cpu_writes_minus_one(tmp_path: Path) -> None:
    driver = V1Driver.setup(_fake_v1(tmp_path, joined=True), {}, "/", "t2")
    driver.create("redis-x", cgroup_limits(Resources(100, None, None, None)))
    folder = tmp_path / "cpu,cpuacct" / "hpabench-t2" / "redis-x"
    assert (folder / "cpu.cfs_quota_us").read_text() == "-1"
    assert not (tmp_path / "memory" / "hpabench-t2" / "redis-x" / "memory.limit_in_bytes").exists()


def test_v1_setup_fails_cleanly_without_a_memory_hierarchy(tmp_path: Path) -> None:
    mounts = [m for m in _fake_v1(tmp_path) if "memory" not in m[2]]
    with pytest.raises(OSError, match="memory"):
        V1Driver.setup(mounts, {}, "/", "t3")
    assert not (tmp_path / "cpu" / "hpabench-t3").exists()  # what was created is rolled back


def _fake_v2(root: Path, controllers: str = "cpuset cpu io memory pids") -> Path:
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text("")
    return root


def test_v2_driver_writes_limits_and_reads_usage(tmp_path: Path) -> None:
    mount = _fake_v2(tmp_path)
    driver = V2Driver.setup(mount, None, "t4")
    assert driver.version == "v2"
    assert (mount / "cgroup.subtree_control").read_text() == "+cpu +memory"
    assert (mount / "hpabench-t4" / "cgroup.subtree_control").read_text() == "+cpu +memory"
    pod = driver.create("web-abc", WEB_LIMITS)
    folder = mount / "hpabench-t4" / "web-abc"
    assert (folder / "cpu.max").read_text() == "50000 100000"
    assert (folder / "cpu.weight").read_text() == str(WEB_LIMITS.cpu_weight)
    assert (folder / "memory.max").read_text() == str(384 * 2**20)
    assert pod.procs_files == [folder / "cgroup.procs"]
    (folder / "cpu.stat").write_text("usage_usec 1500000\nnr_periods 10\nnr_throttled 3\nthrottled_usec 20000\n")
    (folder / "memory.current").write_text("2000\n")
    (folder / "memory.stat").write_text("anon 1000\ninactive_file 500\n")
    usage = pod.usage()
    assert usage.cpu_usage_seconds == pytest.approx(1.5)
    assert (usage.cpu_periods, usage.cpu_throttled_periods) == (10, 3)
    assert usage.cpu_throttled_seconds == pytest.approx(0.02)
    assert (usage.memory_usage_bytes, usage.memory_working_set_bytes) == (2000, 1500)


def test_v2_unlimited_cpu_is_max(tmp_path: Path) -> None:
    driver = V2Driver.setup(_fake_v2(tmp_path), None, "t5")
    driver.create("pg", cgroup_limits(Resources(250, None, None, None)))
    assert (tmp_path / "hpabench-t5" / "pg" / "cpu.max").read_text() == "max 100000"


def test_v2_refuses_a_hierarchy_without_cpu_and_memory(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        V2Driver.setup(_fake_v2(tmp_path, controllers="hugetlb"), None, "t6")
    assert not (tmp_path / "hpabench-t6").exists()


def test_detect_driver_falls_back_to_none_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\n")
    own = tmp_path / "cgroup"
    own.write_text("0::/\n")
    monkeypatch.setattr(cgroups, "PROC_MOUNTS", mounts)
    monkeypatch.setattr(cgroups, "PROC_CGROUP", own)
    driver = detect_driver("auto")
    assert isinstance(driver, NullDriver)
    assert not driver.enforced and driver.version == "none"
    assert "cpu" in driver.reason
    with pytest.raises(OSError):
        detect_driver("v1")
    assert isinstance(detect_driver("none"), NullDriver)


def test_detect_driver_prefers_a_usable_v2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unified = tmp_path / "unified"
    unified.mkdir()
    _fake_v2(unified)
    mounts = tmp_path / "mounts"
    mounts.write_text(f"cgroup2 {unified} cgroup2 rw 0 0\n")
    own = tmp_path / "cgroup"
    own.write_text("0::/user.slice\n")
    monkeypatch.setattr(cgroups, "PROC_MOUNTS", mounts)
    monkeypatch.setattr(cgroups, "PROC_CGROUP", own)
    driver = detect_driver("auto", tag="t7")
    assert isinstance(driver, V2Driver)
    assert driver.base == unified / "hpabench-t7"


def test_null_cgroup_reads_usage_from_the_process_tree() -> None:
    pod = NullDriver("test").create("p", WEB_LIMITS)
    assert pod.procs_files == []
    pod.attach(os.getpid())
    usage = pod.usage()
    assert usage.cpu_usage_seconds > 0
    assert usage.memory_usage_bytes > 0
    assert os.getpid() in pod.pids()
