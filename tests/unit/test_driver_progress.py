"""The live progress view: tailing growing jsonl files and formatting the status line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hpabench.scenarios.drive.progress import LiveSecond, LiveTail, format_progress
from hpabench.scenarios.drive.recording import SecondRecorder

T0 = 1_900_000_000.0


def append(path: Path, rows: list[dict[str, Any]], partial: str = "") -> None:
    with path.open("a") as handle:
        handle.write("".join(json.dumps(row) + "\n" for row in rows) + partial)


def client_rows(process: str, k: int, latencies: list[float]) -> list[dict[str, Any]]:
    rec = SecondRecorder(process)
    rec.start(T0 + k, T0)
    for value in latencies:
        rec.record(T0 + k + 0.5, "hot_read", value, failed=value > 100)
    rows, _ = rec.rows_before(k + 1)
    return rows


def load_row(process: str, k: int, role: str = "worker", **fields: Any) -> dict[str, Any]:
    return {"ts": T0 + k, "t_s": k, "process": process, "role": role, "users": 3, "sent": 10, "cpu": 0.2, **fields}


def test_tail_reads_only_complete_new_lines(tmp_path: Path) -> None:
    tail = LiveTail(tmp_path)
    tail.poll()
    assert tail.latest() is None
    path = tmp_path / "client_stats.main.jsonl"
    rows = client_rows("main", 0, [1.0, 2.0, 300.0])
    append(path, rows[:-1], partial=json.dumps(rows[-1])[:20])  # the ALL row is half written
    tail.poll()
    assert tail.latest() is None or tail.latest().requests == 0  # type: ignore[union-attr]
    with path.open("a") as handle:
        handle.write(json.dumps(rows[-1])[20:] + "\n")
    tail.poll()
    second = tail.latest()
    assert second is not None and second.requests == 3 and second.failures == 1
    tail.poll()  # nothing new: nothing counted twice
    assert tail.latest().requests == 3  # type: ignore[union-attr]


def test_latest_waits_for_every_generator_and_ignores_the_master(tmp_path: Path) -> None:
    tail = LiveTail(tmp_path)
    append(tmp_path / "load.worker-1.jsonl", [load_row("worker-1", 0), load_row("worker-1", 1)])
    append(tmp_path / "load.worker-2.jsonl", [load_row("worker-2", 0)])
    append(tmp_path / "load.master.jsonl", [load_row("master", k, role="master", users=6, cpu=0.9) for k in (0, 1)])
    tail.poll()
    latest = tail.latest()
    assert latest is not None and latest.ts == 0  # worker-2 has not reported second 1 yet
    assert latest.users == 6 and latest.sent == 20
    assert latest.cpu_max == 0.9


def test_memory_is_bounded_to_the_last_seconds(tmp_path: Path) -> None:
    tail = LiveTail(tmp_path, keep_s=10)
    path = tmp_path / "load.main.jsonl"
    for k in range(100):
        append(path, [load_row("main", k, role="standalone")])
        tail.poll()
    assert len(tail.seconds) <= 11
    assert tail.latest().ts == 99  # type: ignore[union-attr]


def test_format_progress_shows_the_issue_fields() -> None:
    second = LiveSecond(ts=42, requests=200, failures=4, users=150, sent=210, intended=None, cpu_max=0.31)
    for value in [10.0] * 190 + [250.0] * 10:
        second.hist.record(value)
    line = format_progress("spike", 95.0, 255.0, second, None, {"ready_replicas": 2, "replicas": 3})
    for part in (
        "spike",
        "01:35/04:15",
        "users 150",
        "offered 210 req/s",
        "achieved 200 req/s",
        "p95 10 ms",
        "errors 2.0%",
        "ready 2/3",
        "gen cpu 31%",
    ):
        assert part in line, part


def test_format_progress_open_model_and_missing_data() -> None:
    second = LiveSecond(ts=1, requests=0, intended=120, sent=100)
    line = format_progress("crowd", 5, 60, second, planned_rps=125.0)
    assert "offered 120 req/s (plan 125)" in line and "p95 -" in line and "errors 0.0%" in line
    assert "waiting" in format_progress("starting", 0, 60, None)


def test_the_line_describes_the_measured_second_not_the_wall_clock() -> None:
    from hpabench.scenarios.catalogue import load_scenario
    from hpabench.scenarios.drive.progress import measured_instant_s
    from hpabench.scenarios.shapes import target_at

    assert measured_instant_s(3.0, None) == 3.0  # nothing measured yet: the wall clock
    assert measured_instant_s(19.7, 17) == 17.5  # the middle of the newest complete second
    assert measured_instant_s(17.2, 17) == 17.2  # never ahead of the clock
    # Just after a stage boundary the newest complete second still belongs to the stage before:
    # the line must name that stage, with the users it measured (the reported "spike … users 12").
    spike = load_scenario("spike")
    boundary_s = next(t for t in range(1, 400) if target_at(spike, t, 0.25).stage != target_at(spike, 0, 0.25).stage)
    before = target_at(spike, 0, 0.25).stage
    assert target_at(spike, measured_instant_s(boundary_s + 0.6, boundary_s - 1), 0.25).stage == before
