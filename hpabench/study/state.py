"""A study's directory: the plan it committed to, and one record per finished run (resume).

Layout (`reports/study-<name>/` by default):
  study.json     the spec as resolved, the seed, the run order, the resolved variants
  trials.jsonl   one JSON line per finished run: key, run_path, status, failed, reasons, kpis,
                 sync_phase (planned fraction), sync_phase_measured_s, duration_s
  runs/          the run directories (the usual contract)
  study.html     the comparative report
Contract: `StudyState.open(dir, header)` creates the directory or reopens it; reopening with a
different header (spec, plan or variants changed) is a `SpecError`, because mixing runs of two
different studies would make the statistics lie. `record()` appends and fsyncs one line, so an
interruption loses at most the run in progress, which a resume redoes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpabench.errors import SpecError, SpecIssue

STUDY_FILE = "study.json"
TRIALS_FILE = "trials.jsonl"
RUNS_DIR = "runs"
REPORT_FILE = "study.html"


@dataclass
class StudyState:
    path: Path
    header: dict[str, Any]
    records: dict[str, dict[str, Any]]

    @classmethod
    def open(cls, path: Path, header: dict[str, Any]) -> StudyState:
        path.mkdir(parents=True, exist_ok=True)
        (path / RUNS_DIR).mkdir(exist_ok=True)
        study_file = path / STUDY_FILE
        if study_file.exists():
            existing = json.loads(study_file.read_text(encoding="utf-8"))
            if existing != json.loads(json.dumps(header)):
                changed = sorted(k for k in set(existing) | set(header) if existing.get(k) != header.get(k))
                raise SpecError(
                    SpecIssue(
                        str(study_file),
                        ", ".join(changed),
                        "this study directory was started with a different spec; resume with the same spec "
                        "or pass --out for a new study directory",
                    )
                )
        else:
            tmp = study_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(header, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            tmp.replace(study_file)
        return cls(path, header, read_records(path))

    @property
    def runs_dir(self) -> Path:
        return self.path / RUNS_DIR

    def done(self, key: str) -> bool:
        return key in self.records

    def record(self, entry: dict[str, Any]) -> None:
        with open(self.path / TRIALS_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.records[entry["key"]] = entry


def read_header(path: Path) -> dict[str, Any]:
    """study.json of a study directory (SpecError if there is none)."""
    study_file = path / STUDY_FILE
    if not study_file.is_file():
        raise SpecError(SpecIssue(str(path), "", "is not a study directory (no study.json)"))
    data: dict[str, Any] = json.loads(study_file.read_text(encoding="utf-8"))
    return data


def read_records(path: Path) -> dict[str, dict[str, Any]]:
    """The finished runs by key; a torn last line (killed mid-write) is ignored."""
    records: dict[str, dict[str, Any]] = {}
    trials = path / TRIALS_FILE
    if not trials.exists():
        return records
    for line in trials.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and "key" in entry:
            records[entry["key"]] = entry
    return records
