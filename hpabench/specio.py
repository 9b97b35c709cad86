"""Loading YAML input files into strict pydantic models, with every error reported at once.

Contract: `load_model(Model, path)` returns a validated model or raises `SpecError` whose issues
name the file, the dotted field path and the problem; it never lets a pydantic or YAML traceback
reach the user. Models should set `model_config = ConfigDict(extra="forbid")` so unknown keys are
rejected (use `StrictModel` below).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from hpabench.errors import SpecError, SpecIssue

ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every spec model: unknown keys rejected, instances immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_yaml(path: str | Path) -> Any:
    """Parse one YAML document from `path`; a syntax error becomes a SpecError with line/column."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(SpecIssue(file, "", "file not found")) from None
    except OSError as exc:
        raise SpecError(SpecIssue(file, "", f"cannot be read: {exc.strerror}")) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(SpecIssue(file, where, f"invalid YAML: {problem}")) from None


def issues_from_validation(error: ValidationError, file: str, prefix: str = "") -> list[SpecIssue]:
    """Translate a pydantic ValidationError into SpecIssues with dotted paths."""
    issues = []
    for detail in error.errors(include_url=False):
        parts = [prefix] if prefix else []
        parts += [str(part) for part in detail["loc"]]
        message = detail["msg"]
        if detail["type"] == "extra_forbidden":
            message = "unknown field"
        issues.append(SpecIssue(file, ".".join(parts), message))
    return issues


def validate_data(model: type[ModelT], data: Any, file: str, prefix: str = "") -> ModelT:
    """Validate already-parsed data against `model`; errors name `file` and the field path."""
    if data is None:
        raise SpecError(SpecIssue(file, prefix, "is empty"))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SpecError(issues_from_validation(exc, file, prefix)) from None


def load_model(model: type[ModelT], path: str | Path) -> ModelT:
    """Read YAML from `path` and validate it against `model` (see module docstring)."""
    return validate_data(model, read_yaml(path), str(path))
