"""Is this a run directory, and which of its files are damaged? Checked before any analysis.

Contract:
- `check_run_dir(path)` raises `SpecError` (exit 2) when `path` is not a run directory hpabench
  can read at all: missing, not a directory, no `manifest.json`, or a manifest that is not a
  regular UTF-8 JSON object with the contract's types (`load_started_at` a finite number or
  null, `status` one of the statuses, ...). Nothing is written.
- Otherwise it returns a `RunCheck` whose `damage` lists, file by file, what the analysis would
  have to tolerate: a missing `data/`, a parquet file that does not open, an `events.jsonl` or
  data jsonl that is not UTF-8 or has lines that are not JSON objects (a torn *last* line is a
  crash mid-write, not damage), an unreadable or wrong-typed `summary.json`. Callers say it on
  the console (`report`, `compare`) or refuse to judge the run (`gate`, `baseline`).
- `summary_issues(summary, file)`: every way a summary breaks the contract's types (a KPI whose
  `value` is `"fast"` or NaN, `kpis` not a mapping, ...), as issues with field paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field

from hpabench.errors import SpecError, SpecIssue
from hpabench.inputfile import MAX_EVENTS_BYTES, read_input_bytes, read_input_json
from hpabench.rundir import EVENTS, MANIFEST, SUMMARY
from hpabench.specio import StrictModel, validate_data

Status = Literal["running", "completed", "interrupted", "failed"]  # hpabench.rundir.STATUSES


class _Open(StrictModel):
    """Strict about the fields it names, open to the rest (the contract lets files grow)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True, allow_inf_nan=False)


class ManifestView(_Open):
    run_id: str | None = None
    status: Status | None = None
    target: str | None = None
    time_scale: float | None = Field(default=None, gt=0)
    created_at: float | None = None
    load_started_at: float | None = None
    load_ended_at: float | None = None
    finished_at: float | None = None
    scenario: dict[str, Any] | str | None = None
    variant: dict[str, Any] | str | None = None
    slo: dict[str, float | None] | None = None
    flags: list[str] | None = None
    error: str | None = None


class KpiView(_Open):
    value: float | None = None
    unit: str | None = None
    label: str | None = None
    better: Literal["lower", "higher"] | None = None


class PhaseView(_Open):
    name: str
    kpis: dict[str, KpiView] = Field(default_factory=dict)


class SummaryView(_Open):
    schema_version: int
    run_id: str | None = None
    status: Status | None = None
    scenario: str | None = None
    variant: str | None = None
    kpis: dict[str, KpiView]
    phases: list[PhaseView] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class RunCheck:
    path: Path
    manifest: dict[str, Any]
    damage: tuple[SpecIssue, ...]

    def warnings(self) -> list[str]:
        """One console line per damaged file."""
        return [f"damaged run data: {issue}" for issue in self.damage]


def summary_issues(summary: Any, file: str) -> list[SpecIssue]:
    """Contract-type problems of a summary (see the module docstring); empty when it is sound."""
    try:
        validate_data(SummaryView, summary, file)
    except SpecError as exc:
        return list(exc.issues)
    return []


def _jsonl_damage(path: Path, label: str) -> list[SpecIssue]:
    import json

    try:
        data = read_input_bytes(path, what=label, max_bytes=MAX_EVENTS_BYTES)
    except SpecError as exc:
        return list(exc.issues)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [SpecIssue(str(path), f"byte {exc.start}", f"{label} is not UTF-8 text")]
    lines = text.splitlines()
    bad: list[int] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            ok = isinstance(json.loads(line), dict)
        except (json.JSONDecodeError, RecursionError):
            ok = False
        if not ok and not (number == len(lines) and not text.endswith("\n")):  # a torn last line is a crash
            bad.append(number)
    if bad:
        shown = ", ".join(str(n) for n in bad[:5]) + (", ..." if len(bad) > 5 else "")
        return [SpecIssue(str(path), f"line {shown}", f"{len(bad)} line(s) are not JSON objects")]
    return []


def _parquet_damage(path: Path, label: str) -> list[SpecIssue]:
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except Exception as exc:  # pyarrow raises several types for garbage; all mean "unreadable"
        return [SpecIssue(str(path), "", f"{label} is not a readable parquet file ({type(exc).__name__})")]
    return []


def _data_damage(path: Path) -> list[SpecIssue]:
    data = path / "data"
    if not data.is_dir():
        return [SpecIssue(str(data), "", "missing: the run has no data/ directory")]
    issues: list[SpecIssue] = []
    for file in sorted([*data.glob("*.parquet"), *data.glob("prom/*.parquet")]):
        issues += _parquet_damage(file, f"data/{file.relative_to(data)}")
    for file in sorted(data.glob("*.jsonl")):
        issues += _jsonl_damage(file, f"data/{file.name}")
    return issues


def _summary_only(path: Path) -> RunCheck:
    """A directory holding just a summary.json (an archived run): the summary is all there is."""
    file = path / SUMMARY
    issues = summary_issues(read_input_json(file, what=SUMMARY), str(file))
    if issues:
        raise SpecError(issues, headline=f"{path} holds only a summary.json, and it is damaged:")
    return RunCheck(path, {}, ())


def check_run_dir(path: Path, *, summary_suffices: bool = False) -> RunCheck:
    """See the module docstring. With `summary_suffices` (gate, baseline, compare: they read
    only the summary) a directory with a sound summary.json and no manifest.json is accepted."""
    path = Path(path)
    if not path.exists():
        raise SpecError(SpecIssue(str(path), "", "is not a run directory (it does not exist)"))
    if not path.is_dir():
        raise SpecError(SpecIssue(str(path), "", "is not a run directory (it is a file)"))
    manifest_file = path / MANIFEST
    run_files = ("data", "rendered", EVENTS)
    archived = (path / SUMMARY).exists() and not any((path / name).exists() for name in run_files)
    if not manifest_file.exists() and summary_suffices and archived:
        return _summary_only(path)
    if not manifest_file.exists():
        raise SpecError(SpecIssue(str(path), "", f"is not a run directory (no {MANIFEST})"))
    manifest = read_input_json(manifest_file, what=MANIFEST)
    if not isinstance(manifest, dict):
        raise SpecError(SpecIssue(str(manifest_file), "", "must be a JSON object"))
    validate_data(ManifestView, manifest, str(manifest_file))
    damage: list[SpecIssue] = []
    if (path / EVENTS).exists():
        damage += _jsonl_damage(path / EVENTS, EVENTS)
    damage += _data_damage(path)
    summary_file = path / SUMMARY
    if summary_file.exists():
        try:
            damage += summary_issues(read_input_json(summary_file, what=SUMMARY), str(summary_file))
        except SpecError as exc:
            damage += exc.issues
    return RunCheck(path, manifest, tuple(damage))
