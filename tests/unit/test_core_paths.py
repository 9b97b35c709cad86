"""Every path a run uses is absolute from the boundary on (servers run in folders of their own)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hpabench.pipeline import RunOptions
from hpabench.rundir import RunDir


def test_run_options_make_paths_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    options = RunOptions(scenario="spike", variant=Path("v.yaml"), locustfile=Path("l.py"))
    assert options.reports_dir == tmp_path / "reports"
    assert options.variant == tmp_path / "v.yaml" and options.locustfile == tmp_path / "l.py"


def test_run_directory_is_absolute_and_stays_so_after_a_chdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = RunDir.create(Path("reports"), "spike")
    try:
        assert run.path.is_absolute() and run.data.is_absolute() and run.rendered.is_absolute()
        os.chdir("/")
        run.events.emit("stage", stage="x")
        assert (tmp_path / "reports" / run.run_id / "events.jsonl").is_file()
    finally:
        run.close()


def test_command_line_values_are_checked(tmp_path: Path) -> None:
    bad = RunOptions(scenario="spike", time_scale=float("nan"), workers=65, scrape_interval_s=0.0)
    named = {(issue.file, issue.path) for issue in bad.issues()}
    assert named == {("command line", "--time-scale"), ("command line", "--workers"),
                     ("command line", "--scrape-interval-s")}  # fmt: skip
    assert RunOptions(scenario="spike", reports_dir=tmp_path).issues() == []
