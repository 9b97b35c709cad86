"""The run-directory contract as code: file names, every data file's columns, the manifest model,
one atomic writer and one manifest reader. Writers (targets, the driver, the pipeline) and readers
(analysis, reports, gate) both import this module, so neither depends on the other.

```
reports/<run-id>/
  manifest.json        `Manifest` (schema_version, scenario + variant as resolved, target, times, status…)
  rendered/all.yaml    the exact objects deployed (RENDERED_OBJECTS)
  events.jsonl         one JSON object per line: ts (unix s), kind, fields
  data/                the columnar files of DATA_FILES, plus prom/<query>.parquet (PROM_COLUMNS + labels)
  summary.json         KPIs (hpabench.analysis.summary; schema_version SUMMARY_SCHEMA_VERSION)
  report.html          the human report
```

Times: every `ts` is unix seconds (float); analysis derives `t_s = ts - load_started_at`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

MANIFEST_SCHEMA_VERSION = 1
SUMMARY_SCHEMA_VERSION = 1

MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
SUMMARY = "summary.json"
REPORT = "report.html"
RENDERED_DIR = "rendered"
RENDERED_OBJECTS = f"{RENDERED_DIR}/all.yaml"
DATA_DIR = "data"
PROM_DIR = f"{DATA_DIR}/prom"

STATUS_RUNNING = "running"
STATUS_COMPLETED = "completed"
STATUS_INTERRUPTED = "interrupted"
STATUS_FAILED = "failed"
STATUSES = (STATUS_RUNNING, STATUS_COMPLETED, STATUS_INTERRUPTED, STATUS_FAILED)

# -- data files: name → columns (writers emit exactly these; readers fill missing ones) ------------

LATENCY_PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50_ms", 50.0),
    ("p90_ms", 90.0),
    ("p95_ms", 95.0),
    ("p99_ms", 99.0),
    ("p999_ms", 99.9),
)
"""Per-second client latency columns and the percentile each is."""
LATENCY_COLUMNS = (*(name for name, _ in LATENCY_PERCENTILES), "max_ms", "mean_ms")

CLIENT_COLUMNS = ("ts", "route", "requests", "failures", *LATENCY_COLUMNS, "hist")
"""data/client_stats.parquet: one row per second and route (`ALL` = every route); `hist` is the
second's latency histogram (sparse JSON), so exact percentiles of any span can be merged."""
LOAD_COLUMNS = (
    "ts",
    "stage",
    "planned_users",
    "planned_rps",
    "users",
    "intended_rps",
    "achieved_rps",
    "completed_rps",
    "dropped_rps",
    "generator_cpu_max",
    "generator_overloaded",
)
"""data/load.parquet: one row per second: the plan, what the generator intended and achieved."""
PLANNED_COLUMNS = ("t_s", "stage", "users", "rps")
"""data/planned.parquet: the planned curve, one row per second of load time."""
HPA_COLUMNS = (
    "ts",
    "hpa",
    "current_replicas",
    "desired_replicas",
    "raw_recommendation",
    "stabilized_recommendation",
    "metrics",
    "ready_pods",
    "unready_pods",
    "missing_pods",
    "able_to_scale",
    "scaling_active",
    "scaling_limited",
    "reason",
    "metrics_age_s",
)
"""data/hpa.parquet: one row per HPA sync (`metrics` is JSON: per metric current/target/type)."""
PODS_COLUMNS = (
    "pod",
    "deployment",
    "created_ts",
    "started_ts",
    "ready_ts",
    "deleted_ts",
    "restarts",
    "cpu_request_millicores",
    "cpu_limit_millicores",
)
"""data/pods.parquet: one row per pod that existed during the run."""
PROM_COLUMNS = ("ts", "value")
"""data/prom/<query>.parquet: one row per sample, plus one column per label."""

# -- Locust's own reports (kept for people who know them; hpabench's analysis never reads them) ----

LOCUST_CSV_PREFIX = "locust"
"""`--csv` prefix of the standalone/master Locust process, inside data/ (Locust adds the suffixes)."""
LOCUST_CSV_FILES = tuple(
    f"{LOCUST_CSV_PREFIX}_{kind}.csv" for kind in ("stats", "stats_history", "failures", "exceptions")
)
"""data/locust_*.csv: Locust's request statistics, their history, its failures and exceptions."""
LOCUST_HTML = "locust_report.html"
"""data/locust_report.html: Locust's own HTML report (`--html`), written when the process stops."""


@dataclass(frozen=True)
class DataFile:
    name: str
    columns: tuple[str, ...]

    def path(self, run_path: Path) -> Path:
        return Path(run_path) / DATA_DIR / self.name


CLIENT_STATS = DataFile("client_stats.parquet", CLIENT_COLUMNS)
LOAD = DataFile("load.parquet", LOAD_COLUMNS)
PLANNED = DataFile("planned.parquet", PLANNED_COLUMNS)
HPA = DataFile("hpa.parquet", HPA_COLUMNS)
PODS = DataFile("pods.parquet", PODS_COLUMNS)
DATA_FILES = (CLIENT_STATS, LOAD, PLANNED, HPA, PODS)


# -- the manifest ----------------------------------------------------------------------------------


class Manifest(BaseModel):
    """manifest.json. Known fields are typed; fields a target or a newer version adds are kept
    (`extra="allow"`), so a reader never drops what a writer recorded."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = MANIFEST_SCHEMA_VERSION
    run_id: str | None = None
    status: str = "unknown"
    error: str | None = None
    target: str | None = None
    scenario: dict[str, Any] | None = None
    variant: dict[str, Any] | None = None
    time_scale: float | None = None
    workers: int | None = None
    locustfile: str | None = None
    slo: dict[str, float] | None = None
    hpa_settings: dict[str, Any] | None = None
    scrape_interval_s: float | None = None
    flags: list[str] = []
    host: dict[str, Any] | None = None
    versions: dict[str, Any] | None = None
    git_sha: str | None = None
    created_at: float | None = None
    load_started_at: float | None = None
    load_ended_at: float | None = None
    finished_at: float | None = None

    @field_validator("created_at", "load_started_at", "load_ended_at", "finished_at", "time_scale")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


def read_manifest(run_path: Path) -> Manifest:
    """The manifest of the run at `run_path`. FileNotFoundError when absent; ValueError naming the
    file when it is not UTF-8, not JSON, or has a field of the wrong type."""
    path = Path(run_path) / MANIFEST
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must be a JSON object")
    try:
        return Manifest.model_validate(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


# -- the one atomic writer -------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json_line(data: Any) -> str:
    """One compact JSON line (events, jsonl rows) with the contract's conversions."""
    return json.dumps(data, sort_keys=True, default=_json_default)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `path` so a reader (or a crash) never sees half a file: temp file + rename.

    An existing path that is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO) is written in
    place instead: renaming over it would replace a device node with a plain file — as root,
    for every other program on the machine. A directory is refused (IsADirectoryError).
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a directory")
        with path.open("wb") as out:
            out.write(data)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: Any) -> None:
    """Pretty, sorted JSON (manifest.json, summary.json, state files), written atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n")
