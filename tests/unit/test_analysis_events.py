"""Events as phase boundaries in the analysis: windows, KPIs, rollout KPIs and the report section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hpabench.analysis.events import back_within_slo_s, event_spans
from hpabench.analysis.latency import ClientHistograms, route_rows
from hpabench.analysis.report.events_section import render_events_section
from hpabench.analysis.report.run_page import render_run_report
from hpabench.analysis.rundata import load_run
from hpabench.analysis.summary import build_summary
from tests.support.synthetic_run import make_synthetic_run


def _add_events(run_path: Path, rows: list[dict[str, Any]]) -> None:
    with (run_path / "events.jsonl").open("a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def _rollout_run(tmp_path: Path) -> tuple[Path, float]:
    path = make_synthetic_run(tmp_path / "run", duration_s=120.0, seed=3)
    t0 = float(json.loads((path / "manifest.json").read_text())["load_started_at"])
    _add_events(
        path,
        [
            {"ts": t0 + 40.0, "kind": "scenario_event", "name": "upgrade", "event": "rollout", "state": "started",
             "planned_t_s": 40.0, "params": {"image_tag": "0.2.0"}},
            {"ts": t0 + 44.0, "kind": "pod_terminating", "pod": "web-old-1", "deployment": "web", "drained": True,
             "grace_left_s": 1.0},
            {"ts": t0 + 48.0, "kind": "pod_terminating", "pod": "web-old-2", "deployment": "web", "drained": False,
             "grace_left_s": 0.0},
            {"ts": t0 + 55.0, "kind": "scenario_event", "name": "upgrade", "event": "rollout", "state": "finished",
             "result": {"duration_s": 15.0, "min_ready": 2}},
            {"ts": t0 + 80.0, "kind": "scenario_event", "name": "kill", "event": "kill-pod", "state": "started",
             "params": {"count": 1}},
            {"ts": t0 + 83.0, "kind": "scenario_event", "name": "kill", "event": "kill-pod", "state": "finished",
             "result": {"killed": ["web-x"]}},
        ],
    )  # fmt: skip
    # Failed requests by status code in the driver's jsonl (the recorder's fail_codes).
    with (path / "data" / "client_stats.main.jsonl").open("w", encoding="utf-8") as handle:
        for second, codes in ((45, {"502": 3}), (46, {"503": 2, "0": 1}), (90, {"502": 5})):
            handle.write(json.dumps({"ts": t0 + second, "route": "ALL", "fail_codes": codes}) + "\n")
    return path, t0


def test_each_event_has_before_during_after_windows_that_tile_the_run(tmp_path: Path) -> None:
    path, _ = _rollout_run(tmp_path)
    summary = build_summary(load_run(path))
    events = summary["events"]
    assert [(e["name"], e["kind"], e["state"]) for e in events] == [
        ("upgrade", "rollout", "finished"),
        ("kill", "kill-pod", "finished"),
    ]
    upgrade, kill = events
    windows = [(p["name"], p["start_s"], p["end_s"]) for p in upgrade["phases"]]
    assert windows == [("before", 0.0, 40.0), ("during", 40.0, 55.0), ("after", 55.0, 80.0)]
    assert [(p["start_s"], p["end_s"]) for p in kill["phases"]] == [(55.0, 80.0), (80.0, 83.0), (83.0, 120.0)]
    during = upgrade["phases"][1]["kpis"]
    run = load_run(path)
    client = route_rows(run.client)
    in_window = client[(client["t_s"] >= 40) & (client["t_s"] < 55)]
    assert during["requests"]["value"] == int(in_window["requests"].sum())
    assert during["failures"]["value"] == int(in_window["failures"].sum())
    assert set(during) >= {"p95_ms", "p99_ms", "slo_violation_s", "ready_replicas_min", "hpa_decisions"}
    assert upgrade["fail_codes"] == {"502": 3, "503": 2, "0": 1}
    rollout = upgrade["rollout"]
    assert rollout["rollout_duration_s"]["value"] == 15.0
    assert rollout["rollout_502"]["value"] == 3 and rollout["rollout_503"]["value"] == 2
    assert rollout["rollout_undrained_pods"]["value"] == 1
    assert "rollout" not in kill and kill["fail_codes"] == {}


def test_back_within_slo_counts_from_the_event_to_a_held_recovery(tmp_path: Path) -> None:
    path = make_synthetic_run(tmp_path / "run", duration_s=300.0, seed=1, scale_events=False)
    hists = ClientHistograms(route_rows(load_run(path).client))
    loose = {"p95_ms": 1e9, "error_rate": 1.0}
    assert back_within_slo_s(hists, 0.0, 300.0, loose) == 0.0
    strict = {"p95_ms": 0.001, "error_rate": 0.0}
    assert back_within_slo_s(hists, 0.0, 300.0, strict) is None


def test_an_event_still_running_at_the_end_spans_to_the_end() -> None:
    spans = event_spans(
        [{"kind": "scenario_event", "name": "r", "event": "rollout", "state": "started", "t_s": 10.0}], 30.0
    )
    assert [(s.name, s.start_s, s.end_s, s.state) for s in spans] == [("r", 10.0, 30.0, "running")]


def test_report_shows_the_events_section_with_escaped_names(tmp_path: Path) -> None:
    path, _ = _rollout_run(tmp_path)
    run = load_run(path)
    summary = build_summary(run)
    summary["events"][0]["name"] = "<up>"
    html = render_events_section(summary)
    assert "Events during load" in html and "&lt;up&gt;" in html and "<up>" not in html
    assert html.count("<h3>") == 2 and "before" in html and "during" in html and "after" in html
    assert "502: 3" in html and "rollout duration" in html
    assert "Events during load" in render_run_report(run, summary)
    assert render_events_section({"events": []}) == ""
