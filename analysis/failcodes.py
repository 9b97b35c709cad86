"""Failed requests by HTTP status code, read from the driver's per-process jsonl files.

The recorder adds `fail_codes` ({"502": n, "0": m}; "0" = no response) to the `ALL` row of each
second in `data/client_stats.<process>.jsonl` (docs/contracts.md). `load_fail_codes(data_dir,
origin)` returns a frame `t_s` (second since `origin`), `code` (str), `count` (int), summed over
processes; empty (with those columns) when no request failed or the files are absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

COLUMNS = ("t_s", "code", "count")


def load_fail_codes(data_dir: Path, origin: float) -> pd.DataFrame:
    counts: dict[tuple[float, str], int] = {}
    for path in sorted(data_dir.glob("client_stats.*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line of an interrupted run
                codes = row.get("fail_codes") if isinstance(row, dict) and row.get("route") == "ALL" else None
                if not isinstance(codes, dict):
                    continue
                t_s = round(float(row["ts"]) - origin)
                for code, count in codes.items():
                    counts[(t_s, str(code))] = counts.get((t_s, str(code)), 0) + int(count)
    if not counts:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c == "t_s" else "object") for c in COLUMNS})
    return pd.DataFrame([(t, c, n) for (t, c), n in sorted(counts.items())], columns=list(COLUMNS))
