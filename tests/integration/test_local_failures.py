"""Failures during `LocalCluster.start` tear everything down and re-raise (real servers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hpabench.deploy.local.cluster import LocalCluster, LocalSettings
from hpabench.errors import SpecError, TargetError
from hpabench.rundir import RunDir, read_events
from tests.integration.test_local_support import base_objects, find, our_cgroups, processes_using

pytestmark = pytest.mark.integration


@pytest.fixture
def run(tmp_path: Path) -> Iterator[RunDir]:
    run = RunDir.create(tmp_path, "failure")
    yield run
    run.close()


def assert_nothing_left(run: RunDir) -> None:
    assert processes_using(run.path) == []
    assert our_cgroups() == []


def test_bad_manifest_is_refused_before_anything_starts(run: RunDir) -> None:
    objects = base_objects()
    find(objects, "Deployment", "redis")["spec"]["template"]["spec"]["containers"][0]["image"] = "memcached:1.6"
    with pytest.raises(SpecError) as info:
        LocalCluster.start(objects, run, LocalSettings())
    assert "Deployment/redis: spec.template.spec.containers.0.image" in str(info.value)
    assert not (run.path / "haproxy").exists() and not (run.path / "pods").exists()


def test_crash_looping_app_fails_start_and_tears_down(run: RunDir) -> None:
    objects = base_objects(web_replicas=1)
    web = find(objects, "Deployment", "web")["spec"]["template"]["spec"]
    web["initContainers"] = []
    web["containers"][0]["command"] = ["python", "-c", "import sys; print('config exploded'); sys.exit(3)"]
    settings = LocalSettings(ready_timeout_s=12, restart_backoff_base_s=0.2, autoscale=False)
    with pytest.raises(TargetError) as info:
        LocalCluster.start(objects, run, settings)
    message = str(info.value)
    assert "not ready after 12s" in message and "config exploded" in message and "CrashLoopBackOff" in message
    crashes = [e for e in read_events(run.path) if e["kind"] == "pod_crashed" and e["deployment"] == "web"]
    assert len(crashes) >= 2 and crashes[0]["exit_code"] == 3
    assert crashes[1]["backoff_s"] == pytest.approx(0.2)  # immediate, then base, doubling
    assert_nothing_left(run)


def test_interrupt_during_start_tears_down(run: RunDir) -> None:

    def progress(message: str) -> None:
        if "deployment/redis" in message:  # PostgreSQL and Redis are up, the web pods not yet
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        LocalCluster.start(base_objects(), run, LocalSettings(autoscale=False), progress=progress)
    kinds = [e["kind"] for e in read_events(run.path)]
    assert kinds.count("pod_started") >= 2 and kinds.count("pod_deleted") == kinds.count("pod_created")
    assert_nothing_left(run)
