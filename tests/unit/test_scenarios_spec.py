"""Scenario validation: file + field path for every error, unknown keys, unknown names, traces."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpabench.errors import EXIT_INVALID_INPUT, SpecError
from hpabench.scenarios.catalogue import CATALOGUE_DIR, list_scenarios, load_scenario
from hpabench.scenarios.shapes import format_planned_table, planned_curve
from hpabench.scenarios.spec import Replay, Scenario
from hpabench.scenarios.traces import parse_trace

REQUIRED = {"steady", "ramp", "step", "spike", "soak", "diurnal", "sawtooth", "flash-crowd", "replay"}


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def issues_of(path: Path) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        load_scenario(path)
    assert info.value.exit_code == EXIT_INVALID_INPUT
    assert all(issue.file == str(path) for issue in info.value.issues)
    return {issue.path: issue.message for issue in info.value.issues}


def test_catalogue_has_the_required_scenarios_with_one_line_descriptions() -> None:
    rows = dict(list_scenarios())
    assert set(rows) >= REQUIRED
    for name, description in rows.items():
        assert description and "\n" not in description and len(description) <= 200, name
        assert load_scenario(name).name == name


def test_unknown_scenario_lists_the_available_ones() -> None:
    with pytest.raises(SpecError) as info:
        load_scenario("spikey")
    message = str(info.value)
    assert "unknown scenario" in message and "spikey" in message
    for name in REQUIRED:
        assert name in message
    assert info.value.exit_code == EXIT_INVALID_INPUT


def test_user_yaml_by_path(tmp_path: Path) -> None:
    path = write(tmp_path, "name: mine\ndescription: d\nstages:\n  - {name: a, duration_s: 3, users: 2}\n")
    assert load_scenario(path).stages[0].users == 2
    assert load_scenario(str(path)).name == "mine"


def test_every_error_reported_at_once_with_field_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
name: bad
description: d
colour: red
stages:
  - {name: a, duration_s: -1, users: 5}
  - {name: b, duration_s: 10, users: 5, rps: 3}
  - {name: c, duration_s: 10, users: 5, ramp_s: 3}
  - {name: d, duration_s: 10, rps: 5, transition: cubic}
  - {name: e, duration_s: 10, rps: 5, spawn: 3}
mix:
  cpu: {weight: 1, cost: -5}
  tea: {weight: 1}
think_time: {distribution: gaussian}
arrivals: {min_users: 10, max_users: 5}
""",
    )
    issues = issues_of(path)
    assert issues["colour"] == "unknown field"
    assert issues["stages.0.duration_s"] == "Input should be greater than 0"
    assert "exactly one of `users`" in issues["stages.1"]
    assert "ramp_s" in issues["stages.2"]
    assert "stages.3.transition" in issues
    assert issues["stages.4.spawn"] == "unknown field"
    assert "mix.cpu.cost" in issues
    assert issues["mix.tea"] == "unknown field"
    assert "think_time.distribution" in issues
    assert "min_users" in issues["arrivals"]


def test_stages_or_shape_and_unique_names(tmp_path: Path) -> None:
    neither = write(tmp_path, "name: n\ndescription: d\n", "neither.yaml")
    assert "either `stages`" in issues_of(neither)[""]
    dup = write(
        tmp_path,
        "name: n\ndescription: d\nwarmup: {duration_s: 1, users: 1}\nstages:\n"
        "  - {name: warmup, duration_s: 1, users: 1}\n  - {name: a, duration_s: 1, users: 1}\n"
        "  - {name: a, duration_s: 1, users: 1}\n",
        "dup.yaml",
    )
    message = issues_of(dup)[""]
    assert "unique" in message and "a" in message and "warmup" in message


def test_shape_parameters_are_typed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name: n\ndescription: d\nshape: {kind: diurnal, low: 50, high: 10, period_s: 0, wobble: 1}\n",
    )
    issues = issues_of(path)
    assert "shape.diurnal.period_s" in issues
    assert issues["shape.diurnal.wobble"] == "unknown field"
    unknown_kind = write(tmp_path, "name: n\ndescription: d\nshape: {kind: square}\n", "k.yaml")
    assert any(key.startswith("shape") for key in issues_of(unknown_kind))


def test_band_high_below_low_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "name: n\ndescription: d\nshape: {kind: sawtooth, low: 50, high: 10, period_s: 5}\n")
    assert "below `low`" in issues_of(path)["shape.sawtooth"]


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "name: [unclosed\n")
    issues = issues_of(path)
    assert any(key.startswith("line ") for key in issues)


def test_replay_trace_is_read_relative_to_the_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("# comment\nminute,rps\n0,5\n1,7.5\n\n2,10\n")
    path = write(tmp_path, "name: r\ndescription: d\nshape: {kind: replay, trace: t.csv, interval_s: 2}\n")
    scenario = load_scenario(path)
    assert isinstance(scenario.shape, Replay)
    assert scenario.shape.rates_rps == [5, 7.5, 10]
    # self-contained: the resolved spec validates again without the file
    again = Scenario.model_validate(scenario.model_dump(mode="json"))
    assert planned_curve(again)["rps"].tolist() == planned_curve(scenario)["rps"].tolist()


def test_replay_shipped_trace_found_by_bare_name() -> None:
    scenario = load_scenario("replay")
    assert isinstance(scenario.shape, Replay) and scenario.shape.rates_rps
    assert (CATALOGUE_DIR.parent / "traces" / "morning-rush.csv").exists()


def test_replay_trace_errors_name_the_csv_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("minute,rps\n0,5\n1,lots\n2,-3\n3\n")
    path = write(tmp_path, "name: r\ndescription: d\nshape: {kind: replay, trace: bad.csv}\n")
    with pytest.raises(SpecError) as info:
        load_scenario(path)
    issues = {(issue.file, issue.path) for issue in info.value.issues}
    csv = str(tmp_path / "bad.csv")
    assert {(csv, "line 3"), (csv, "line 4"), (csv, "line 5")} <= issues
    missing = write(tmp_path, "name: r\ndescription: d\nshape: {kind: replay, trace: nope.csv}\n", "m.yaml")
    with pytest.raises(SpecError, match="trace file not found"):
        load_scenario(missing)


def test_parse_trace_header_checks() -> None:
    with pytest.raises(SpecError, match="no 'rps' column"):
        parse_trace("minute,rate\n0,1\n", "x.csv")
    with pytest.raises(SpecError, match="no rows"):
        parse_trace("rps\n", "x.csv")
    with pytest.raises(SpecError, match="empty"):
        parse_trace("# only a comment\n", "x.csv")
    assert parse_trace("rps\n1\n2\n", "x.csv") == [1.0, 2.0]


def test_replay_needs_trace_or_rates(tmp_path: Path) -> None:
    path = write(tmp_path, "name: r\ndescription: d\nshape: {kind: replay}\n")
    assert "`trace`" in issues_of(path)["shape.replay"]


def test_catalogue_file_name_must_match_scenario_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hpabench.scenarios import catalogue

    write(tmp_path, "name: other\ndescription: d\nstages:\n  - {name: a, duration_s: 1, users: 1}\n", "x.yaml")
    monkeypatch.setattr(catalogue, "CATALOGUE_DIR", tmp_path)
    with pytest.raises(SpecError, match="must be 'x'"):
        load_scenario("x")


def test_format_planned_table_rejects_bad_cli_values() -> None:
    with pytest.raises(SpecError) as info:
        format_planned_table(load_scenario("steady"), time_scale=0, step_s=-1)
    assert {issue.path for issue in info.value.issues} == {"--time-scale", "--step-s"}


def test_scenario_model_is_strict_and_frozen() -> None:
    scenario = load_scenario("spike")
    with pytest.raises(Exception, match="frozen"):
        scenario.name = "x"  # type: ignore[misc]
    assert scenario.uses_open_model is False
    assert load_scenario("flash-crowd").uses_open_model is True
    assert load_scenario("replay").uses_open_model is True
