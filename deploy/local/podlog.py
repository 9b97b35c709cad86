"""The run's pod table (docs/contracts.md): `data/pods.jsonl` as pods go, `data/pods.parquet` at stop.

One row per pod: `pod, deployment, created_ts, started_ts, ready_ts, deleted_ts, restarts,
cpu_request_millicores, cpu_limit_millicores` (unix seconds; NaN where a time never happened or
a limit is unset). `ready_ts` is when the pod first became ready.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from hpabench.contract import PODS_COLUMNS

COLUMNS = PODS_COLUMNS
FLOAT_COLUMNS = ("created_ts", "started_ts", "ready_ts", "deleted_ts", "cpu_request_millicores", "cpu_limit_millicores")


def pods_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows → the pods table with the contract's columns and stable dtypes (pure)."""
    frame = pd.DataFrame([{c: row.get(c) for c in COLUMNS} for row in rows], columns=list(COLUMNS))
    for column in FLOAT_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["restarts"] = pd.to_numeric(frame["restarts"], errors="coerce").fillna(0).astype("int64")
    frame["pod"] = frame["pod"].astype(str)
    frame["deployment"] = frame["deployment"].astype(str)
    return frame.sort_values(["created_ts", "pod"], kind="stable").reset_index(drop=True)


class PodLog:
    """Appends rows to `pods.jsonl` (thread-safe, flushed per row); `write_parquet` converts."""

    def __init__(self, data_dir: Path) -> None:
        self.jsonl = data_dir / "pods.jsonl"
        self.parquet = data_dir / "pods.parquet"
        self._lock = threading.Lock()

    def append(self, row: dict[str, Any]) -> None:
        with self._lock:
            self.jsonl.parent.mkdir(parents=True, exist_ok=True)
            with self.jsonl.open("a", encoding="utf-8") as out:
                out.write(json.dumps(row, sort_keys=True) + "\n")

    def rows(self) -> list[dict[str, Any]]:
        """Every row so far; a torn last line (crash mid-write) is skipped."""
        if not self.jsonl.exists():
            return []
        rows = []
        for line in self.jsonl.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return rows

    def write_parquet(self) -> Path:
        """Write `pods.parquet` from all rows (an empty table with the columns if none)."""
        with self._lock:
            frame = pods_frame(self.rows())
            self.parquet.parent.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(self.parquet, index=False)
        return self.parquet
