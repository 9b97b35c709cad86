"""Signal-proof teardown, stack records, the reaper and harness-fault flags (no servers).

A fake target with real child processes stands in for the local stack: each test checks what
is left by the recorded pids and paths, never by process name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hpabench.analysis import collect as collect_mod
from hpabench.analysis.faults import fault_notes, harness_faults
from hpabench.console import Console
from hpabench.lifeline import FLAG_RUNNER_DIED, reap
from hpabench.pipeline import RunOptions, run_benchmark
from hpabench.rundir import RunDir, read_events
from hpabench.signals import ENV_SIGNAL_AT, deferred_signals, fault_point, reset_fault_points
from hpabench.stack import StackRecord, clean, leftovers, process_identity, read_stack
from hpabench.target import ReplicaView, TargetOptions

SCENARIO = """name: blip
description: "two seconds"
stages:
  - {name: a, duration_s: 2, users: 1}
"""


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)


def _wait_gone(proc: subprocess.Popen[bytes]) -> None:
    proc.wait(timeout=30)


def test_deferred_signals_record_instead_of_raising() -> None:
    with deferred_signals() as deferred:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        reached_the_end = True
    assert reached_the_end
    assert deferred.names() == ["SIGINT", "SIGTERM"]
    with pytest.raises(KeyboardInterrupt):  # the previous handler is back
        os.kill(os.getpid(), signal.SIGINT)


def test_fault_point_fires_once_at_the_named_point(monkeypatch: pytest.MonkeyPatch) -> None:
    reset_fault_points()
    monkeypatch.setenv(ENV_SIGNAL_AT, "here:SIGINT,elsewhere:SIGTERM")
    fault_point("not-named")  # nothing happens
    with pytest.raises(KeyboardInterrupt):
        fault_point("here")
    fault_point("here")  # once per process and spec


def test_stack_record_clean_kills_recorded_processes_and_paths(tmp_path: Path) -> None:
    record = StackRecord(tmp_path / "stack.json")
    locust, server = _sleeper(), _sleeper()
    temp = tmp_path / "tmpdir"
    temp.mkdir()
    try:
        record.set_group("locust", processes=[[*process_identity(locust.pid), "locust main"]])
        record.set_group("local", processes=[[*process_identity(server.pid), "haproxy"]], temp_paths=[str(temp)])
        snapshot = read_stack(tmp_path)
        assert snapshot is not None
        assert len(leftovers(snapshot)) == 3
        assert clean(snapshot) == []
        _wait_gone(locust)
        _wait_gone(server)
        assert locust.returncode == -signal.SIGKILL and server.returncode == -signal.SIGKILL
        assert not temp.exists()
    finally:
        for proc in (locust, server):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    proc = _sleeper()
    try:
        record = StackRecord(tmp_path / "stack.json")
        pid, created = process_identity(proc.pid)
        record.set_group("local", processes=[[pid, created - 100.0, "someone else"]])
        assert leftovers(record.snapshot()) == []
        clean(record.snapshot())
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_reap_marks_a_dead_runners_run_interrupted(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "dead")
    run.update_manifest(status="running", flags=[])
    orphan = _sleeper()
    try:
        run.stack.set_group("local", processes=[[*process_identity(orphan.pid), "pod"]])
        assert reap(run.path, by="a test") == []
        _wait_gone(orphan)
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
        run.close()
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert FLAG_RUNNER_DIED in manifest["flags"]
    kinds = [(e["kind"], e.get("flag")) for e in read_events(run.path)]
    assert ("fault", FLAG_RUNNER_DIED) in kinds
    assert (read_stack(run.path) or {}).get("state") == "released"


def test_harness_faults_and_notes() -> None:
    assert harness_faults(["generator_overloaded", "lb_died", "redis_died"]) == ["lb_died", "redis_died"]
    events = [
        {"kind": "fault", "ts": 10.0, "t_s": 4.0, "server": "haproxy", "flag": "lb_died", "message": "haproxy died"},
        {"kind": "server_restarted", "ts": 10.5, "server": "haproxy", "down_s": 0.5},
    ]
    notes = fault_notes(events, {"server_p95_ms": [1]}, ["server_p95_ms", "pod_rps"])
    assert any("t=4.0 s" in n and "restarted after 0.5 s" in n and "lb_died" in n for n in notes)
    assert any("pod_rps" in n and "missing" in n for n in notes)


# ---------------------------------------------------------------------------- the pipeline


class _FakeDeployed:
    """Two real child processes recorded in the stack; stop() takes a while (signals land in it)."""

    def __init__(self, run: RunDir) -> None:
        self.procs = [_sleeper(), _sleeper()]
        run.stack.set_group(
            "local", processes=[[*process_identity(p.pid), f"server-{i}"] for i, p in enumerate(self.procs)]
        )
        self.stops = 0

    service_url = "http://127.0.0.1:9"
    prometheus_url = "http://127.0.0.1:9"
    namespace = "fake"
    load_hosts = ("127.0.0.1",)

    def replicas(self, workload: str = "web") -> ReplicaView:
        return ReplicaView(1, 1)

    def stop(self) -> None:
        self.stops += 1
        self.procs[0].terminate()
        fault_point("fake.mid-stop")  # a signal in the middle of the stop must not cut it short
        time.sleep(0.2)
        self.procs[0].wait(timeout=30)
        self.procs[1].terminate()
        self.procs[1].wait(timeout=30)


class _FakeTarget:
    name = "fake"

    def __init__(self, options: TargetOptions) -> None:
        self.deployed: list[_FakeDeployed] = []

    def admit(self, objects: list[dict[str, Any]]) -> list[Any]:
        return []

    def start(self, objects: list[dict[str, Any]], run: RunDir, progress: Any) -> _FakeDeployed:
        self.deployed.append(_FakeDeployed(run))
        return self.deployed[-1]


class _Result:
    def __init__(self) -> None:
        self.started_at = self.ended_at = time.time()
        self.flags: list[str] = []
        self.interrupted = False


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str) -> tuple[Any, _FakeTarget]:
    reset_fault_points()
    monkeypatch.setenv(ENV_SIGNAL_AT, point)
    # No Prometheus behind the fake: collection finds nothing at once instead of retrying.
    monkeypatch.setattr(collect_mod, "collect", lambda *a, **k: SimpleNamespace(warnings=[], empty=[]))
    scenario = tmp_path / "blip.yaml"
    scenario.write_text(SCENARIO)
    targets: list[_FakeTarget] = []

    def factory(options: TargetOptions) -> _FakeTarget:
        targets.append(_FakeTarget(options))
        return targets[-1]

    options = RunOptions(scenario=str(scenario), reports_dir=tmp_path / "reports", scrape_interval_s=0.5)
    outcome = run_benchmark(
        options, Console(quiet=True), target_factory=factory, driver=lambda c, progress=None: _Result()
    )
    return outcome, targets[-1]


@pytest.mark.parametrize("point", ["fake.mid-stop:SIGINT", "teardown.started:SIGTERM", "collect.started:SIGINT"])
def test_a_signal_around_teardown_never_cuts_it_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    outcome, target = _run(tmp_path, monkeypatch, point)
    assert outcome.exit_code == 130 and outcome.status == "interrupted"
    (deployed,) = target.deployed
    assert deployed.stops == 1
    assert all(p.returncode is not None for p in deployed.procs)  # both stopped: the stop finished
    manifest = json.loads((outcome.run_path / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert "teardown_incomplete" not in manifest["flags"]
    (finished,) = [
        e for e in read_events(outcome.run_path) if e.get("stage") == "teardown" and e["state"] == "finished"
    ]
    assert finished["complete"] is True and finished["leftovers"] == []
    record = read_stack(outcome.run_path)
    assert record is not None and record["state"] == "released" and leftovers(record) == []
    assert (outcome.run_path / "data" / "planned.parquet").is_file()


def test_interrupt_during_analysis_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outcome, _ = _run(tmp_path, monkeypatch, "report.started:SIGINT")
    assert outcome.exit_code == 130
    manifest = json.loads((outcome.run_path / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and "report_interrupted" in manifest["flags"]
    summary = json.loads((outcome.run_path / "summary.json").read_text())
    assert summary["status"] == "interrupted"


# ---------------------------------------------------------------------------- down / status


def test_down_with_nothing_running_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hpabench.cli import main

    assert main(["down", "--reports-dir", str(tmp_path)]) == 0
    assert "nothing to stop" in capsys.readouterr().out


def test_status_sees_a_running_run_and_down_run_reaps_a_dead_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hpabench.cli import main

    live = RunDir.create(tmp_path, "live")
    live.stack.set_owner("runner", os.getpid())
    live.stack.set_urls(service="http://127.0.0.1:1234", prometheus="http://127.0.0.1:5678")
    assert main(["status", "--reports-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"hpabench run (pid {os.getpid()})" in out and "http://127.0.0.1:1234" in out
    live.stack.release()
    live.close()

    dead = RunDir.create(tmp_path, "dead")
    dead.update_manifest(status="running", flags=[])
    orphan = _sleeper()
    try:
        dead.stack.set_group("local", processes=[[*process_identity(orphan.pid), "pod"]])
        assert main(["down", "--run", str(dead.path), "--reports-dir", str(tmp_path)]) == 0
        _wait_gone(orphan)
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
        dead.close()
    assert json.loads((dead.path / "manifest.json").read_text())["status"] == "interrupted"
    assert main(["status", "--reports-dir", str(tmp_path)]) == 1  # nothing runs any more


def test_report_header_names_the_cgroup_version_once() -> None:
    from hpabench.analysis.report.run_page import _cgroup_label

    assert [_cgroup_label(v) for v in ("v1", "v2", "none", 2, None)] == ["v1", "v2", "none", "v2", "?"]
