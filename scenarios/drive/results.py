"""Merging the per-process jsonl files of a run into `client_stats.parquet` and `load.parquet`.

Parent-side (no Locust). Inputs in `data/`: `client_stats.<process>.jsonl` and
`load.<process>.jsonl` (see `recording.py` and `locust_recorder.py`); torn last lines (a killed
process) are skipped. Outputs follow docs/contracts.md:

Every process buckets by run second k (interval [t0 + k, t0 + k + 1), t0 = load start), so rows
of different processes line up exactly and `ts - load_started_at` is a whole number.

* `client_stats.parquet` — one row per second × route (+ `ALL`): counts summed over processes,
  histograms merged, percentiles recomputed from the merged histogram (never averaged).
* `load.parquet` — one row per second: the plan at the middle of that second (`stage`,
  `planned_users`, `planned_rps`), `users` (sum over generators), `intended_rps` (open model),
  `achieved_rps` (requests sent by hpabench users; completed ones for a user's own locustfile),
  `completed_rps`, `dropped_rps`, `generator_cpu_max` (max over processes, fraction of a core)
  and `generator_overloaded` (any process's 3-second mean CPU above `OVERLOAD_CPU`).

`run_flags` turns the load frame into run flags and event episodes (`generator_overloaded`,
`generator_behind`), evaluated only inside the planned load phase.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hpabench import contract
from hpabench.scenarios.drive.pacing import behind_flags
from hpabench.scenarios.drive.recording import STAT_COLUMNS, latency_fields
from hpabench.scenarios.histogram import LatencyHistogram
from hpabench.scenarios.plan import SAMPLE_OFFSET_S, Plan

OVERLOAD_CPU = 0.70
OVERLOAD_WINDOW_S = 3
# The contract's columns (hpabench.contract), as lists for pandas.
CLIENT_COLUMNS = list(contract.CLIENT_COLUMNS)
LOAD_COLUMNS = list(contract.LOAD_COLUMNS)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of one jsonl file; a torn or corrupt line (process killed mid-write) is skipped."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                return
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                yield row


def process_files(data_dir: Path, kind: str) -> list[Path]:
    """`<kind>.<process>.jsonl` files in `data_dir`, sorted by name."""
    return sorted(data_dir.glob(f"{kind}.*.jsonl"))


def merge_client_stats(data_dir: Path) -> pd.DataFrame:
    """See the module docstring; an empty frame with the contract's columns if nothing was written."""
    merged: dict[tuple[int, str], list[Any]] = {}
    for path in process_files(data_dir, "client_stats"):
        for row in read_jsonl(path):
            key = (int(row["t_s"]), str(row["route"]))
            hist = LatencyHistogram.from_sparse(row["hist"])
            entry = merged.get(key)
            if entry is None:
                merged[key] = [hist, int(row["failures"]), float(row["ts"])]
            else:
                entry[0].merge(hist)
                entry[1] += int(row["failures"])
    records = []
    for (_, route), (hist, failures, ts) in sorted(merged.items()):
        fields = latency_fields(hist)
        records.append(
            {
                "ts": ts,
                "route": route,
                "requests": hist.count,
                "failures": failures,
                **{name: math.nan if fields[name] is None else fields[name] for name in STAT_COLUMNS},
                "hist": json.dumps(hist.to_sparse(), separators=(",", ":")),
            }
        )
    frame = pd.DataFrame.from_records(records, columns=CLIENT_COLUMNS)
    dtypes: dict[str, str] = {"ts": "float64", "route": "object", "requests": "int64", "failures": "int64"}
    dtypes.update({name: "float64" for name in STAT_COLUMNS})
    dtypes["hist"] = "object"
    return frame.astype(dtypes)


@dataclass
class _Second:
    ts: float
    users: int = 0
    completed: int = 0
    sent: int = 0
    sent_missing: bool = False
    intended: int | None = None
    dropped: int | None = None
    cpu_max: float = 0.0
    overloaded: bool = False


def _process_rows(path: Path) -> list[dict[str, Any]]:
    rows = sorted(read_jsonl(path), key=lambda row: int(row["t_s"]))
    # per-process smoothed CPU: a single busy second (imports, GC) is not an overload
    window: list[float] = []
    for row in rows:
        window = [*window[-(OVERLOAD_WINDOW_S - 1) :], float(row.get("cpu") or 0.0)]
        row["_overloaded"] = len(window) == OVERLOAD_WINDOW_S and sum(window) / len(window) > OVERLOAD_CPU
    return rows


def merge_load(data_dir: Path, plan: Plan) -> pd.DataFrame:
    """See the module docstring. Run second k is planned at k + 0.5 (the middle of the second),
    the same sampling as the run's planned.parquet (`Plan.per_second`)."""
    seconds: dict[int, _Second] = {}
    for path in process_files(data_dir, "load"):
        for row in _process_rows(path):
            k = int(row["t_s"])
            second = seconds.get(k) or seconds.setdefault(k, _Second(float(row["ts"])))
            generator = row.get("role") != "master"
            if generator:
                second.users += int(row.get("users") or 0)
                second.completed += int(row.get("completed") or 0)
                if row.get("sent") is None:
                    second.sent_missing = True
                else:
                    second.sent += int(row["sent"])
                if row.get("intended") is not None:
                    second.intended = (second.intended or 0) + int(row["intended"])
                    second.dropped = (second.dropped or 0) + int(row.get("dropped") or 0)
            second.cpu_max = max(second.cpu_max, float(row.get("cpu") or 0.0))
            second.overloaded = second.overloaded or bool(row["_overloaded"])
    records = []
    for k, second in sorted(seconds.items()):
        target = plan.target_at(k + SAMPLE_OFFSET_S) if k >= 0 else None
        planned_rps = target.rps if target is not None and target.rps is not None else math.nan
        open_second = target is not None and target.rps is not None
        records.append(
            {
                "ts": second.ts,
                "stage": target.stage if target is not None else None,
                "planned_users": float(target.users) if target is not None and target.users is not None else math.nan,
                "planned_rps": planned_rps,
                "users": float(second.users),
                "intended_rps": float(second.intended) if second.intended is not None and open_second else math.nan,
                "achieved_rps": float(second.completed if second.sent_missing else second.sent),
                "completed_rps": float(second.completed),
                "dropped_rps": float(second.dropped) if second.dropped is not None and open_second else math.nan,
                "generator_cpu_max": second.cpu_max,
                "generator_overloaded": second.overloaded,
            }
        )
    frame = pd.DataFrame.from_records(records, columns=LOAD_COLUMNS)
    dtypes = {column: "float64" for column in LOAD_COLUMNS}
    dtypes.update({"stage": "object", "generator_overloaded": "bool"})
    return frame.astype(dtypes)


@dataclass(frozen=True)
class Episode:
    """A contiguous stretch of seconds with a flag raised: kind, first/last second, details."""

    kind: str
    start_ts: float
    end_ts: float
    details: dict[str, float]


def _episodes(flags: list[bool], frame: pd.DataFrame) -> Iterator[pd.DataFrame]:
    start = None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            yield frame.iloc[start:i]
            start = None


def run_flags(load: pd.DataFrame, behind_window_s: float) -> tuple[list[str], list[Episode]]:
    """Flags and episodes of `generator_overloaded` and `generator_behind` within the plan."""
    in_plan = load[load["stage"].notna()].reset_index(drop=True)
    episodes: list[Episode] = []
    overloaded = [bool(x) for x in in_plan["generator_overloaded"]]
    for part in _episodes(overloaded, in_plan):
        cpu = float(part["generator_cpu_max"].max())
        episodes.append(
            Episode("generator_overloaded", float(part["ts"].iloc[0]), float(part["ts"].iloc[-1]), {"cpu": cpu})
        )
    window = max(1, round(behind_window_s))
    behind = behind_flags(in_plan["intended_rps"].tolist(), in_plan["achieved_rps"].tolist(), window)
    for part in _episodes(behind, in_plan):
        details = {
            "intended_rps": round(float(part["intended_rps"].mean()), 2),
            "achieved_rps": round(float(part["achieved_rps"].mean()), 2),
            "generator_cpu_max": round(float(part["generator_cpu_max"].max()), 3),
        }
        episodes.append(Episode("generator_behind", float(part["ts"].iloc[0]), float(part["ts"].iloc[-1]), details))
    flags = sorted({episode.kind for episode in episodes})
    return flags, episodes


@dataclass(frozen=True)
class MergedResults:
    client_stats: pd.DataFrame
    load: pd.DataFrame
    flags: list[str]
    episodes: list[Episode]


def write_results(data_dir: Path, plan: Plan, behind_window_s: float) -> MergedResults:
    """Merge the jsonl files and write `client_stats.parquet` and `load.parquet` (jsonl kept);
    `behind_window_s`: how long the generator may lag before the run is flagged (Arrivals)."""
    client = merge_client_stats(data_dir)
    load = merge_load(data_dir, plan)
    client.to_parquet(data_dir / "client_stats.parquet", index=False)
    load.to_parquet(data_dir / "load.parquet", index=False)
    flags, episodes = run_flags(load, behind_window_s)
    return MergedResults(client, load, flags, episodes)
