"""The Replicas panel's points: HPA decisions with what the HPA saw and what held it, pods
becoming ready, faults."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hpabench.analysis.report.hpa_marks import decision_points, fault_points, held_by, metrics_text, ready_points
from hpabench.analysis.rundata import load_run
from tests.support.synthetic_run import make_synthetic_run


def row(raw: int, stabilized: int, desired: int, current: int = 4) -> dict[str, object]:
    return {
        "raw_recommendation": raw,
        "stabilized_recommendation": stabilized,
        "desired_replicas": desired,
        "current_replicas": current,
    }


def test_held_by_names_the_stage_that_kept_the_recommendation() -> None:
    assert held_by(row(4, 4, 4), 1, 10) == ""
    assert held_by(row(2, 4, 4), 1, 10) == "scale-down stabilization window (recommendation 2 → 4)"
    assert held_by(row(20, 20, 10), 1, 10) == "maxReplicas 10"
    assert held_by(row(0, 0, 1, current=2), 1, 10) == "minReplicas 1"
    assert held_by(row(12, 12, 8), 1, 20) == "scale policy rate limit (12 → 8)"
    both = held_by(row(2, 3, 4, current=6), 1, 20)
    assert both.startswith("scale-down stabilization window") and "rate limit (3 → 4)" in both
    assert held_by({"desired_replicas": None}, None, None) == ""  # missing data: nothing claimed


def test_metrics_text_reads_the_hpa_metrics_cell() -> None:
    cell = json.dumps({"cpu": {"current": 183.4, "target": 60, "type": "Resource"}, "rps": {"current": 12}})
    assert metrics_text(cell) == "cpu: 183% (target 60%), rps: 12"
    assert metrics_text("{not json") == "" and metrics_text(None) == ""


def test_decision_points_from_the_hpa_timeline(tmp_path: Path) -> None:
    run = load_run(make_synthetic_run(tmp_path / "r", duration_s=300, pods_max=4, seed=1))
    points = {p.name: p for p in decision_points(run)}
    assert set(points) >= {"HPA scale-up", "HPA scale-down"}
    hpa = run.hpa
    moved = hpa[hpa["desired_replicas"] != hpa["current_replicas"]]
    ups = moved[moved["desired_replicas"] > moved["current_replicas"]]
    up = points["HPA scale-up"]
    assert up.t_s.tolist() == ups["t_s"].tolist() and up.y.tolist() == ups["desired_replicas"].astype(float).tolist()
    first = up.hover[0].split("\n")
    assert first[0].endswith(
        f"HPA scaled {int(ups.iloc[0]['current_replicas'])} → {int(ups.iloc[0]['desired_replicas'])}"
    )
    assert first[1].startswith("saw cpu: ") and any(line.startswith("held by: ") for line in first)
    assert first[-1] == f"reason: {ups.iloc[0]['reason']}"


def test_without_an_hpa_timeline_the_rescale_events_are_used(tmp_path: Path) -> None:
    path = make_synthetic_run(tmp_path / "r", duration_s=300, pods_max=4, seed=1)
    (path / "data" / "hpa.parquet").unlink()
    (path / "data" / "hpa.jsonl").unlink()  # its incremental form: the reader falls back to it
    run = load_run(path)
    events = [e for e in run.events if e["kind"] == "hpa_rescale"]
    points = decision_points(run)
    assert sum(len(p.t_s) for p in points) == len(events)
    assert all("reason: " in text for p in points for text in p.hover)


def test_ready_and_fault_points(tmp_path: Path) -> None:
    path = make_synthetic_run(tmp_path / "r", duration_s=120, pods_max=2, seed=1)
    with (path / "events.jsonl").open("a") as fh:
        fh.write(json.dumps({"ts": 1_760_000_050.0, "kind": "fault", "message": "killed web-1"}) + "\n")
    run = load_run(path)
    grid = np.arange(0.0, 120.0)
    ready = np.where(grid >= 30, 2.0, 1.0)
    (pods,) = ready_points(run, grid, ready)
    web = [e for e in run.events if e["kind"] == "pod_ready" and e.get("deployment") == "web"]
    assert len(pods.t_s) == len(web) and all("pod ready: " in h for h in pods.hover)
    (faults,) = fault_points(run)
    assert faults.t_s.tolist() == [50.0] and faults.hover == ["0:50 fault: killed web-1"]
    assert fault_points(load_run(make_synthetic_run(tmp_path / "q", duration_s=60, seed=2))) == []
