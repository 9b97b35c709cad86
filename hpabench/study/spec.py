"""The study spec (`scenarios/studies/*.yaml`): validated data, every problem reported at once.

```yaml
name: tuning-review
scenarios: [spike]
variants: [baseline, cpu-limit-tight, {name: wide, variant: hpa-target-50, set: [hpa.max_replicas=6]}]
repetitions: 3
time_scale: 0.5
seed: 7                          # run order and HPA sync phases; recorded in the study state
slo: {p95_ms: 500, error_rate: 0.01}
hard_bounds: {p95_ms: 5000, error_rate: 0.2}   # a run beyond one is a failed trial (kept as data)
run_time_limit_s: 900            # per run; default: 3 x the planned load + 240 s
cooldown_s: 10                   # pause between runs (each run redeploys from its start replicas)
primary_kpi: p95_ms
cost_kpi: replica_seconds
sync_phase: {mode: seeded, hold_across_variants: true}
controller: {sync_period_s: 5}   # HPA controller settings for every run (compressed runs)
```
Variant entries are catalogue names, paths (relative to the study file, then the working
directory), or `{name, variant, set}` for an override of a shipped variant. The baseline
(`baseline:`, default `baseline`) is always included, first. `resolve_study(path)` also loads and
renders every variant, so a broken variant stops the study before its first run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from hpabench.errors import SpecError, SpecIssue
from hpabench.specio import StrictModel, load_model

STUDIES_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "studies"
RUN_OVERHEAD_S = 240.0  # deploy, warm-up, collection, teardown and analysis of one local run


class VariantEntry(StrictModel):
    name: str = Field(min_length=1, max_length=63)
    variant: str | None = None  # catalogue name or path (default: `name`)
    set: list[str] = Field(default_factory=list)


class Bounds(StrictModel):
    """Hard bounds on a run's whole-run KPIs; beyond one the run is a failed trial."""

    p95_ms: float | None = Field(default=None, gt=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    slo_violation_pct: float | None = Field(default=None, ge=0, le=100)


class StudySlo(StrictModel):
    p95_ms: float | None = Field(default=None, gt=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)


class SyncPhase(StrictModel):
    """`seeded`: each run's HPA sync grid is placed at a seeded phase of the sync period relative
    to the load start (held equal across the variants of one repetition when
    `hold_across_variants`); `free`: wherever it falls (still measured and recorded)."""

    mode: Literal["seeded", "free"] = "seeded"
    hold_across_variants: bool = True


class KnobRange(StrictModel):
    """One knob of the search: `low`..`high` (integers → int, else float; optional `step`), or
    `choices` (any YAML values, e.g. quantities "300m", "1")."""

    low: float | None = None
    high: float | None = None
    step: float | None = Field(default=None, gt=0)
    choices: list[str | int | float | bool] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> KnobRange:
        if self.choices is not None:
            if self.low is not None or self.high is not None or not self.choices:
                raise ValueError("give either choices (non-empty) or low/high, not both")
        elif self.low is None or self.high is None or self.low >= self.high:
            raise ValueError("needs low < high, or choices")
        return self

    @property
    def integer(self) -> bool:
        values = [self.low, self.high, self.step]
        return all(v is None or float(v).is_integer() for v in values)


class SearchSpace(StrictModel):
    """`--search optuna`: proposals start from `variant` and set `knobs` (variant knob paths, as
    for --set); the baseline runs first and again after every `baseline_every` proposals."""

    variant: str = "baseline"
    scenario: str | None = None  # default: the study's first scenario
    knobs: dict[str, KnobRange] = Field(min_length=1)
    baseline_every: int = Field(default=4, ge=1, le=100)


class StudySpec(StrictModel):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    description: str = ""
    scenarios: list[str] = Field(min_length=1)
    variants: list[str | VariantEntry] = Field(min_length=1)
    baseline: str = "baseline"
    repetitions: int = Field(default=3, ge=1, le=100)
    time_scale: float = Field(default=1.0, ge=0.01, le=100)
    seed: int = Field(default=0, ge=0)
    slo: StudySlo | None = None
    hard_bounds: Bounds = Field(default_factory=Bounds)
    run_time_limit_s: float | None = Field(default=None, gt=0)
    cooldown_s: float = Field(default=5.0, ge=0, le=3600)
    primary_kpi: str = "p95_ms"
    cost_kpi: str = "replica_seconds"
    sync_phase: SyncPhase = Field(default_factory=SyncPhase)
    target: str = "local"
    # Controller settings for every run (e.g. a short sync period for compressed runs); HpaSettings names.
    controller: dict[str, float] = Field(default_factory=dict)
    scrape_interval_s: float = Field(default=5.0, ge=0.5, le=60)
    search: SearchSpace | None = None

    @field_validator("controller")
    @classmethod
    def _known_controller_settings(cls, value: dict[str, float]) -> dict[str, float]:
        from hpabench.deploy.hpa.controller_settings import HpaSettings

        unknown = sorted(set(value) - set(HpaSettings.model_fields) - {"custom_metrics"})
        if unknown:
            raise ValueError(f"unknown controller settings {', '.join(unknown)} (see HpaSettings)")
        HpaSettings.model_validate(value)
        return value

    @field_validator("scenarios")
    @classmethod
    def _unique_scenarios(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a scenario twice")
        return value

    @model_validator(mode="after")
    def _unique_variants(self) -> StudySpec:
        names = [entry_name(v) for v in self.variants]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"variants listed twice: {', '.join(duplicates)}")
        return self

    def variant_entries(self) -> list[VariantEntry]:
        """The variants as entries, the baseline first (added when the spec does not list it)."""
        entries = [
            v if isinstance(v, VariantEntry) else VariantEntry(name=Path(v).stem, variant=v) for v in self.variants
        ]
        base = [e for e in entries if e.name == self.baseline]
        rest = [e for e in entries if e.name != self.baseline]
        return (base or [VariantEntry(name=self.baseline)]) + rest


def entry_name(entry: str | VariantEntry) -> str:
    return entry.name if isinstance(entry, VariantEntry) else Path(entry).stem


def study_path(ref: str | Path) -> Path:
    """A study file from a path or a name in `scenarios/studies/`."""
    path = Path(ref)
    if path.is_file():
        return path
    named = STUDIES_DIR / f"{ref}.yaml"
    if named.is_file():
        return named
    known = ", ".join(p.stem for p in sorted(STUDIES_DIR.glob("*.yaml")))
    raise SpecError(SpecIssue(str(ref), "", f"no such study file or name in scenarios/studies/ ({known})"))


def load_study(ref: str | Path) -> tuple[StudySpec, Path]:
    """Read and validate a study spec; SpecError names the file and field path of every problem."""
    path = study_path(ref)
    return load_model(StudySpec, path), path
