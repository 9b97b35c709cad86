"""A bring-your-own LoadTestShape is the plan: run to its own end, judged against itself.

The shape (26 s) is longer than the catalogue scenario plus the driver's grace (8 s + 15 s), so
a run that still followed the scenario would be cut short with `driver_timeout`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from hpabench.rundir import read_events
from hpabench.stack import leftovers, read_stack

from .test_local_support import processes_using

pytestmark = pytest.mark.integration

SHAPE = Path(__file__).resolve().parent / "data" / "stages_shape.py"
TINY = """name: tiny
description: "eight seconds"
stages:
  - {name: a, duration_s: 4, users: 3}
  - {name: b, duration_s: 4, users: 6}
"""


def test_own_shape_longer_than_the_scenario_runs_to_its_end(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    reports = tmp_path / "reports"
    command = [
        sys.executable, "-m", "hpabench", "run", "--scenario", str(scenario), "--no-autoscale",
        "--scrape-interval-s", "1", "--reports-dir", str(reports), "--locustfile", str(SHAPE),
    ]  # fmt: skip
    refused = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 2 and "--max-duration" in refused.stderr
    assert not reports.exists() or not any(reports.iterdir())

    done = subprocess.run([*command, "--max-duration", "90"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = [p for p in reports.iterdir() if p.is_dir()]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["scenario"]["name"] == "StagesShape (stages_shape.py)"
    assert manifest["load_plan"]["shape"] == "StagesShape" and manifest["load_plan"]["ends"] is True
    assert "driver_timeout" not in manifest["flags"] and "max_duration_reached" not in manifest["flags"]
    load_s = manifest["load_ended_at"] - manifest["load_started_at"]
    assert 25.0 <= load_s < 40.0, load_s  # the shape's own end (26 s), not scenario + grace (23 s)
    planned = pd.read_parquet(run / "data" / "planned.parquet")
    assert planned["t_s"].max() == 25.0 and set(planned["stage"]) == {"stage-1", "stage-2", "stage-3"}
    assert planned.loc[planned["t_s"] == 15.0, "users"].item() == 6.0
    summary = json.loads((run / "summary.json").read_text())
    assert [p["name"] for p in summary["phases"]] == ["stage-1", "stage-2", "stage-3"]
    assert summary["kpis"]["load_achieved_ratio"]["value"] > 0.8
    stages = [e["name"] for e in read_events(run) if e.get("kind") == "load_stage"]
    assert stages == ["stage-1", "stage-2", "stage-3"]
    assert "StagesShape (stages_shape.py)" in (run / "report.html").read_text()
    record = read_stack(run)
    assert record is not None and leftovers(record) == [] and processes_using(reports) == []
