"""Baselines for the CI gate: the KPIs of one or more reference runs, in a versioned file.

`make_baseline(run_paths)` reads each run's summary (summary.json, else computed) and keeps, per
KPI and per phase KPI, `n`, `mean`, `median`, `stdev`, `min`, `max`, `values` and the KPI's
`unit`, `label`, `better`. Gates compare against the **median** (robust to one odd run).

File format (JSON by default; YAML when the file name ends in .yaml/.yml):

```json
{"kind": "hpabench-baseline", "version": 1, "created_at": 1764000000.0,
 "scenario": "spike", "variant": "baseline", "target": "local",
 "runs": [{"run_id": "...", "path": "...", "status": "completed"}],
 "kpis": {"p95_ms": {"unit": "ms", "label": "...", "better": "lower", "n": 3, "mean": 1.0,
                     "median": 1.0, "stdev": 0.1, "min": 0.9, "max": 1.1, "values": [0.9, 1.0, 1.1]}},
 "phases": {"spike": {"p95_ms": {"...": "same shape"}}}}
```

All runs must be completed runs of the same scenario (else SpecError: a baseline from a broken or
different run would make every later gate meaningless). A run directory can also serve directly
as a baseline (`load_baseline(run_dir)`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field

from hpabench.analysis.compare import load_summary
from hpabench.analysis.kpi import entry_value
from hpabench.analysis.runcheck import check_run_dir, summary_issues
from hpabench.analysis.stats import summarize
from hpabench.errors import SpecError, SpecIssue
from hpabench.inputfile import read_input_json
from hpabench.rundir import write_json_atomic
from hpabench.specio import FormatVersion1, StrictModel, read_yaml, validate_data

KIND = "hpabench-baseline"
VERSION = 1


class BaselineKpi(StrictModel):
    unit: str = ""
    label: str = ""
    better: Literal["lower", "higher"] | None = None
    n: int = Field(ge=0)
    mean: float | None = None
    median: float | None = None
    stdev: float | None = None
    min: float | None = None
    max: float | None = None
    values: list[float] = Field(default_factory=list)


class BaselineRun(StrictModel):
    run_id: str
    path: str = ""
    status: str = "completed"


class BaselineFile(StrictModel):
    kind: Literal["hpabench-baseline"]
    version: FormatVersion1
    created_at: float | None = None
    scenario: str
    variant: str = ""
    target: str = ""
    runs: list[BaselineRun] = Field(default_factory=list)
    kpis: dict[str, BaselineKpi]
    phases: dict[str, dict[str, BaselineKpi]] = Field(default_factory=dict)


def _aggregate(kpi_dicts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    names: list[str] = []
    meta: dict[str, dict[str, Any]] = {}
    for kpis in kpi_dicts:
        for name, entry in kpis.items():
            if name not in meta and isinstance(entry, dict):
                names.append(name)
                meta[name] = entry
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        values = [entry_value(kpis.get(name)) for kpis in kpi_dicts]
        present = [v for v in values if v is not None]
        n, mean, median, stdev = summarize(values)
        better = meta[name].get("better")
        out[name] = {
            "unit": str(meta[name].get("unit") or ""),
            "label": str(meta[name].get("label") or ""),
            "better": better if better in ("lower", "higher") else None,
            "n": n,
            "mean": mean,
            "median": median,
            "stdev": stdev,
            "min": min(present) if present else None,
            "max": max(present) if present else None,
            "values": present,
        }
    return out


def make_baseline(run_paths: list[Path]) -> dict[str, Any]:
    """A baseline dict (the file format above) from the runs at `run_paths`."""
    if not run_paths:
        raise SpecError(SpecIssue("baseline", "runs", "no run directories given"))
    issues = [issue for p in run_paths for issue in check_run_dir(Path(p), summary_suffices=True).damage]
    if issues:
        raise SpecError(issues, headline="cannot make a baseline: run data is damaged")
    summaries = [(Path(p), load_summary(Path(p))) for p in run_paths]
    issues += [issue for p, s in summaries for issue in summary_issues(s, str(p / "summary.json"))]
    scenarios = {str(s.get("scenario")) for _, s in summaries}
    if len(scenarios) > 1:
        issues.append(SpecIssue("baseline", "runs", f"runs of different scenarios: {', '.join(sorted(scenarios))}"))
    for path, summary in summaries:
        if summary.get("status") != "completed":
            issues.append(
                SpecIssue(str(path), "status", f"is {summary.get('status')!r}; a baseline needs completed runs")
            )
    if issues:
        raise SpecError(issues, headline="cannot make a baseline")
    first = summaries[0][1]
    phase_names = [str(p.get("name")) for p in first.get("phases") or []]
    phases: dict[str, dict[str, dict[str, Any]]] = {}
    for name in phase_names:
        per_run = [
            next((p.get("kpis") or {} for p in s.get("phases") or [] if p.get("name") == name), {})
            for _, s in summaries
        ]
        phases[name] = _aggregate(per_run)
    variants = sorted({str(s.get("variant")) for _, s in summaries})
    return {
        "kind": KIND,
        "version": VERSION,
        "created_at": time.time(),
        "scenario": str(first.get("scenario")),
        "variant": ", ".join(variants),
        "target": str(first.get("target") or ""),
        "runs": [
            {"run_id": str(s.get("run_id") or p.name), "path": str(p), "status": str(s.get("status"))}
            for p, s in summaries
        ],
        "kpis": _aggregate([dict(s.get("kpis") or {}) for _, s in summaries]),
        "phases": phases,
    }


def write_baseline(baseline: dict[str, Any], path: Path) -> Path:
    """Write `baseline` to `path` (YAML for .yaml/.yml, else JSON), atomically for JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in (".yaml", ".yml"):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(yaml.safe_dump(baseline, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
    else:
        write_json_atomic(path, baseline)
    return path


def load_baseline(path: Path) -> BaselineFile:
    """Read and validate a baseline file (or make one from a run directory). SpecError if invalid."""
    path = Path(path)
    if path.is_dir():
        data: Any = make_baseline([path])
    elif path.suffix in (".yaml", ".yml"):
        data = read_yaml(path)
    else:
        data = read_input_json(path, what="baseline file")
    if isinstance(data, dict) and data.get("kind") != KIND:
        raise SpecError(SpecIssue(str(path), "kind", f"not an hpabench baseline (kind must be {KIND!r})"))
    return validate_data(BaselineFile, data, str(path))
