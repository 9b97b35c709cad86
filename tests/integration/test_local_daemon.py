"""`up` / `status` / `down`: the stack in a detached supervisor process (real servers)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from hpabench.deploy.local.cluster import LocalSettings
from hpabench.deploy.local.daemon import down, format_status, hpa_status, state_dir, status, up
from hpabench.errors import TargetError
from tests.integration.test_local_support import base_objects, processes_using, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def reports(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    # Whatever happened in the test, never leave a supervisor running.
    if (state_dir(tmp_path) / "stack.json").exists():
        down(tmp_path)


def test_up_status_down(reports: Path) -> None:
    settings = LocalSettings(scrape_interval_s=1.0, autoscale=False)
    info = up(base_objects(web_replicas=2), reports, settings)
    assert set(info) == {"service_url", "prometheus_url", "exporter_url", "run_dir", "pid"}
    assert httpx.get(f"{info['service_url']}/items/1", timeout=10).status_code == 200
    assert httpx.get(f"{info['prometheus_url']}/-/ready", timeout=5).status_code == 200
    supervisor = psutil.Process(info["pid"])
    assert supervisor.is_running()

    with pytest.raises(TargetError, match="already running"):
        up(base_objects(), reports, settings)

    rows = status(reports)
    assert [r["NAME"].split("-")[0] for r in rows] == ["postgres", "redis", "web", "web"]
    assert all(r["READY"] == "1/1" and r["STATUS"] == "Running" for r in rows)
    assert format_status(rows).splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]

    stack = json.loads((state_dir(reports) / "stack.json").read_text())
    result = down(reports)
    assert result["run_dir"] == info["run_dir"]
    assert not supervisor.is_running() or supervisor.status() == psutil.STATUS_ZOMBIE
    assert not (state_dir(reports) / "stack.json").exists()
    assert processes_using(Path(info["run_dir"])) == []
    assert all(not Path(p).exists() for p in stack["cgroup_paths"] + stack["temp_paths"])
    manifest = json.loads((Path(info["run_dir"]) / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["target"] == "local"
    with pytest.raises(TargetError, match="no local stack"):
        status(reports)
    with pytest.raises(TargetError, match="no local stack"):
        down(reports)


def test_down_cleans_up_after_a_killed_supervisor(reports: Path) -> None:
    info = up(base_objects(web_replicas=1), reports, LocalSettings(autoscale=False))
    stack = json.loads((state_dir(reports) / "stack.json").read_text())
    pods = json.loads((state_dir(reports) / "pods.json").read_text())["pods"]
    orphans = [pid for pid, _ in stack["server_procs"]] + [p["pid"] for p in pods]
    assert len(orphans) == 5  # haproxy, prometheus, postgres, redis, web
    os.kill(info["pid"], signal.SIGKILL)  # no teardown at all: everything else is orphaned
    wait_until(
        lambda: not psutil.pid_exists(info["pid"]) or psutil.Process(info["pid"]).status() == "zombie", 10, "kill"
    )
    assert all(psutil.pid_exists(pid) for pid in orphans)
    with pytest.raises(TargetError, match="gone"):
        status(reports)
    down(reports)
    assert [pid for pid in orphans if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"] == []
    assert processes_using(Path(info["run_dir"])) == []
    assert all(not Path(p).exists() for p in stack["cgroup_paths"])
    assert stack["temp_paths"] and all(not Path(p).exists() for p in stack["temp_paths"])
    assert not (state_dir(reports) / "stack.json").exists()


def test_status_describes_the_running_hpa(reports: Path) -> None:
    up(base_objects(), reports, LocalSettings(scrape_interval_s=1.0, autoscale=True))
    try:
        deadline = time.monotonic() + 10
        while not hpa_status(reports) and time.monotonic() < deadline:
            time.sleep(0.2)
        (description,) = hpa_status(reports)
        assert "Name:" in description and "web" in description
        assert "Min replicas:" in description and "Conditions:" in description
    finally:
        down(reports)
    assert hpa_status(reports) == []
