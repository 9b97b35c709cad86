"""The plan compiled once: run seconds, one per-second sampling for planned and load data, plain JSON."""

from __future__ import annotations

import json
import math

import pytest

from hpabench.scenarios.catalogue import load_scenario
from hpabench.scenarios.plan import SAMPLE_OFFSET_S, Plan, compile_plan
from hpabench.scenarios.shapes import segments


@pytest.mark.parametrize("name", ["spike", "diurnal", "replay", "ramp"])
def test_the_compiled_plan_is_the_scenario_in_run_seconds(name: str) -> None:
    scenario = load_scenario(name)
    plan = compile_plan(scenario, time_scale=0.25)
    assert plan.duration_s == pytest.approx(segments(scenario)[-1].end_s * 0.25)
    unscaled = compile_plan(scenario, 1.0)
    for t_s in (0.0, 3.3, plan.duration_s / 2, plan.duration_s - 0.01):
        assert plan.target_at(t_s) == unscaled.target_at(t_s / 0.25)
    assert plan.target_at(plan.duration_s) is None


def test_per_second_samples_the_middle_of_each_second() -> None:
    plan = compile_plan(load_scenario("spike"), time_scale=0.15)
    frame = plan.per_second()
    assert list(frame["t_s"]) == [float(k) for k in range(len(frame))]
    assert len(frame) == math.ceil(plan.duration_s - SAMPLE_OFFSET_S)  # every second whose middle is planned
    for k in (0, 5, len(frame) - 1):
        target = plan.target_at(k + SAMPLE_OFFSET_S)
        assert target is not None and frame["stage"][k] == target.stage
        assert frame["users"][k] == target.users


def test_plain_json_round_trip_without_the_scenario() -> None:
    plan = compile_plan(load_scenario("replay"), time_scale=0.5)
    again = Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert again == plan and again.pool_users == plan.pool_users > 0
