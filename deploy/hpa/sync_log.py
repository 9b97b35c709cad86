"""The HPA timeline of a run: `data/hpa.jsonl` (one row per sync) → `data/hpa.parquet` at the end.

Columns (docs/contracts.md): `ts`, `hpa`, `current_replicas`, `desired_replicas`,
`raw_recommendation`, `stabilized_recommendation` (null when no metric-based recommendation was
made that sync), `metrics` (a JSON string: metric name → {current, target, type}, `type` in
kube-state-metrics' vocabulary utilization|average|value, `current` null when unavailable),
`ready_pods`, `unready_pods`, `missing_pods`, `able_to_scale`, `scaling_active`,
`scaling_limited` (bools), `reason`, `metrics_age_s` (null when no metric was used).
The JSONL is flushed per row so a crash loses nothing; the parquet is the same rows, typed.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from hpabench.contract import HPA_COLUMNS
from hpabench.deploy.hpa.conditions import ABLE_TO_SCALE, SCALING_ACTIVE, SCALING_LIMITED, is_true
from hpabench.deploy.hpa.core import Decision

COLUMNS = HPA_COLUMNS
INT_COLUMNS = ("current_replicas", "desired_replicas", "raw_recommendation", "stabilized_recommendation")


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def metrics_json(decision: Decision) -> str:
    """`name → {current, target, type}`; a repeated name gets `#<index>` so none is lost."""
    out: dict[str, dict[str, Any]] = {}
    for status in decision.metrics:
        key = status.name if status.name not in out else f"{status.name}#{status.index}"
        out[key] = {"current": _finite(status.current), "target": _finite(status.target), "type": status.target_type}
    return json.dumps(out, sort_keys=True)


def timeline_row(hpa_name: str, decision: Decision) -> dict[str, Any]:
    """One sync as a row of the contract's columns."""
    return {
        "ts": decision.ts,
        "hpa": hpa_name,
        "current_replicas": decision.current_replicas,
        "desired_replicas": decision.desired_replicas,
        "raw_recommendation": decision.raw_recommendation,
        "stabilized_recommendation": decision.stabilized_recommendation,
        "metrics": metrics_json(decision),
        "ready_pods": decision.ready_pods,
        "unready_pods": decision.unready_pods,
        "missing_pods": decision.missing_pods,
        "able_to_scale": is_true(decision.conditions, ABLE_TO_SCALE),
        "scaling_active": is_true(decision.conditions, SCALING_ACTIVE),
        "scaling_limited": is_true(decision.conditions, SCALING_LIMITED),
        "reason": decision.reason,
        "metrics_age_s": _finite(decision.metrics_age_s),
    }


def rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a typed DataFrame (nullable integers for the recommendations)."""
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in INT_COLUMNS:
        frame[column] = frame[column].astype("Int64")
    for column in ("ready_pods", "unready_pods", "missing_pods"):
        frame[column] = frame[column].astype("int64")
    for column in ("able_to_scale", "scaling_active", "scaling_limited"):
        frame[column] = frame[column].astype("bool")
    frame["ts"] = frame["ts"].astype("float64")
    frame["metrics_age_s"] = frame["metrics_age_s"].astype("float64")
    return frame


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a `hpa.jsonl`; a torn last line (crash mid-write) is skipped."""
    rows = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


class _Sink:
    """One open `hpa.jsonl`, shared by every controller writing into the same data folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.file = path.open("a", encoding="utf-8")
        self.writers = 0


_SINKS: dict[Path, _Sink] = {}
_SINKS_LOCK = threading.Lock()


class TimelineWriter:
    """Appends one HPA's rows to `data_dir/hpa.jsonl` (flushed per row; several HPAs of a run share
    the file, told apart by the `hpa` column). The last writer to close converts the whole file to
    `hpa.parquet`, so the parquet holds every HPA's rows."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.jsonl_path = (data_dir / "hpa.jsonl").resolve()
        self.parquet_path = self.jsonl_path.with_name("hpa.parquet")
        self._rows: list[dict[str, Any]] = []
        self._closed = False
        with _SINKS_LOCK:
            sink = _SINKS.get(self.jsonl_path)
            if sink is None:
                sink = _SINKS[self.jsonl_path] = _Sink(self.jsonl_path)
            sink.writers += 1
        self._sink = sink

    def append(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, sort_keys=True) + "\n"
        with self._sink.lock:
            if self._closed:
                return
            self._rows.append(row)
            self._sink.file.write(line)
            self._sink.file.flush()

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The rows this writer appended (this HPA's, this process)."""
        with self._sink.lock:
            return list(self._rows)

    def close(self, write_parquet: bool = True) -> None:
        """Stop writing; the last writer of the file closes it and writes the parquet atomically
        (also when there are no rows, so readers always find a typed file)."""
        with _SINKS_LOCK, self._sink.lock:
            if self._closed:
                return
            self._closed = True
            self._sink.writers -= 1
            last = self._sink.writers == 0
            if last:
                self._sink.file.close()
                _SINKS.pop(self.jsonl_path, None)
        if last and write_parquet:
            tmp = self.parquet_path.with_name(f".{self.parquet_path.name}.tmp")
            rows_frame(read_rows(self.jsonl_path)).to_parquet(tmp, index=False)
            tmp.replace(self.parquet_path)
