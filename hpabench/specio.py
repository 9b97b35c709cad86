"""Loading YAML input files into strict pydantic models, with every error reported at once.

Contract: `load_model(Model, path)` returns a validated model or raises `SpecError` whose issues
name the file, the dotted field path and the problem; it never lets a pydantic or YAML traceback
reach the user. Models should derive from `StrictModel` below: unknown keys rejected, strict
scalar types (a YAML `true` is not the number 1, `"3"` is not 3) and finite numbers only.

Files are read through `hpabench.inputfile` (regular files only, size-limited, UTF-8 with the byte
offset of a bad byte) and parsed by `hpabench.yamlstrict` (duplicate keys, `!!binary`, deep
nesting and alias bombs refused). `validate_data` also names every infinite or NaN number with
its field path, even in free-form fields (`patches.0.value`) no model constrains.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError

from hpabench.errors import SpecError, SpecIssue
from hpabench.inputfile import MAX_SPEC_BYTES, read_input_text
from hpabench.yamlstrict import parse_yaml

ModelT = TypeVar("ModelT", bound=BaseModel)
_NUMBER_TYPES = ("int_type", "float_type", "int_parsing", "float_parsing")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line_text(value: str) -> str:
    """`value` unchanged if it is one line of printable text (names, descriptions); else ValueError."""
    if _CONTROL.search(value):
        raise ValueError("must be one line of printable text (no control characters)")
    return value


OneLineText = Annotated[str, AfterValidator(one_line_text)]


def _not_bool(value: Any) -> Any:
    # Literal[1] compares by equality, and True == 1: a YAML `version: true` must not pass.
    if isinstance(value, bool):
        raise ValueError(f"must be the number 1, not the boolean {str(value).lower()}")
    return value


FormatVersion1 = Annotated[Literal[1], BeforeValidator(_not_bool)]
"""The `version: 1` field of a versioned file format."""


class StrictModel(BaseModel):
    """Base for every spec model: unknown keys rejected, strict types, finite numbers, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def read_yaml(path: str | Path, *, what: str = "file", max_bytes: int = MAX_SPEC_BYTES) -> Any:
    """Parse one YAML document from the regular file `path`; any problem is a SpecError."""
    return parse_yaml(read_input_text(path, what=what, max_bytes=max_bytes), str(path))


def nonfinite_paths(data: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every float in `data` that is infinite or NaN (iterative, any depth)."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [(prefix, data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            found.append(path)
        elif isinstance(node, dict):
            stack.extend((f"{path}.{key}" if path else str(key), value) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((f"{path}.{index}" if path else str(index), value) for index, value in enumerate(node))
    return sorted(found)


def issues_from_validation(error: ValidationError, file: str, prefix: str = "") -> list[SpecIssue]:
    """Translate a pydantic ValidationError into SpecIssues with dotted paths."""
    issues = []
    for detail in error.errors(include_url=False):
        parts = [prefix] if prefix else []
        parts += [str(part) for part in detail["loc"]]
        message = detail["msg"]
        if detail["type"] == "extra_forbidden":
            message = "unknown field"
        elif isinstance(detail.get("input"), bool) and detail["type"] in _NUMBER_TYPES:
            # strict mode: YAML `true`/`false` are not the numbers 1 and 0
            message += f", not the boolean {str(detail['input']).lower()}"
        issues.append(SpecIssue(file, ".".join(parts), message))
    return issues


def validate_data(model: type[ModelT], data: Any, file: str, prefix: str = "") -> ModelT:
    """Validate already-parsed data against `model`; errors name `file` and the field path."""
    if data is None:
        raise SpecError(SpecIssue(file, prefix, "is empty"))
    bad_numbers = nonfinite_paths(data, prefix)
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        issues = [i for i in issues_from_validation(exc, file, prefix) if i.path not in bad_numbers]
        issues += [SpecIssue(file, path, "must be a finite number (not .inf or .nan)") for path in bad_numbers]
        raise SpecError(issues) from None
    if bad_numbers:
        raise SpecError([SpecIssue(file, path, "must be a finite number (not .inf or .nan)") for path in bad_numbers])
    return validated


def load_model(model: type[ModelT], path: str | Path) -> ModelT:
    """Read YAML from `path` and validate it against `model` (see module docstring)."""
    return validate_data(model, read_yaml(path), str(path))
