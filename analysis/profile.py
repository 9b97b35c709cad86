"""The declarative metric profile: a YAML list of named PromQL range queries (kube-burner style).

File format (see `profiles/default.yaml`):

```yaml
version: 1
variables: {namespace: hpabench, window: 15s}   # $name placeholders in queries
queries:
  - name: pod_rps            # [a-z][a-z0-9_]*, unique; becomes data/prom/pod_rps.parquet
    unit: req/s              # free text, shown in reports
    description: ...         # optional
    query: sum by (pod) (rate(http_requests_total{namespace="$namespace"}[$window]))
```

`load_profile(path)` validates strictly (unknown keys, duplicate names, placeholders without a
variable — every problem at once, with file and field path) and raises `SpecError`.
`render_queries(profile, overrides)` substitutes the variables (`$$` is a literal `$`).
`promql_issues(profile, overrides, file)` parses every substituted query as PromQL: `run` calls
it before anything starts (collection itself records a refused query and goes on).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, field_validator

from hpabench.errors import SpecError, SpecIssue
from hpabench.promqlcheck import promql_problem
from hpabench.specio import FormatVersion1, StrictModel, read_yaml, validate_data

DEFAULT_PROFILE = Path(__file__).with_name("profiles") / "default.yaml"
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class MetricQuery(StrictModel):
    """One named range query. `unit` names the unit of `value` in the collected frame."""

    name: str = Field(pattern=NAME_PATTERN)
    query: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    description: str = ""


class MetricProfile(StrictModel):
    """A validated profile. `variables` values are strings after validation."""

    version: FormatVersion1 = 1
    variables: dict[str, str] = Field(default_factory=dict)
    queries: list[MetricQuery] = Field(min_length=1)

    @field_validator("variables", mode="before")
    @classmethod
    def _stringify(cls, value: object) -> object:
        # `window: 15` or `threshold: 0.5` are natural in YAML; PromQL wants their text.
        if isinstance(value, dict):
            return {
                k: str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for k, v in value.items()
            }
        return value

    def names(self) -> list[str]:
        return [q.name for q in self.queries]


def placeholders(query: str) -> set[str]:
    """The `$name` / `${name}` placeholders used in `query`."""
    return set(string.Template(query).get_identifiers())


def _check(profile: MetricProfile, file: str) -> list[SpecIssue]:
    issues = []
    seen: dict[str, int] = {}
    for index, query in enumerate(profile.queries):
        if query.name in seen:
            issues.append(
                SpecIssue(
                    file, f"queries.{index}.name", f"duplicate name {query.name!r} (also queries.{seen[query.name]})"
                )
            )
        seen.setdefault(query.name, index)
        template = string.Template(query.query)
        if not template.is_valid():
            issues.append(SpecIssue(file, f"queries.{index}.query", "invalid placeholder (use $name, ${name} or $$)"))
            continue
        missing = sorted(placeholders(query.query) - set(profile.variables))
        if missing:
            known = ", ".join(sorted(profile.variables)) or "none"
            issues.append(
                SpecIssue(
                    file,
                    f"queries.{index}.query",
                    f"unknown placeholder(s) {', '.join('$' + m for m in missing)} (variables: {known})",
                )
            )
    for name in profile.variables:
        if not name.isidentifier():
            issues.append(SpecIssue(file, f"variables.{name}", "variable names must be identifiers"))
    return issues


def promql_issues(profile: MetricProfile, overrides: Mapping[str, str], file: str) -> list[SpecIssue]:
    """Every query of `profile` that is not valid PromQL once its placeholders are substituted."""
    values = {**profile.variables, **{k: str(v) for k, v in overrides.items()}}
    issues = []
    for index, query in enumerate(profile.queries):
        try:
            text = string.Template(query.query).substitute(values)
        except (KeyError, ValueError) as exc:
            issues.append(SpecIssue(file, f"queries.{index}.query", f"cannot substitute: {exc}"))
            continue
        problem = promql_problem(text)
        if problem:
            issues.append(SpecIssue(file, f"queries.{index}.query", problem))
    return issues


def load_profile(path: Path | None = None) -> MetricProfile:
    """Load and validate the profile at `path` (None: the shipped default). Raises SpecError."""
    file = Path(path) if path is not None else DEFAULT_PROFILE
    profile = validate_data(MetricProfile, read_yaml(file), str(file))
    issues = _check(profile, str(file))
    if issues:
        raise SpecError(issues, headline="invalid metric profile")
    return profile


def render_queries(profile: MetricProfile, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """name → PromQL with every placeholder substituted (`overrides` win over the profile's
    variables). Raises SpecError if an override introduces no value for a placeholder."""
    values = {**profile.variables, **{k: str(v) for k, v in (overrides or {}).items()}}
    rendered = {}
    for index, query in enumerate(profile.queries):
        try:
            rendered[query.name] = string.Template(query.query).substitute(values)
        except (KeyError, ValueError) as exc:
            raise SpecError(
                SpecIssue("metric profile", f"queries.{index}.query", f"cannot substitute: {exc}")
            ) from None
    return rendered


def query_units(profile: MetricProfile) -> dict[str, str]:
    """name → unit, for reports."""
    return {q.name: q.unit for q in profile.queries}
