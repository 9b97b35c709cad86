"""A target may bring its own load driver (the k8s target's in-cluster Locust): the pipeline uses it,
and a run it marks `load_invalid` ends with its own exit code and is a harness fault for the gate."""

from __future__ import annotations

import io
from pathlib import Path

from hpabench.analysis.faults import harness_faults
from hpabench.console import Console
from hpabench.errors import EXIT_LOAD_INVALID
from hpabench.pipeline import RunOptions, run_benchmark
from tests.support.fakes import Calls, FakeCollector, FakeDriver, FakeReporter, FakeTarget


def _run(tmp_path: Path, flags: list[str]):
    calls = Calls()
    target = FakeTarget(calls)
    own = FakeDriver(calls, flags=flags)
    target.deployed.load_driver = own  # type: ignore[attr-defined]
    opts = RunOptions(scenario="spike", time_scale=0.1, reports_dir=tmp_path / "reports", scrape_interval_s=0.5)
    outcome = run_benchmark(
        opts, Console(io.StringIO()), target_factory=target.factory, reporter=FakeReporter(calls),
        collector=FakeCollector(calls),
    )  # fmt: skip
    return outcome, own, calls


def test_the_deployed_handles_driver_runs_the_load(tmp_path: Path) -> None:
    outcome, own, calls = _run(tmp_path, [])
    assert own.config is not None and "drive" in calls.names()
    assert (outcome.status, outcome.exit_code) == ("completed", 0)


def test_an_invalid_load_has_its_own_exit_code_and_is_not_judged(tmp_path: Path) -> None:
    outcome, _, _ = _run(tmp_path, ["load_invalid"])
    assert outcome.status == "completed" and outcome.exit_code == EXIT_LOAD_INVALID == 4
    assert "load_invalid" in outcome.flags
    assert harness_faults(outcome.flags) == ["load_invalid"]
