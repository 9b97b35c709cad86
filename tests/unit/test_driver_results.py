"""Merging per-process jsonl into the contract's parquet files, and the run flags."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hpabench.scenarios.drive.recording import JsonlWriter, SecondRecorder
from hpabench.scenarios.drive.results import (
    CLIENT_COLUMNS,
    LOAD_COLUMNS,
    merge_client_stats,
    merge_load,
    run_flags,
    write_results,
)
from hpabench.scenarios.histogram import LatencyHistogram
from hpabench.scenarios.plan import compile_plan
from hpabench.scenarios.spec import Scenario

T0 = 1_800_000_000.25


def scenario(stages: list[dict[str, Any]]) -> Scenario:
    return Scenario.model_validate({"name": "m", "description": "d", "stages": stages})


def load_row(k: int, process: str, role: str = "worker", **fields: Any) -> dict[str, Any]:
    row = {"ts": T0 + k, "t_s": k, "process": process, "role": role, "users": 0, "completed": 0}
    row.update({"sent": None, "intended": None, "dropped": None, "cpu": 0.1})
    row.update(fields)
    return row


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    writer = JsonlWriter(path)
    writer.write(rows)
    writer.close()


def test_client_stats_merge_recomputes_percentiles_from_merged_histograms(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    samples = {name: rng.lognormal(1.0, 0.8, 3001) for name in ("worker-1", "worker-2")}
    for name, values in samples.items():
        rec = SecondRecorder(name)
        rec.start(T0, T0)
        for i, value in enumerate(values):
            rec.record(T0 + (i % 3) + 0.5, "hot_read" if i % 2 else "cpu", float(value), failed=i % 100 == 0)
        rows, _ = rec.rows_before(3)
        write_rows(tmp_path / f"client_stats.{name}.jsonl", rows)
    frame = merge_client_stats(tmp_path)
    assert list(frame.columns) == CLIENT_COLUMNS
    assert frame["ts"].tolist() == sorted(frame["ts"].tolist())
    all_rows = frame[frame["route"] == "ALL"]
    assert all_rows["ts"].tolist() == [T0, T0 + 1, T0 + 2]
    assert all_rows["requests"].sum() == 6002
    assert all_rows["failures"].sum() == sum(1 for i in range(3001) if i % 100 == 0) * 2
    # one second's merged p95 equals the exact p95 of both processes' samples of that second
    both = np.concatenate([values[[i for i in range(3001) if i % 3 == 0]] for values in samples.values()])
    p95 = float(all_rows.iloc[0]["p95_ms"])
    assert abs(p95 - np.percentile(both, 95, method="inverted_cdf")) / p95 <= 0.01
    hist = LatencyHistogram.from_sparse(json.loads(all_rows.iloc[0]["hist"]))
    assert hist.count == len(both)
    assert frame.dtypes["requests"] == np.int64 and frame.dtypes["p99_ms"] == np.float64


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    rec = SecondRecorder("main")
    rec.start(T0, T0)
    rec.record(T0 + 0.1, "cpu", 5.0, failed=False)
    rows, _ = rec.rows_before(1)
    path = tmp_path / "client_stats.main.jsonl"
    write_rows(path, rows)
    with path.open("a") as handle:
        handle.write('{"ts": 1, "route": "ALL", "requ')  # killed mid-write
    frame = merge_client_stats(tmp_path)
    assert frame["requests"].tolist() == [1, 1]


def test_empty_data_dir_gives_empty_frames_with_contract_columns(tmp_path: Path) -> None:
    s = scenario([{"name": "a", "duration_s": 5, "users": 1}])
    results = write_results(tmp_path, compile_plan(s, 1.0), s.arrivals.behind_window_s)
    assert list(results.client_stats.columns) == CLIENT_COLUMNS and results.client_stats.empty
    assert list(results.load.columns) == LOAD_COLUMNS and results.load.empty
    assert results.flags == [] and results.episodes == []
    assert pd.read_parquet(tmp_path / "load.parquet").empty


def test_load_merge_sums_generators_and_adds_the_plan(tmp_path: Path) -> None:
    s = scenario([{"name": "closed", "duration_s": 2, "users": 10}, {"name": "open", "duration_s": 2, "rps": 50}])
    for name in ("worker-1", "worker-2"):
        rows = [load_row(k, name, users=5, completed=20, sent=21, cpu=0.2) for k in range(2)]
        rows += [load_row(k, name, users=40, completed=24, sent=25, intended=25, dropped=1, cpu=0.3) for k in (2, 3)]
        rows.append(load_row(4, name, users=0, completed=3, sent=0, intended=0, dropped=0, cpu=0.05))
        write_rows(tmp_path / f"load.{name}.jsonl", rows)
    master = [load_row(k, "master", role="master", users=80, cpu=0.5) for k in range(5)]
    write_rows(tmp_path / "load.master.jsonl", master)
    frame = merge_load(tmp_path, compile_plan(s, 1.0))
    assert list(frame.columns) == LOAD_COLUMNS
    assert frame["ts"].tolist() == [T0 + k for k in range(5)]
    assert frame["stage"].tolist()[:4] == ["closed", "closed", "open", "open"]
    assert pd.isna(frame["stage"][4])  # after the plan
    assert frame["planned_users"].tolist()[:2] == [10, 10] and math.isnan(frame["planned_users"][2])
    assert frame["planned_rps"].tolist()[2:4] == [50, 50] and math.isnan(frame["planned_rps"][0])
    assert frame["users"].tolist() == [10, 10, 80, 80, 0]  # the master's total is not counted twice
    assert frame["achieved_rps"].tolist()[:4] == [42, 42, 50, 50]
    assert frame["completed_rps"].tolist()[:4] == [40, 40, 48, 48]
    assert math.isnan(frame["intended_rps"][0]) and frame["intended_rps"].tolist()[2:4] == [50, 50]
    assert frame["dropped_rps"].tolist()[2:4] == [2, 2]
    assert frame["generator_cpu_max"].tolist() == [0.5] * 5  # the master counts for CPU
    assert not frame["generator_overloaded"].any()
    assert str(frame.dtypes["generator_overloaded"]) == "bool"


def test_own_locustfile_achieved_falls_back_to_completed(tmp_path: Path) -> None:
    s = scenario([{"name": "a", "duration_s": 3, "users": 4}])
    write_rows(tmp_path / "load.main.jsonl", [load_row(k, "main", role="standalone", completed=7) for k in range(3)])
    frame = merge_load(tmp_path, compile_plan(s, 1.0))
    assert frame["achieved_rps"].tolist() == [7, 7, 7]


def test_overload_needs_three_busy_seconds_and_becomes_an_episode(tmp_path: Path) -> None:
    s = scenario([{"name": "a", "duration_s": 10, "users": 4}])
    cpus = [0.2, 0.95, 0.3, 0.1, 0.8, 0.9, 0.85, 0.75, 0.2, 0.1]
    write_rows(
        tmp_path / "load.main.jsonl",
        [load_row(k, "main", role="standalone", cpu=cpu, sent=1) for k, cpu in enumerate(cpus)],
    )
    frame = merge_load(tmp_path, compile_plan(s, 1.0))
    # 3-second means: only seconds 6 (0.85) and 7 (0.83) exceed 0.7; the lone 0.95 does not
    assert frame["generator_overloaded"].tolist() == [False] * 6 + [True, True] + [False] * 2
    flags, episodes = run_flags(frame, behind_window_s=10)
    assert flags == ["generator_overloaded"]
    assert len(episodes) == 1
    assert (episodes[0].start_ts, episodes[0].end_ts) == (T0 + 6, T0 + 7)
    assert episodes[0].details["cpu"] == 0.85


def test_generator_behind_when_achieved_stays_below_95_percent(tmp_path: Path) -> None:
    s = scenario([{"name": "o", "duration_s": 12, "rps": 100}])
    rows = [load_row(k, "main", role="standalone", sent=100, intended=100, dropped=0) for k in range(6)]
    rows += [load_row(k, "main", role="standalone", sent=80, intended=100, dropped=20) for k in range(6, 12)]
    rows.append(load_row(12, "main", role="standalone", sent=0, intended=0, dropped=0))  # after the plan
    write_rows(tmp_path / "load.main.jsonl", rows)
    results = write_results(tmp_path, compile_plan(s, 1.0), s.arrivals.behind_window_s)
    assert results.flags == ["generator_behind"]
    (episode,) = results.episodes  # the spec's 10 s window: flagged once 95% is missed over it
    assert episode.kind == "generator_behind" and episode.start_ts >= T0 + 6
    assert episode.details["intended_rps"] == 100 and episode.details["achieved_rps"] == 80
    _, short = run_flags(results.load, behind_window_s=1)
    assert short[0].start_ts == T0 + 6 and short[0].end_ts == T0 + 11


def test_closed_model_is_never_behind(tmp_path: Path) -> None:
    s = scenario([{"name": "c", "duration_s": 5, "users": 50}])
    write_rows(tmp_path / "load.main.jsonl", [load_row(k, "main", role="standalone", sent=1) for k in range(5)])
    assert write_results(tmp_path, compile_plan(s, 1.0), s.arrivals.behind_window_s).flags == []
