"""Per-second recording inside a Locust process (no Locust needed) and the per-process runtime."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from hpabench.scenarios.drive.locust_runtime import ProcessRuntime, RuntimeConfig, read_clock, write_clock
from hpabench.scenarios.drive.recording import ALL_ROUTE, JsonlWriter, SecondRecorder
from hpabench.scenarios.histogram import LatencyHistogram
from hpabench.scenarios.spec import Scenario

T0 = 1_700_000_000.4


def test_requests_are_bucketed_by_run_second_and_route() -> None:
    rec = SecondRecorder("main")
    rec.start(T0 + 0.01, T0)
    rec.record(T0 + 0.2, "hot_read", 1.0, failed=False)
    rec.record(T0 + 0.9, "hot_read", 3.0, failed=False)
    rec.record(T0 + 0.95, "cpu", 20.0, failed=True)
    rec.record(T0 + 1.1, "cpu", 10.0, failed=False)  # second 1
    rows, completed = rec.rows_before(1)
    assert completed == {0: 3}
    by_route = {row["route"]: row for row in rows}
    assert set(by_route) == {"hot_read", "cpu", ALL_ROUTE}
    assert by_route[ALL_ROUTE]["requests"] == 3 and by_route[ALL_ROUTE]["failures"] == 1
    assert by_route["cpu"]["failures"] == 1 and by_route["hot_read"]["failures"] == 0
    assert all(row["ts"] == T0 and row["t_s"] == 0 and row["process"] == "main" for row in rows)
    assert by_route[ALL_ROUTE]["max_ms"] == 20.0
    assert by_route[ALL_ROUTE]["mean_ms"] == pytest.approx(8.0)
    hist = LatencyHistogram.from_sparse(by_route[ALL_ROUTE]["hist"])
    assert hist.count == 3
    assert rec.pending_seconds == 1  # second 1 is still open
    json.dumps(rows)  # plain JSON, no NaN


def test_idle_seconds_still_get_an_all_row_with_null_latencies() -> None:
    rec = SecondRecorder("w1")
    rec.start(T0, T0)
    rec.record(T0 + 2.5, "write", 5.0, failed=False)
    rows, completed = rec.rows_before(3)
    assert completed == {0: 0, 1: 0, 2: 1}
    idle = [row for row in rows if row["t_s"] == 0]
    assert len(idle) == 1 and idle[0]["route"] == ALL_ROUTE and idle[0]["requests"] == 0
    assert idle[0]["p95_ms"] is None and idle[0]["mean_ms"] is None and idle[0]["max_ms"] is None
    # rows are written once: asking again yields nothing new
    assert rec.rows_before(3) == ([], {})


def test_recorder_percentiles_match_exact_ones_per_second() -> None:
    rng = np.random.default_rng(1)
    samples = rng.lognormal(0.5, 1.0, 5001)
    rec = SecondRecorder("main")
    rec.start(T0, T0)
    for value in samples:
        rec.record(T0 + 0.5, "hot_read", float(value), failed=False)
    rows, _ = rec.rows_before(1)
    row = next(row for row in rows if row["route"] == ALL_ROUTE)
    for column, q in (("p50_ms", 50), ("p90_ms", 90), ("p95_ms", 95), ("p99_ms", 99), ("p999_ms", 99.9)):
        exact = float(np.percentile(samples, q, method="inverted_cdf"))
        assert abs(row[column] - exact) / exact <= 0.01, column


def test_memory_is_bounded_by_unwritten_seconds() -> None:
    rec = SecondRecorder("main")
    rec.start(T0, T0)
    for second in range(600):
        for i in range(20):
            rec.record(T0 + second + i / 20, "hot_read", 1.0 + i, failed=False)
        rec.rows_before(second)  # the flusher writes every finished second
        assert rec.pending_seconds <= 1


def test_jsonl_writer_appends_flushed_lines_and_lazy_files(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path / "a.jsonl")
    writer.write([{"x": 1}, {"x": 2}])
    # flushed immediately: a reader sees both lines while the writer is still open
    assert [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()] == [{"x": 1}, {"x": 2}]
    writer.close()
    writer.write([{"x": 3}])  # after close: ignored, not an error
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 2
    lazy = JsonlWriter(tmp_path / "b.jsonl", lazy=True)
    lazy.close()
    assert not (tmp_path / "b.jsonl").exists()


def _runtime(tmp_path: Path, stages: list[dict[str, object]], generators: int = 1, index: int = 0) -> ProcessRuntime:
    scenario = Scenario.model_validate({"name": "r", "description": "d", "stages": stages})
    return ProcessRuntime(RuntimeConfig(scenario, 0.5, tmp_path, generators), f"p{index}", index)


def test_runtime_config_round_trip_and_clock(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, [{"name": "a", "duration_s": 10, "users": 3}])
    path = tmp_path / "cfg.json"
    runtime.config.write(path)
    again = RuntimeConfig.read(path)
    # Locust processes get the compiled plan and the users' behaviour, never the scenario itself.
    assert again.scenario is None and again == dataclasses.replace(runtime.config, scenario=None)
    assert again.compiled_plan.target_at(5.0) == runtime.config.compiled_plan.target_at(5.0)
    assert read_clock(tmp_path) == {}
    write_clock(tmp_path, t0=T0, source="shape")
    write_clock(tmp_path, t_end=T0 + 5)
    assert read_clock(tmp_path) == {"t0": T0, "source": "shape", "t_end": T0 + 5}


def test_runtime_targets_follow_the_scaled_plan(tmp_path: Path) -> None:
    runtime = _runtime(
        tmp_path, [{"name": "a", "duration_s": 10, "users": 3}, {"name": "b", "duration_s": 10, "rps": 40}]
    )
    runtime.set_t0(T0)
    assert runtime.duration_s == 10.0  # 20 s at time scale 0.5
    a = runtime.target(T0 + 1.0)
    assert a is not None and a.users == 3 and not runtime.is_open_model(T0 + 1.0)
    assert runtime.is_open_model(T0 + 6.0)
    b = runtime.target(T0 + 6.0)
    assert b is not None and runtime.users_for(b) == runtime.open_pool_users == 80  # 40 req/s x 2 s
    assert runtime.target(T0 + 10.5) is None


def test_runtime_counts_sent_and_intended_per_run_second(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, [{"name": "o", "duration_s": 20, "rps": 20}], generators=2)
    assert runtime.claim_arrival(T0) is None  # no t0 yet: no schedule
    runtime.count_sent(T0)  # ignored before t0
    runtime.set_t0(T0)
    now = T0
    sent = 0
    while now < T0 + 5.0:
        arrival = runtime.claim_arrival(now)
        if arrival is None:
            now += 0.1
            continue
        now = max(now, arrival)
        runtime.count_sent(now)
        sent += 1
    counts = runtime.take_counts(now, before_second=5)
    assert sorted(counts) == [0, 1, 2, 3, 4]
    # this process carries half of the 20 req/s (2 generators)
    assert sum(row["intended"] for row in counts.values()) == pytest.approx(50, abs=4)
    assert sum(row["sent"] for row in counts.values()) == sum(row["intended"] for row in counts.values())
    assert all(row["dropped"] == 0 for row in counts.values())
    assert runtime.take_counts(now, before_second=5) == {}


def test_users_get_distinct_reproducible_rngs(tmp_path: Path) -> None:
    one = _runtime(tmp_path, [{"name": "a", "duration_s": 1, "users": 1}])
    two = _runtime(tmp_path, [{"name": "a", "duration_s": 1, "users": 1}])
    a1, a2 = one.user_rng(), one.user_rng()
    b1 = two.user_rng()
    assert a1.random() == b1.random()
    assert a1.random() != a2.random()
    other_process = _runtime(tmp_path, [{"name": "a", "duration_s": 1, "users": 1}], index=1)
    assert other_process.user_rng().random() != one.user_rng().random()
    assert not math.isnan(one.think_time_s(a1))
