"""Scenario events on the run report's main timeline: one shaded span per event, from its start to
its end in run seconds, labelled with its kind, in the kind's colour (the events strip's too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hpabench.analysis.report import run_series
from hpabench.analysis.report.figures import time_ms_at
from hpabench.analysis.report.panels import Span, event_color
from hpabench.analysis.report.run_page import render_run_report
from hpabench.analysis.report.timeline_figure import SPAN_SHAPE_PREFIX, timeline_figure
from hpabench.analysis.rundata import load_run
from hpabench.analysis.summary import build_summary
from tests.support.synthetic_run import make_synthetic_run
from tests.unit.report_html import figures


def add_scenario_events(run_path: Path) -> None:
    """A rollout 40–55 s, a kill-pod 80–83 s and a restart-db still running at the end (from 100 s)."""
    t0 = float(json.loads((run_path / "manifest.json").read_text())["load_started_at"])
    rows = [
        (40.0, "upgrade", "rollout", "started"),
        (55.0, "upgrade", "rollout", "finished"),
        (80.0, "kill", "kill-pod", "started"),
        (83.0, "kill", "kill-pod", "failed"),
        (100.0, "db", "restart-db", "started"),
    ]
    with (run_path / "events.jsonl").open("a", encoding="utf-8") as handle:
        for t_s, name, kind, state in rows:
            row = {"ts": t0 + t_s, "kind": "scenario_event", "name": name, "event": kind, "state": state}
            handle.write(json.dumps(row) + "\n")


def event_shapes(layout: Any) -> list[dict[str, Any]]:
    shapes = [s if isinstance(s, dict) else s.to_plotly_json() for s in layout["shapes"] or []]
    return [s for s in shapes if str(s.get("name", "")).startswith(SPAN_SHAPE_PREFIX)]


def test_each_scenario_event_is_a_span_in_run_seconds(tmp_path: Path) -> None:
    path = make_synthetic_run(tmp_path / "run", duration_s=120.0, seed=3)
    add_scenario_events(path)
    run = load_run(path)
    spans = run_series.spans(run)
    _, end_s = run_series.time_range(run)
    assert [(s.kind, s.t0_s, s.t1_s) for s in spans] == [
        ("rollout", 40.0, 55.0),
        ("kill-pod", 80.0, 83.0),
        ("restart-db", 100.0, end_s),  # still running when the data ends
    ]
    assert "kill (kill-pod, failed)" in spans[1].detail
    figure, _ = timeline_figure(run_series.run_panels(run), 0.0, end_s, run_series.markers(run), spans=spans)
    shapes = event_shapes(figure.layout)
    assert [(s["name"], s["x0"], s["x1"]) for s in shapes] == [
        ("event:rollout", time_ms_at(40.0), time_ms_at(55.0)),
        ("event:kill-pod", time_ms_at(80.0), time_ms_at(83.0)),
        ("event:restart-db", time_ms_at(100.0), time_ms_at(end_s)),
    ]
    # across every panel of the shared axis, in the kind's colour, behind the data
    assert all(s["xref"] == "x" and s["yref"] == "paper" and (s["y0"], s["y1"]) == (0, 1) for s in shapes)
    assert all(s["layer"] == "below" for s in shapes)
    rollout_rgb = ",".join(str(int(event_color("rollout")[i : i + 2], 16)) for i in (1, 3, 5))
    assert shapes[0]["fillcolor"].startswith(f"rgba({rollout_rgb},")
    labels = [a for a in figure.layout.annotations if a.hovertext]
    assert [(a.text, a.x) for a in labels] == [
        ("rollout", time_ms_at(40.0)),
        ("kill-pod", time_ms_at(80.0)),
        ("restart-db", time_ms_at(100.0)),
    ]
    assert labels[0].font.color == event_color("rollout") and "upgrade" in labels[0].hovertext


def test_spans_are_clipped_to_the_range_and_overlapping_labels_stack() -> None:
    spans = [Span(-5.0, 10.0, "rollout", "rollout"), Span(5.0, 50.0, "kill-pod", "kill-pod"), Span(80, 90, "x", "x")]
    figure, _ = timeline_figure([], 0.0, 60.0, spans=spans)
    shapes = event_shapes(figure.layout)
    assert [(s["x0"], s["x1"]) for s in shapes] == [
        (time_ms_at(0.0), time_ms_at(10.0)),
        (time_ms_at(5.0), time_ms_at(50.0)),
    ]
    labels = [a for a in figure.layout.annotations if a.hovertext]
    assert labels[0].yshift != labels[1].yshift  # the second overlaps the first: one row lower


def test_the_report_page_carries_the_spans_and_a_run_without_events_has_none(tmp_path: Path) -> None:
    path = make_synthetic_run(tmp_path / "run", duration_s=120.0, seed=3)
    plain = load_run(path)
    html = render_run_report(plain, build_summary(plain), plotlyjs="shared", plotlyjs_src="plotly.min.js")
    assert event_shapes(figures(html)["timeline"]["layout"]) == []
    add_scenario_events(path)
    run = load_run(path)
    html = render_run_report(run, build_summary(run), plotlyjs="shared", plotlyjs_src="plotly.min.js")
    names = [s["name"] for s in event_shapes(figures(html)["timeline"]["layout"])]
    assert names == ["event:rollout", "event:kill-pod", "event:restart-db"]
    assert f'fill="{event_color("kill-pod")}"' in html  # the events strip uses the same colour
