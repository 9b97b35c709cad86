"""One run directory loaded into memory: manifest, events and every data frame (docs/contracts.md).

`load_run(path)` never crashes on a partial run: a missing or unreadable file gives an empty frame
with the contract's columns (and a note in `RunData.notes`), so KPIs come out null instead of the
analysis failing. Every frame with a `ts` column gets `t_s = ts - manifest["load_started_at"]`
(seconds since the load phase started; negative before it). The pods frame gets `created_t_s`,
`started_t_s`, `ready_t_s`, `deleted_t_s` and `t_s` (= `created_t_s`); the planned frame already
has `t_s`. Events get a `t_s` key as well.

If the manifest has no `load_started_at` (a run that failed before the load), the earliest `ts`
of the client/load data, else of the events, is used, and a note says so.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

# The columns of each data file, declared once in the run-directory contract (writers use it too).
from hpabench.contract import (
    CLIENT_COLUMNS,
    HPA_COLUMNS,
    LOAD_COLUMNS,
    PLANNED_COLUMNS,
    PODS_COLUMNS,
    PROM_COLUMNS,
)

_STRING_COLUMNS = {"route", "stage", "hist", "hpa", "metrics", "reason", "pod", "deployment"}
_BOOL_COLUMNS = {"generator_overloaded", "able_to_scale", "scaling_active", "scaling_limited"}
_POD_TIMES = ("created", "started", "ready", "deleted")


def empty_frame(columns: tuple[str, ...]) -> pd.DataFrame:
    """An empty frame with `columns` and the dtypes a full one would have (float/str/bool)."""
    data: dict[str, pd.Series[Any]] = {}
    for column in columns:
        if column in _STRING_COLUMNS:
            data[column] = pd.Series([], dtype=object)
        elif column in _BOOL_COLUMNS:
            data[column] = pd.Series([], dtype=bool)
        else:
            data[column] = pd.Series([], dtype=float)
    return pd.DataFrame(data)


@dataclass(frozen=True)
class RunData:
    """Everything analysis needs from one run directory, read-only by convention.

    - `manifest`: manifest.json as a dict ({} if missing).
    - `events`: events.jsonl in file order, each with `t_s` added.
    - `client`, `load`, `planned`, `hpa`, `pods`: the `data/` frames (columns in docs/contracts.md,
      plus `t_s`); empty with the right columns when the file is missing.
    - `prom`: query name → frame (`ts`, `value`, one column per label, `t_s`) from `data/prom/`.
    - `notes`: human-readable remarks about missing or unreadable inputs.
    """

    path: Path
    manifest: dict[str, Any]
    events: list[dict[str, Any]]
    client: pd.DataFrame
    load: pd.DataFrame
    planned: pd.DataFrame
    hpa: pd.DataFrame
    pods: pd.DataFrame
    prom: dict[str, pd.DataFrame]
    load_started_at: float
    notes: tuple[str, ...] = field(default=())

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id") or self.path.name)

    @property
    def status(self) -> str:
        return str(self.manifest.get("status") or "unknown")

    @property
    def scenario_name(self) -> str:
        return _name_of(self.manifest.get("scenario"), "unknown")

    @property
    def variant_name(self) -> str:
        return _name_of(self.manifest.get("variant"), "baseline")

    @property
    def target(self) -> str:
        return str(self.manifest.get("target") or "unknown")

    @property
    def load_duration_s(self) -> float:
        """Seconds from the load start to `load_ended_at`, else to the last client/load row."""
        ended = _as_float(self.manifest.get("load_ended_at"))
        if ended is not None and ended > self.load_started_at:
            return ended - self.load_started_at
        ends = [float(f["t_s"].max()) + 1.0 for f in (self.client, self.load) if not f.empty]
        if ends:
            return max(ends)
        if not self.planned.empty:
            return float(self.planned["t_s"].max()) + 1.0
        return 0.0

    @property
    def slo(self) -> dict[str, float]:
        """The run's SLO (`p95_ms`, `error_rate`): manifest `slo`, else the variant's, else the
        scenario's; missing keys are absent (the summary falls back to documented defaults)."""
        for source in (self.manifest, self.manifest.get("variant"), self.manifest.get("scenario")):
            if isinstance(source, dict) and isinstance(source.get("slo"), dict):
                slo = {k: float(v) for k, v in source["slo"].items() if _as_float(v) is not None}
                if slo:
                    return slo
        return {}

    def web_deployment(self) -> str:
        """The HPA's scale target (the web tier): from the hpa frame/manifest, default `web`."""
        variant = self.manifest.get("variant")
        if isinstance(variant, dict) and isinstance(variant.get("deployment"), str):
            return str(variant["deployment"])
        return "web"

    def web_hpa(self) -> pd.DataFrame:
        """The HPA rows of the web tier: the HPA named like the web Deployment, else the only (or
        first) HPA of the run — several HPAs share hpa.jsonl.

        A sync that could not compute a recommendation (e.g. no metrics yet) records
        `desired_replicas` 0 while the Deployment keeps its replicas; such values are set to NaN
        here so they never count as a scale to zero and back.
        """
        hpa = self.hpa
        if not hpa.empty and "hpa" in hpa and hpa["hpa"].notna().any():
            names = [str(n) for n in pd.unique(hpa["hpa"].dropna())]
            if len(names) > 1:
                name = self.web_deployment() if self.web_deployment() in names else names[0]
                hpa = hpa[hpa["hpa"] == name].reset_index(drop=True)
        if hpa.empty:
            return hpa
        hpa = hpa.copy()
        desired = numeric(hpa, "desired_replicas")
        hpa["desired_replicas"] = np.where(desired > 0, desired, np.nan)
        return hpa

    def web_pods(self) -> pd.DataFrame:
        """Pods of the web Deployment (every pod when the frame has no deployment values)."""
        pods = self.pods
        if pods.empty or "deployment" not in pods:
            return pods
        mask = pods["deployment"] == self.web_deployment()
        return pods[mask] if mask.any() else pods.iloc[0:0]


def _name_of(value: Any, default: str) -> str:
    if isinstance(value, dict) and value.get("name"):
        return str(value["name"])
    if isinstance(value, str) and value:
        return value
    return default


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _read_frame(data_dir: Path, stem: str, columns: tuple[str, ...], notes: list[str]) -> pd.DataFrame:
    """`<stem>.parquet`, else the incremental `<stem>.jsonl`, else an empty frame."""
    parquet = data_dir / f"{stem}.parquet"
    jsonl = data_dir / f"{stem}.jsonl"
    frame: pd.DataFrame | None = None
    if parquet.exists():
        try:
            frame = pd.read_parquet(parquet)
        except Exception as exc:  # a truncated parquet file (crash mid-write) must not stop analysis
            notes.append(f"{parquet.name} unreadable ({type(exc).__name__}); trying {jsonl.name}")
    if frame is None and jsonl.exists():
        frame = read_jsonl(jsonl)
    if frame is None and stem == "client_stats":
        frame = _merge_process_files(data_dir, notes)
    if frame is None:
        notes.append(f"data/{stem} missing")
        return empty_frame(columns)
    frame = _normalize(frame)
    for column in columns:
        if column not in frame.columns:
            frame[column] = empty_frame((column,))[column].reindex(frame.index)
    return frame


def _normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable numeric columns (Int64/Float64, e.g. the HPA's recommendations) → float64 with
    NaN, so comparisons give plain booleans instead of NA."""
    for column in frame.columns:
        dtype = frame[column].dtype
        if (
            isinstance(dtype, pd.api.extensions.ExtensionDtype)
            and pd.api.types.is_numeric_dtype(dtype)
            and not pd.api.types.is_bool_dtype(dtype)
        ):
            frame[column] = frame[column].to_numpy(dtype=float, na_value=np.nan)
    return frame


def _merge_process_files(data_dir: Path, notes: list[str]) -> pd.DataFrame | None:
    """An interrupted run whose driver never merged: merge the per-process client jsonl files
    with the driver's own merge (histograms merged, never averaged)."""
    if not any(data_dir.glob("client_stats.*.jsonl")):
        return None
    try:
        from hpabench.scenarios.drive.results import merge_client_stats

        frame = merge_client_stats(data_dir)
    except Exception as exc:  # partial files from a crash: say so, analyse the rest
        notes.append(f"client_stats.*.jsonl could not be merged ({type(exc).__name__}: {exc})")
        return None
    notes.append("client_stats merged from per-process jsonl files (no parquet)")
    return frame


def read_jsonl(path: Path) -> pd.DataFrame:
    """One frame from a jsonl file; a torn last line (a crash mid-write) is skipped."""
    rows = []
    # errors="replace": runcheck has named a non-UTF-8 file already; its bad lines are skipped here.
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line from a crash
        if isinstance(row, dict):
            rows.append(row)
    return pd.DataFrame(rows)


def _read_manifest(path: Path, notes: list[str]) -> dict[str, Any]:
    file = path / "manifest.json"
    if not file.exists():
        notes.append("manifest.json missing")
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        notes.append(f"manifest.json unreadable: {exc}")
        return {}
    return data if isinstance(data, dict) else {}


def _read_events(path: Path) -> list[dict[str, Any]]:
    file = path / "events.jsonl"
    if not file.exists():
        return []
    events = []
    for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and _as_float(event.get("ts")) is not None:
            events.append(event)
    return events


def _origin(manifest: dict[str, Any], frames: list[pd.DataFrame], events: list[dict[str, Any]]) -> float | None:
    started = _as_float(manifest.get("load_started_at"))
    if started is not None:
        return started
    firsts = [float(f["ts"].min()) for f in frames if not f.empty and f["ts"].notna().any()]
    if firsts:
        return min(firsts)
    stamps = [float(e["ts"]) for e in events]
    return min(stamps) if stamps else None


def _with_t_s(frame: pd.DataFrame, origin: float) -> pd.DataFrame:
    frame = frame.copy()
    frame["ts"] = pd.to_numeric(frame["ts"], errors="coerce").astype(float)
    frame["t_s"] = frame["ts"] - origin
    return frame.sort_values("t_s", kind="stable").reset_index(drop=True)


def load_run(path: Path) -> RunData:
    """Read the run directory at `path` (see the module docstring). Never raises on missing data;
    raises FileNotFoundError only when `path` is not a directory."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a run directory")
    notes: list[str] = []
    manifest = _read_manifest(path, notes)
    events = _read_events(path)
    data_dir = path / "data"
    client = _read_frame(data_dir, "client_stats", CLIENT_COLUMNS, notes)
    load = _read_frame(data_dir, "load", LOAD_COLUMNS, notes)
    planned = _read_frame(data_dir, "planned", PLANNED_COLUMNS, notes)
    hpa = _read_frame(data_dir, "hpa", HPA_COLUMNS, notes)
    pods = _read_frame(data_dir, "pods", PODS_COLUMNS, notes)

    origin = _origin(manifest, [client, load], events)
    if origin is None:
        origin = 0.0
        notes.append("no load start time and no timestamped data")
    elif _as_float(manifest.get("load_started_at")) is None:
        notes.append("manifest has no load_started_at; using the first data timestamp")

    client, load, hpa = (_with_t_s(frame, origin) for frame in (client, load, hpa))
    planned = planned.copy()
    planned["t_s"] = pd.to_numeric(planned["t_s"], errors="coerce").astype(float)
    pods = pods.copy()
    for stage in _POD_TIMES:
        pods[f"{stage}_ts"] = pd.to_numeric(pods[f"{stage}_ts"], errors="coerce").astype(float)
        pods[f"{stage}_t_s"] = pods[f"{stage}_ts"] - origin
    pods["t_s"] = pods["created_t_s"]

    prom: dict[str, pd.DataFrame] = {}
    prom_dir = data_dir / "prom"
    if prom_dir.is_dir():
        for file in sorted(prom_dir.glob("*.parquet")):
            try:
                frame = pd.read_parquet(file)
            except Exception as exc:  # one corrupt series must not hide the others
                notes.append(f"prom/{file.name} unreadable ({type(exc).__name__})")
                continue
            for column in PROM_COLUMNS:
                if column not in frame.columns:
                    frame[column] = pd.Series(dtype=float)
            prom[file.stem] = _with_t_s(frame, origin)
    for event in events:
        event["t_s"] = float(event["ts"]) - origin
    return RunData(
        path=path,
        manifest=manifest,
        events=events,
        client=client,
        load=load,
        planned=planned,
        hpa=hpa,
        pods=pods,
        prom=prom,
        load_started_at=origin,
        notes=tuple(notes),
    )


def prom_frame(run: RunData, name: str, *labels: str) -> pd.DataFrame:
    """`run.prom[name]`, or an empty frame with `ts`, `value`, `t_s` and `labels` when absent."""
    frame = run.prom.get(name)
    if frame is not None:
        return frame
    return empty_frame((*PROM_COLUMNS, "t_s", *labels))


def numeric(frame: pd.DataFrame, column: str) -> npt.NDArray[np.float64]:
    """`frame[column]` as a float array (non-numbers → NaN); all NaN when the column is absent."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return np.asarray(pd.to_numeric(frame[column], errors="coerce"), dtype=float)
