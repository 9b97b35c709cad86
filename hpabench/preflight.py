"""Everything `hpabench run` checks before a run directory exists, and the `--dry-run` plan.

Contract:
- `collect(issues, load, *args)` runs one loader and moves its SpecError issues into `issues`
  (returning None), so every input is checked and every problem reported at once.
- `rendered_issues(objects, source)` is what a cluster and the app would refuse in the rendered
  objects: the Kubernetes schema (strict: unknown fields refused), the API server's own rules
  (`deploy/apirules.py`), the cross-object semantics (`deploy/schema_check.py`) and the app's
  configuration parser (`deploy/appcheck.py`).
- `profile_issues(variables)` parses every PromQL query of the metric profile the run will use.
- `describe_plan(...)` is the text `run --dry-run` prints: what would be deployed and driven.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hpabench.errors import SpecError, SpecIssue

# The schema the rendered objects are checked against before any run, whatever the target.
RUN_K8S_VERSION = "1.33"
T = TypeVar("T")


def collect(issues: list[SpecIssue], load: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """`load(*args)`, or None with its SpecError's issues appended to `issues`."""
    try:
        return load(*args, **kwargs)
    except SpecError as exc:
        issues += exc.issues or [SpecIssue("input", "", exc.headline or str(exc))]
        return None


def rendered_issues(objects: list[dict[str, Any]], source: str) -> list[SpecIssue]:
    """What a cluster or the app would refuse in `objects` (see the module docstring)."""
    from hpabench.deploy.appcheck import app_config_issues
    from hpabench.deploy.schema_check import validate_objects

    return validate_objects(objects, RUN_K8S_VERSION, source) + app_config_issues(objects, source)


def profile_issues(variables: dict[str, str]) -> list[SpecIssue]:
    """Every query of the default metric profile that is not valid PromQL with `variables`."""
    from hpabench.analysis.profile import DEFAULT_PROFILE, load_profile, promql_issues

    profile = load_profile()
    return promql_issues(profile, variables, str(DEFAULT_PROFILE))


def describe_plan(options: Any, scenario: Any, variant: Any, objects: list[dict[str, Any]], target: str) -> str:
    """The dry-run summary: inputs as resolved, the plan's stages, the objects to deploy."""
    from hpabench.scenarios.shapes import stage_spans, total_duration_s
    from hpabench.termtext import escape_controls

    total_s = total_duration_s(scenario, options.time_scale)
    lines = [
        f"dry run: every input is valid; nothing was started and no run directory was created under "
        f"{options.reports_dir}",
        f"scenario: {scenario.name} — {scenario.description}",
        f"  {total_s:g} s of load at time scale {options.time_scale:g}; "
        + ", ".join(f"{s.name} {s.start_s:g}-{s.end_s:g} s" for s in stage_spans(scenario, options.time_scale)),
        f"variant: {variant.name} ({variant.source_file})",
        f"target: {target}; workers: {options.workers or 'standalone'}; "
        f"locustfile: {options.locustfile or 'hpabench users'}; scrape every {options.scrape_interval_s:g} s",
        f"objects ({len(objects)}): " + ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in objects),
    ]
    return escape_controls("\n".join(lines))
