"""Spec loading: every error names the file, the field path and the problem, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from hpabench.errors import EXIT_INVALID_INPUT, SpecError, SpecIssue
from hpabench.specio import StrictModel, load_model, read_yaml


class Inner(StrictModel):
    duration_s: float = Field(gt=0)


class Outer(StrictModel):
    name: str
    stages: list[Inner]


def test_valid_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("name: a\nstages:\n  - duration_s: 3\n")
    model = load_model(Outer, path)
    assert model.name == "a" and model.stages[0].duration_s == 3


def test_all_errors_reported_with_paths(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: a\nstages:\n  - duration_s: -1\n  - duration_s: 2\n    colour: red\nextra: 1\n")
    with pytest.raises(SpecError) as info:
        load_model(Outer, path)
    issues = {(issue.path, issue.message) for issue in info.value.issues}
    assert ("stages.0.duration_s", "Input should be greater than 0") in issues
    assert ("stages.1.colour", "unknown field") in issues
    assert ("extra", "unknown field") in issues
    assert all(issue.file == str(path) for issue in info.value.issues)
    assert info.value.exit_code == EXIT_INVALID_INPUT
    assert str(path) in str(info.value)


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(SpecError) as info:
        read_yaml(path)
    assert "line 2" in info.value.issues[0].path or "line 1" in info.value.issues[0].path
    assert "invalid YAML" in info.value.issues[0].message


def test_missing_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_model(Outer, tmp_path / "nope.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(SpecError, match="is empty"):
        load_model(Outer, empty)


def test_spec_issue_formatting() -> None:
    assert str(SpecIssue("f.yaml", "a.b", "bad")) == "f.yaml: a.b: bad"
    assert str(SpecIssue("f.yaml", "", "bad")) == "f.yaml: bad"
