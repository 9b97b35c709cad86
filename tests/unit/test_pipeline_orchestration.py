"""The pipeline's orchestration with a fake target, driver and reporter (no servers).

Stage order, the honest status and exit code for each kind of failure, teardown on every path
after a deploy, nothing created for refused input, and a second Ctrl-C during teardown.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from hpabench.console import Console
from hpabench.errors import SpecError, SpecIssue
from hpabench.pipeline import RunOptions, RunOutcome, run_benchmark
from hpabench.rundir import read_events
from tests.support.fakes import Calls, FakeCollector, FakeDriver, FakeReporter, FakeTarget


def _run(
    tmp_path: Path, target: FakeTarget, driver: FakeDriver, calls: Calls, **options: Any
) -> tuple[RunOutcome, str]:
    console_out = io.StringIO()
    opts = RunOptions(
        scenario="spike", time_scale=0.1, reports_dir=tmp_path / "reports", scrape_interval_s=0.5, **options
    )
    outcome = run_benchmark(
        opts,
        Console(console_out),
        target_factory=target.factory,
        driver=driver,
        reporter=FakeReporter(calls),
        collector=FakeCollector(calls),
    )
    return outcome, console_out.getvalue()


def _manifest(outcome: RunOutcome) -> dict[str, Any]:
    return json.loads((outcome.run_path / "manifest.json").read_text())


def _stages(outcome: RunOutcome) -> list[str]:
    return [e["stage"] for e in read_events(outcome.run_path) if e["kind"] == "stage" and e["state"] == "started"]


def test_a_completed_run_goes_through_every_stage_in_order(tmp_path: Path) -> None:
    calls = Calls()
    target, driver = FakeTarget(calls), FakeDriver(calls, flags=["generator_saturated"])
    outcome, _ = _run(tmp_path, target, driver, calls)
    assert (outcome.status, outcome.exit_code) == ("completed", 0)
    assert _stages(outcome) == ["render", "deploy", "warmup", "load", "collect", "teardown"]
    assert calls.names() == ["admit", "start", "drive", "collect", "stop", "report"]
    manifest = _manifest(outcome)
    assert manifest["status"] == "completed" and manifest["flags"] == ["generator_saturated"]
    assert manifest["load_started_at"] < manifest["load_ended_at"]
    # The driver was pointed at what the target deployed, and only there.
    assert driver.config.host == target.deployed.service_url
    assert driver.config.allowed_hosts == frozenset(target.deployed.load_hosts)
    assert target.options is not None and target.options.scrape_interval_s == 0.5


def test_refused_input_creates_nothing_and_starts_nothing(tmp_path: Path) -> None:
    calls = Calls()
    target = FakeTarget(calls, issues=[SpecIssue("rendered manifests", "Deployment/web", "no local runtime")])
    with pytest.raises(SpecError) as info:
        _run(tmp_path, target, FakeDriver(calls), calls)
    assert "no local runtime" in str(info.value) and info.value.exit_code == 2
    assert calls.names() == ["admit"]
    assert not (tmp_path / "reports").exists()


def test_a_deploy_failure_is_failed_with_the_reason_on_the_console(tmp_path: Path) -> None:
    calls = Calls()
    outcome, console = _run(tmp_path, FakeTarget(calls, fail_at="start"), FakeDriver(calls), calls)
    assert (outcome.status, outcome.exit_code) == ("failed", 1)
    first_line = "prometheus exited during start-up (exit code 1): bad flag [log: /x/prometheus.log]"
    assert f"run failed: {first_line}\n" in console
    assert _manifest(outcome)["error"].startswith(first_line)
    assert "drive" not in calls.names() and "report" in calls.names()


def test_a_driver_failure_tears_down_and_is_failed(tmp_path: Path) -> None:
    calls = Calls()
    outcome, console = _run(tmp_path, FakeTarget(calls), FakeDriver(calls, outcome="error"), calls)
    assert (outcome.status, outcome.exit_code) == ("failed", 1)
    # What the driver measured before it died is still collected, then everything is torn down.
    assert calls.names() == ["admit", "start", "drive", "collect", "stop", "report"]
    assert "run failed: Locust exited with code 1" in console


@pytest.mark.parametrize("where", ["start-interrupt", "driver"])
def test_ctrl_c_is_interrupted_with_teardown_and_a_report(tmp_path: Path, where: str) -> None:
    calls = Calls()
    target = FakeTarget(calls, fail_at="start-interrupt" if where == "start-interrupt" else None)
    driver = FakeDriver(calls, outcome="interrupted")
    outcome, _ = _run(tmp_path, target, driver, calls)
    assert (outcome.status, outcome.exit_code) == ("interrupted", 130)
    assert _manifest(outcome)["status"] == "interrupted"
    assert calls.names()[-1] == "report"  # partial data is still analysed and reported
    if where == "driver":  # what was measured until Ctrl-C is collected before the teardown
        assert calls.names() == ["admit", "start", "drive", "collect", "stop", "report"]


def test_a_second_ctrl_c_during_teardown_still_ends_interrupted(tmp_path: Path) -> None:
    calls = Calls()
    outcome, _ = _run(tmp_path, FakeTarget(calls, fail_stop=True), FakeDriver(calls, outcome="interrupted"), calls)
    assert (outcome.status, outcome.exit_code) == ("interrupted", 130)
    assert calls.names().count("stop") == 1
    assert _manifest(outcome)["finished_at"] > 0


def test_a_completed_run_whose_report_failed_exits_1(tmp_path: Path) -> None:
    calls = Calls()

    def broken_reporter(run_path: Path, console: Any = None) -> Path:
        raise ValueError("no data")

    console_out = io.StringIO()
    opts = RunOptions(scenario="spike", time_scale=0.1, reports_dir=tmp_path / "r", scrape_interval_s=0.5)
    outcome = run_benchmark(
        opts,
        Console(console_out),
        target_factory=FakeTarget(calls).factory,
        driver=FakeDriver(calls),
        reporter=broken_reporter,
        collector=FakeCollector(calls),
    )
    assert (outcome.status, outcome.exit_code) == ("completed", 1)
    assert "analysis/report failed (no data)" in console_out.getvalue()
