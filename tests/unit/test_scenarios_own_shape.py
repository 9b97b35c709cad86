"""Probing a locustfile's own LoadTestShape (a subprocess with Locust) and using its plan."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from hpabench.scenarios.drive.own_shape import apply_to_load, planned_frame, probe_locustfile, spans, stage_at

RAMP = """
from locust import HttpUser, LoadTestShape, task

class U(HttpUser):
    @task
    def t(self):
        pass

class Ramp(LoadTestShape):
    def tick(self):
        t = self.get_run_time()
        return (int(t) + 1, 5) if t < 5 else None
"""


def test_a_shape_without_stages_is_one_stage_until_it_ends(tmp_path: Path) -> None:
    file = tmp_path / "ramp.py"
    file.write_text(RAMP)
    plan = probe_locustfile(file, 60.0)
    assert plan is not None and plan.shape == "Ramp" and plan.ends
    assert plan.duration_s == 5.0
    assert [r["users"] for r in plan.rows] == [1, 2, 3, 4, 5]
    assert [(s.name, s.start_s, s.end_s, s.peak) for s in spans(plan)] == [("Ramp", 0.0, 5.0, 5.0)]
    assert stage_at(plan, 2.5) == ("Ramp", 3) and stage_at(plan, 5.0) is None
    frame = planned_frame(plan)
    assert list(frame.columns) == ["t_s", "stage", "users", "rps"] and frame["rps"].isna().all()

    load = pd.DataFrame(
        {"ts": [100.0, 101.0, 105.0], "stage": ["x"] * 3, "planned_users": [9.0] * 3, "planned_rps": [1.0] * 3}
    )
    load.to_parquet(tmp_path / "load.parquet", index=False)
    apply_to_load(tmp_path, plan, t0=100.0)
    fixed = pd.read_parquet(tmp_path / "load.parquet")
    assert fixed["planned_users"].tolist()[:2] == [1.0, 2.0] and math.isnan(fixed["planned_users"].iloc[2])
    assert fixed["stage"].tolist() == ["Ramp", "Ramp", "after-shape"]


def test_a_locustfile_without_a_shape_has_no_plan(tmp_path: Path) -> None:
    file = tmp_path / "users.py"
    file.write_text(RAMP.split("class Ramp")[0])
    assert probe_locustfile(file, 60.0) is None


def test_a_shape_that_never_ends_is_bounded(tmp_path: Path) -> None:
    file = tmp_path / "forever.py"
    file.write_text(RAMP.replace("if t < 5 else None", "if True else None"))
    plan = probe_locustfile(file, 12.0)
    assert plan is not None and not plan.ends and plan.duration_s == 12.0
