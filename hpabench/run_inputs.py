"""A run's inputs: the options the user gave and their resolution into validated models.

Nothing here starts anything or writes anything: `resolve_inputs` loads the scenario and the
variant, renders the manifests and asks the target to admit them, raising `SpecError` (exit 2)
with every problem at once; `dry_run` is that plus the plan as text. The pipeline
(`hpabench.pipeline`) runs the stages on what this returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpabench import cliinput, preflight
from hpabench.errors import SpecError, SpecIssue
from hpabench.events import admit_events
from hpabench.inputfile import check_output_dir
from hpabench.slo import ResolvedSlo
from hpabench.slo import resolve_slo as resolve_slo_fields
from hpabench.target import Target, TargetFactory, TargetOptions, get_target

DEFAULT_REPORTS_DIR = Path("reports")
MAX_WORKERS = cliinput.MAX_WORKERS
MIN_TIME_SCALE = cliinput.MIN_TIME_SCALE
MAX_TIME_SCALE = cliinput.MAX_TIME_SCALE
MAX_DURATION_S = 86400.0


@dataclass(frozen=True)
class RunOptions:
    """What the user asked for. `time_scale` < 1 compresses the scenario's time, not its load.

    Every path is made absolute here, at the boundary: servers started later run with working
    directories of their own and must never see a path relative to ours.
    """

    scenario: str
    variant: Path | None = None
    target: str = "local"
    time_scale: float = 1.0
    workers: int = 0
    locustfile: Path | None = None
    allow_external_target: bool = False
    reports_dir: Path = DEFAULT_REPORTS_DIR
    autoscale: bool = True
    scrape_interval_s: float = 5.0
    image: str | None = None
    label: str | None = None
    hpa_overrides: dict[str, Any] = field(default_factory=dict)
    # `--set path=value` overrides of the variant's knobs (deploy/variant_layers.py).
    variant_overrides: tuple[str, ...] = ()
    # Studies: place the HPA's sync grid this fraction of a sync period after the load start.
    hpa_sync_phase: float | None = None
    # Settings only one target understands (e.g. the k8s target's context); the target validates them.
    target_settings: dict[str, Any] = field(default_factory=dict)
    # Bound of a run whose --locustfile brings its own LoadTestShape (required then; see own_shape.py).
    max_duration_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "reports_dir", Path(self.reports_dir).absolute())
        for name in ("variant", "locustfile"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value).absolute())

    def issues(self) -> list[SpecIssue]:
        """Problems with the command-line values themselves (exit 2 before anything starts)."""
        found = cliinput.time_scale_issues(self.time_scale)
        found += cliinput.workers_issues(self.workers)
        found += cliinput.scrape_interval_issues(self.scrape_interval_s)
        if self.max_duration_s is not None and not (
            math.isfinite(self.max_duration_s) and 1 <= self.max_duration_s <= MAX_DURATION_S
        ):
            bound = f"must be 1 to {MAX_DURATION_S:g} s, not {self.max_duration_s!r}"
            found.append(SpecIssue("command line", "--max-duration", bound))
        found += check_output_dir(self.reports_dir, "--reports-dir")
        return found


@dataclass
class Resolved:
    """Every input of one run, validated: the scenario and variant models, the rendered objects,
    the HPA settings, the target that admitted them and the scenario's compiled plan."""

    scenario: Any
    variant: Any
    objects: list[dict[str, Any]]
    hpa_settings: Any
    target: Target
    plan: Any = None  # the scenario compiled once for this run (hpabench.scenarios.plan.Plan)


def _target_options(options: RunOptions, hpa_settings: Any) -> TargetOptions:
    return TargetOptions(
        scrape_interval_s=options.scrape_interval_s,
        autoscale=options.autoscale,
        hpa_settings=hpa_settings,
        extra=dict(options.target_settings),
    )


def rate_window_variables(scrape_interval_s: float) -> dict[str, str]:
    """The metric profile's `$window`: rate() needs several scrapes, 15 s at the default 5 s."""
    return {"window": f"{max(15, round(3 * scrape_interval_s))}s"}


def resolve_inputs(options: RunOptions, target_factory: TargetFactory | None = None) -> Resolved:
    """Load and validate every input, including the target's own admission of the rendered
    objects; raises SpecError (exit 2) listing all problems found. Starts nothing."""
    from hpabench.deploy.render import render
    from hpabench.deploy.variant import resolve_variant
    from hpabench.scenarios.catalogue import load_scenario
    from hpabench.scenarios.drive.locustcheck import LocustfileCheck

    # Started first: the locustfile's import runs in a child while everything else is checked.
    locust_check = LocustfileCheck(options.locustfile) if options.locustfile is not None else None
    try:
        factory = target_factory or get_target(options.target)
        # Every input is checked and every problem reported at once, before anything starts.
        issues = options.issues()
        scenario = preflight.collect(issues, load_scenario, options.scenario)
        variant = preflight.collect(
            issues, lambda path: resolve_variant(path, options.variant_overrides), options.variant
        )
        scrape_s = options.scrape_interval_s if not cliinput.scrape_interval_issues(options.scrape_interval_s) else 5.0
        issues += preflight.profile_issues(rate_window_variables(scrape_s))
        if locust_check is not None:
            issues += locust_check.issues()
    finally:
        if locust_check is not None:
            locust_check.close()
    if issues or scenario is None or variant is None:
        raise SpecError(issues, headline="invalid input (nothing was started):")
    objects = render(variant, image=options.image)
    hpa_settings = variant.controller
    if options.hpa_overrides:
        hpa_settings = hpa_settings.model_copy(update=options.hpa_overrides)
    target = factory(_target_options(options, hpa_settings))
    source = str(options.variant) if options.variant else "deploy/manifests"
    issues = preflight.rendered_issues(objects, source)
    issues += target.admit(objects)
    if issues:
        raise SpecError(issues, headline=f"the {target.name} target cannot run the manifests rendered from {source}:")
    event_issues = admit_events(target, list(scenario.events), objects, options.scenario)
    if event_issues:
        raise SpecError(event_issues, headline=f"the {target.name} target cannot perform the scenario's events:")
    from hpabench.scenarios.plan import compile_plan

    return Resolved(scenario, variant, objects, hpa_settings, target, compile_plan(scenario, options.time_scale))


def resolve_slo(scenario: Any, variant: Any) -> ResolvedSlo:
    """The run's SLO (the precedence is written down once, in `hpabench.slo`)."""
    return resolve_slo_fields(scenario.slo, variant.slo)


def shape_plan(options: RunOptions) -> Any:
    """The plan of the --locustfile's own LoadTestShape, or None (scenarios/drive/own_shape.py)."""
    if options.locustfile is None:
        return None
    from hpabench.scenarios.drive.own_shape import admit_shape

    return admit_shape(options.locustfile, options.max_duration_s, options.time_scale, MAX_DURATION_S)


def dry_run(options: RunOptions, target_factory: TargetFactory | None = None) -> str:
    """Every check `run` performs before creating its run directory, then the plan as text;
    raises SpecError (exit 2) like `run` would. Starts nothing, writes nothing."""
    resolved = resolve_inputs(options, target_factory)
    return preflight.describe_plan(options, resolved.scenario, resolved.variant, resolved.objects, options.target)
