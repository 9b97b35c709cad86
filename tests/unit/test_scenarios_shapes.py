"""Every shape's planned curve, from the pure `target_at` (no clock, no Locust)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from hpabench.scenarios.catalogue import list_scenarios, load_scenario
from hpabench.scenarios.shapes import (
    format_planned_table,
    open_pool_users,
    peak_rps,
    planned_curve,
    stage_spans,
    target_at,
    total_duration_s,
)
from hpabench.scenarios.spec import Scenario


def scenario(**fields: Any) -> Scenario:
    return Scenario.model_validate({"name": "t", "description": "test", **fields})


def test_step_stages_hold_their_level_and_switch_at_boundaries() -> None:
    s = scenario(stages=[{"name": "a", "duration_s": 10, "users": 5}, {"name": "b", "duration_s": 20, "users": 50}])
    assert total_duration_s(s) == 30
    assert target_at(s, 0) is not None and target_at(s, 0).users == 5  # type: ignore[union-attr]
    assert target_at(s, 9.999).stage == "a"  # type: ignore[union-attr]
    b = target_at(s, 10.0)
    assert b is not None and (b.stage, b.users, b.rps, b.unit) == ("b", 50, None, "users")
    assert target_at(s, 30.0) is None  # the plan is over
    assert target_at(s, 1e9) is None


def test_linear_ramp_from_previous_level() -> None:
    s = scenario(
        stages=[
            {"name": "low", "duration_s": 10, "users": 10},
            {"name": "up", "duration_s": 20, "users": 110, "transition": "linear", "ramp_s": 10},
        ]
    )
    curve = planned_curve(s, step_s=1.0)
    up = curve[curve["stage"] == "up"].set_index("t_s")["users"]
    assert up[10.0] == 10 and up[15.0] == 60 and up[19.0] == 100
    assert (up.loc[20.0:] == 110).all()  # ramp_s ended: held
    assert np.all(np.diff(up.to_numpy()) >= 0)


def test_linear_first_stage_ramps_from_zero_and_open_model_rps() -> None:
    s = scenario(stages=[{"name": "r", "duration_s": 100, "rps": 200, "transition": "linear"}])
    assert target_at(s, 0).rps == 0  # type: ignore[union-attr]
    assert target_at(s, 50).rps == pytest.approx(100)  # type: ignore[union-attr]
    assert target_at(s, 50).users is None  # type: ignore[union-attr]


def test_time_scale_compresses_time_not_levels() -> None:
    s = scenario(stages=[{"name": "a", "duration_s": 40, "users": 3}, {"name": "b", "duration_s": 40, "users": 30}])
    assert total_duration_s(s, 0.25) == 20
    assert target_at(s, 9.9, time_scale=0.25).users == 3  # type: ignore[union-attr]
    assert target_at(s, 10.0, time_scale=0.25).users == 30  # type: ignore[union-attr]
    full = planned_curve(s, 1.0, step_s=4.0)
    quick = planned_curve(s, 0.25, step_s=1.0)
    assert len(full) == len(quick) == 20
    assert full["users"].tolist() == quick["users"].tolist()
    assert quick["t_s"].iloc[-1] == 19.0
    with pytest.raises(ValueError):
        target_at(s, 1, time_scale=0)


def test_planned_curve_columns_and_nan_for_the_other_model() -> None:
    s = scenario(
        warmup={"duration_s": 5, "users": 2},
        stages=[{"name": "open", "duration_s": 5, "rps": 40.0}],
    )
    curve = planned_curve(s)
    assert list(curve.columns) == ["t_s", "stage", "users", "rps"]
    assert curve["stage"].tolist() == ["warmup"] * 5 + ["open"] * 5
    warm, opened = curve.iloc[0], curve.iloc[7]
    assert warm["users"] == 2 and math.isnan(warm["rps"])
    assert opened["rps"] == 40 and math.isnan(opened["users"])
    assert str(curve["t_s"].dtype) == "float64"


def test_diurnal_is_a_raised_cosine_from_trough_to_peak() -> None:
    s = scenario(shape={"kind": "diurnal", "unit": "rps", "low": 10, "high": 110, "period_s": 100, "cycles": 2})
    assert total_duration_s(s) == 200
    assert target_at(s, 0).rps == pytest.approx(10)  # type: ignore[union-attr]
    assert target_at(s, 25).rps == pytest.approx(60)  # type: ignore[union-attr]
    assert target_at(s, 50).rps == pytest.approx(110)  # type: ignore[union-attr]
    assert target_at(s, 150).rps == pytest.approx(110)  # type: ignore[union-attr]
    assert [span.name for span in stage_spans(s)] == ["day-1", "day-2"]
    curve = planned_curve(s, step_s=1.0)
    # the mean of a raised cosine over whole periods is the midpoint
    assert curve["rps"].mean() == pytest.approx(60, rel=1e-3)


def test_diurnal_in_users_rounds_to_whole_users() -> None:
    s = scenario(shape={"kind": "diurnal", "unit": "users", "low": 1, "high": 4, "period_s": 60})
    values = planned_curve(s)["users"]
    assert set(values) <= {1.0, 2.0, 3.0, 4.0} and values.max() == 4


def test_sawtooth_rises_linearly_and_drops_at_once() -> None:
    s = scenario(shape={"kind": "sawtooth", "unit": "rps", "low": 20, "high": 120, "period_s": 10, "teeth": 3})
    assert total_duration_s(s) == 30
    rps = planned_curve(s)["rps"].tolist()
    assert rps[:10] == pytest.approx([20, 30, 40, 50, 60, 70, 80, 90, 100, 110])
    assert rps[10] == 20  # the drop
    assert rps[10:20] == rps[:10] == rps[20:30]
    assert [span.name for span in stage_spans(s)] == ["tooth-1", "tooth-2", "tooth-3"]


def test_replay_holds_or_interpolates_trace_rows() -> None:
    base = {"kind": "replay", "rates_rps": [10, 30, 20], "interval_s": 10, "scale": 2.0}
    held = scenario(shape={**base, "interpolate": False})
    assert total_duration_s(held) == 30
    rps = planned_curve(held)["rps"].tolist()
    assert rps == [20.0] * 10 + [60.0] * 10 + [40.0] * 10
    smooth = scenario(shape={**base, "interpolate": True})
    assert target_at(smooth, 5).rps == pytest.approx(40)  # halfway from 20 to 60  # type: ignore[union-attr]
    assert target_at(smooth, 25).rps == pytest.approx(40)  # last row held  # type: ignore[union-attr]
    assert {span.name for span in stage_spans(smooth)} == {"replay"}


def test_replay_without_rates_cannot_be_planned() -> None:
    s = scenario(shape={"kind": "replay", "trace": "x.csv"})
    with pytest.raises(ValueError, match="load_scenario"):
        target_at(s, 0)


def test_stage_spans_are_scaled_and_contiguous() -> None:
    s = scenario(
        warmup={"duration_s": 10, "users": 1},
        stages=[{"name": "a", "duration_s": 30, "users": 5}, {"name": "b", "duration_s": 60, "rps": 9}],
    )
    spans = stage_spans(s, time_scale=0.5)
    assert [(x.name, x.start_s, x.end_s, x.unit) for x in spans] == [
        ("warmup", 0, 5, "users"),
        ("a", 5, 20, "users"),
        ("b", 20, 50, "rps"),
    ]


def test_open_pool_is_sized_for_the_peak_rate_within_bounds() -> None:
    stages = [{"name": "a", "duration_s": 5, "rps": 10}, {"name": "b", "duration_s": 5, "rps": 100}]
    s = scenario(stages=stages, arrivals={"concurrency_s": 0.5, "min_users": 2, "max_users": 400})
    assert peak_rps(s) == 100 and open_pool_users(s) == 50
    capped = scenario(stages=stages, arrivals={"concurrency_s": 10, "max_users": 300})
    assert open_pool_users(capped) == 300
    tiny = scenario(stages=[{"name": "a", "duration_s": 5, "rps": 0.1}], arrivals={"min_users": 3})
    assert open_pool_users(tiny) == 3
    closed = scenario(stages=[{"name": "a", "duration_s": 5, "users": 7}])
    assert open_pool_users(closed) == 0 and peak_rps(closed) == 0


@pytest.mark.parametrize("name", [name for name, _ in list_scenarios()])
def test_every_catalogue_scenario_has_a_plannable_curve(name: str) -> None:
    s = load_scenario(name)
    curve = planned_curve(s, time_scale=1.0, step_s=1.0)
    assert len(curve) == math.ceil(total_duration_s(s))
    levels = curve["users"].fillna(curve["rps"])
    assert levels.notna().all() and (levels >= 0).all() and levels.max() > 0
    # each row has exactly one of users / rps
    assert (curve["users"].isna() ^ curve["rps"].isna()).all()
    assert set(curve["stage"]) == {span.name for span in stage_spans(s)}


def test_catalogue_durations_fit_their_use() -> None:
    spike = load_scenario("spike")
    assert 180 <= total_duration_s(spike) <= 300  # a full spike run takes 3-5 minutes
    assert total_duration_s(load_scenario("soak")) >= 1200
    peak = planned_curve(spike)["users"].max()
    base = planned_curve(spike).query("stage == 'baseline'")["users"].max()
    assert peak >= 10 * base
    crowd = planned_curve(load_scenario("flash-crowd"))
    before, during = crowd.query("stage == 'before'")["rps"].max(), crowd.query("stage == 'crowd'")["rps"].min()
    assert during == pytest.approx(10 * before)
    # near-instant: one planned second from the old level to the new one
    jump = crowd["rps"].diff().max()
    assert jump == pytest.approx(during - before)


def test_format_planned_table_lists_rows_and_stages() -> None:
    s = load_scenario("spike")
    text = format_planned_table(s, time_scale=0.25, step_s=5)
    lines = text.splitlines()
    assert lines[0].startswith("spike: ")
    assert "baseline" in lines[1] and "recovery" in lines[1]
    rows = [line for line in lines if line.strip() and line.split()[0].count(":") == 1 and "spike" in line]
    assert rows and all("180" in row for row in rows)
    assert lines[-1].strip().endswith("(end)")
    assert "01:04" in lines[-1]  # 255 s x 0.25 = 63.75 s
