"""The per-run HTML report: content, escaping, flags and status, missing data, files written."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from hpabench.analysis.report import lag, render_run_report, write_run_report
from hpabench.analysis.report.plotlyjs import bundled_plotlyjs
from hpabench.analysis.report.scales import format_number
from hpabench.analysis.rundata import load_run
from hpabench.analysis.summary import build_summary
from hpabench.errors import SpecError
from tests.support.synthetic_run import make_synthetic_run
from tests.unit.report_html import HOSTILE, HOSTILE_ATTR, Doc, figures, traces, values


def panel_titles(figure: dict[str, Any]) -> list[str]:
    """The timeline's panel titles, top to bottom (bold annotations above each subplot)."""
    return [
        re.sub(r"<[^>]+>", "", a["text"]).split("  ")[0]
        for a in figure["layout"]["annotations"]
        if a["text"].startswith("<b>")
    ]


def kpi(value: float | None, unit: str, label: str, better: str | None = "lower") -> dict[str, Any]:
    return {"value": value, "unit": unit, "label": label, "better": better}


def summary_for(run_id: str, **extra: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "schema_version": 1,
        "run_id": run_id,
        "status": "completed",
        "scenario": "spike",
        "variant": "baseline",
        "target": "local",
        "kpis": {
            "p95_ms": kpi(812.3, "ms", "client p95 latency"),
            "error_rate": kpi(0.0042, "ratio", "error rate"),
            "reaction_time_s": kpi(14.2, "s", "reaction time"),
            "replica_seconds": kpi(None, "replica·s", "replica-seconds"),
            "lag_metrics_s": kpi(9.0, "s", "metrics delay"),
            "lag_sync_wait_s": kpi(4.0, "s", "sync wait"),
            "lag_hold_s": kpi(0.0, "s", "stabilization hold"),
            "lag_pod_start_s": kpi(6.5, "s", "pod start to ready"),
        },
        "phases": [
            {"name": "baseline", "start_s": 0.0, "end_s": 60.0, "kpis": {"p95_ms": kpi(31.0, "ms", "p95")}},
            {"name": "spike", "start_s": 60.0, "end_s": 150.0, "kpis": {"p95_ms": kpi(2400.0, "ms", "p95")}},
        ],
        "flags": [],
    }
    summary.update(extra)
    return summary


@pytest.fixture(scope="module")
def spike_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_run(tmp_path_factory.mktemp("run") / "r", duration_s=300, pods_max=4, seed=5)


def test_report_has_header_cards_timeline_and_phases(spike_run: Path) -> None:
    run = load_run(spike_run)
    summary = build_summary(run)
    html = render_run_report(run, summary)
    doc = Doc(html)
    assert html.startswith("<!DOCTYPE html>")
    assert "spike · baseline" in doc.joined
    assert "completed" in doc.joined and "target: local" in doc.joined
    p95 = summary["kpis"]["p95_ms"]["value"]
    assert f"client p95 latency {format_number(p95)} ms" in doc.joined  # key numbers in the header
    assert f'card-value">{format_number(p95)} ms<' in html
    assert "SLO 300 ms" in doc.joined  # the card is judged against the run's SLO
    # One shared time axis: six stacked panels whose x axes all follow the first.
    timeline = figures(html)["timeline"]
    assert panel_titles(timeline) == [
        "Load",
        "Latency (log scale)",
        "Error rate",
        "Replicas",
        "CPU per pod vs request",
        "Traffic share per pod",
    ]
    layout = timeline["layout"]
    assert all(layout[f"xaxis{i}"]["matches"] == "x" for i in range(2, 7))
    assert layout["yaxis2"]["type"] == "log"
    names = {t["name"] for t in traces(timeline)}
    assert {"planned", "server p95", "desired (HPA)", "ready", "spec", "pod ready", "SLO p95 300 ms"} <= names
    assert {"request 200m", "limit 500m", "HPA target 60% = 120m", "per-pod CPU"} <= names
    # HPA decisions: markers on Replicas whose hover says what the HPA saw and what held it.
    ups = next(t for t in traces(timeline, "y4") if t["name"] == "HPA scale-up")
    assert ups["hovertemplate"] == "%{text}<extra></extra>"
    assert all("HPA scaled 1 → " in text or "HPA scaled" in text for text in ups["text"])
    first = ups["text"][0]
    assert "saw cpu: " in first and "(target 60%)" in first and "held by: " in first and "reason: " in first
    # Per-pod traffic share: stacked layers, one per web pod.
    shares = traces(timeline, "y6")
    assert len(shares) == len(build_summary(run)["pods"]) and all(t["stackgroup"] for t in shares)
    # Stage buttons zoom every panel to one load stage.
    labels = [b["label"] for b in layout["updatemenus"][0]["buttons"]]
    assert labels[0] == "whole run" and any(label.startswith("spike (") for label in labels)
    assert doc.joined.count("needs JavaScript") == 2  # each chart says so until it is drawn
    # Phase table: every phase with its p95.
    for phase in summary["phases"]:
        assert f"<td>{phase['name']}</td>" in html
        assert f"{format_number(phase['kpis']['p95_ms']['value'])} ms" in html
    # The lag breakdown: one bar per load change, totals from the summary's lag parts.
    up = next(c for c in summary["load_changes"] if c["direction"] == "up")
    total = sum(v for v in up["lag"].values() if v)
    assert "metrics delay" in doc.joined and f">{format_number(total)} s<" in html
    assert "mean of scale-ups" in doc.joined
    assert "/items/{id}" in doc.joined  # the per-route table
    # Offline: no external resources referenced; plotly.js is in the page.
    assert f"<script>{bundled_plotlyjs()}</script>" in html
    ours = html.replace(bundled_plotlyjs(), "")
    assert not re.search(r'(src|href)="(https?:)?//', ours) and "<script src=" not in ours


def test_a_hand_written_summary_drives_cards_and_lag(spike_run: Path) -> None:
    run = load_run(spike_run)
    html = render_run_report(run, summary_for(run.run_id))
    doc = Doc(html)
    assert re.search(r'card-value">812 ms<', html) and re.search(r'card-value">0.42%<', html)
    assert "baseline" in doc.joined and "2,400 ms" in doc.joined
    assert ">19.5 s<" in html  # 9 + 4 + 0 + 6.5: the mean-of-scale-ups bar


def test_every_user_string_is_escaped(tmp_path: Path) -> None:
    path = make_synthetic_run(
        tmp_path / "r", duration_s=120, seed=2, scenario=HOSTILE, variant=HOSTILE_ATTR, run_id=HOSTILE
    )
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["scenario"]["description"] = HOSTILE
    manifest["error"] = HOSTILE
    manifest["status"] = "failed"
    manifest["flags"] = [HOSTILE_ATTR]
    (path / "manifest.json").write_text(json.dumps(manifest))
    with (path / "events.jsonl").open("a") as fh:
        fh.write(json.dumps({"ts": 1_760_000_050.0, "kind": "warning", "message": HOSTILE}) + "\n")
        fh.write(
            json.dumps({"ts": 1_760_000_060.0, "kind": "hpa_rescale", "from": 1, "to": 2, "reason": HOSTILE}) + "\n"
        )
        fh.write(json.dumps({"ts": 1_760_000_061.0, "kind": "load_stage", "name": HOSTILE_ATTR}) + "\n")
    run = load_run(path)
    summary = summary_for(HOSTILE, scenario=HOSTILE, variant=HOSTILE_ATTR, flags=[HOSTILE])
    summary["kpis"][HOSTILE] = kpi(1.0, HOSTILE_ATTR, HOSTILE)
    summary["phases"][0]["name"] = HOSTILE
    html = render_run_report(run, summary)
    doc = Doc(html)
    assert "img" not in doc.tags
    # plotly.js, the boot script and the two figures' JSON (timeline, lag breakdown): nothing else.
    assert doc.tags.count("script") == 4
    assert not [a for a in doc.attributes if a.startswith("on")]
    assert HOSTILE in doc.joined  # shown as text, literally
    assert "alert(1)</script>" not in html
    # Inside the figure JSON the strings are escaped for plotly (shown literally, not as markup).
    timeline = figures(html)["timeline"]
    stage_notes = [a["text"] for a in timeline["layout"]["annotations"]]
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;".replace("&quot;", '"') in stage_notes
    assert all("<img" not in b["label"] for b in timeline["layout"]["updatemenus"][0]["buttons"])


def test_interrupted_run_is_marked_and_partial(tmp_path: Path) -> None:
    run = load_run(make_synthetic_run(tmp_path / "r", duration_s=300, seed=1, interrupted=True))
    html = render_run_report(run, summary_for(run.run_id, status="interrupted"))
    doc = Doc(html)
    assert 'class="badge warn">INTERRUPTED<' in html
    assert "Run INTERRUPTED" in doc.joined
    assert "ran 1:45 of 5:00 planned" in doc.joined
    assert "interrupted by the user" in doc.joined


def test_flags_are_prominent(tmp_path: Path) -> None:
    path = make_synthetic_run(tmp_path / "r", duration_s=120, seed=1, generator_overloaded=True)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["host"]["cgroups_enforced"] = False
    (path / "manifest.json").write_text(json.dumps(manifest))
    run = load_run(path)
    html = render_run_report(run, summary_for(run.run_id, flags=["generator_overloaded", "generator_behind"]))
    banner = re.search(r'<div class="banner bad"><strong>Flags.*?</div>', html)
    assert banner is not None
    text = Doc(banner.group(0)).joined
    # The driver's episode: from the first second whose 3 s mean CPU is past 70 % (spike at 0:24).
    assert "Load generator overloaded" in text and "(first at 0:25)" in text
    assert "fell behind the intended arrival rate" in text
    assert "limits were not enforced" in text
    # The banner comes before the KPIs: it must be read first.
    assert html.index("Flags — read before") < html.index("Key performance indicators")


def test_missing_data_renders_no_data_instead_of_crashing(tmp_path: Path) -> None:
    path = make_synthetic_run(tmp_path / "r", duration_s=60, seed=1, with_prom=False)
    for name in ("client_stats.parquet", "load.parquet", "hpa.parquet"):
        (path / "data" / name).unlink()
    for jsonl in (path / "data").glob("*.jsonl"):  # their incremental forms: readers fall back to them
        if not jsonl.name.startswith("pods."):
            jsonl.unlink()
    run = load_run(path)
    html = render_run_report(run, {"kpis": {"p95_ms": kpi(None, "ms", "client p95 latency")}})
    doc = Doc(html)
    assert "client p95 latency –" in doc.joined
    notes = [a["text"] for a in figures(html)["timeline"]["layout"]["annotations"] if a["text"].startswith("<i>")]
    # Latency and errors: nothing recorded (load has the plan); no Prometheus: no CPU, no shares.
    assert notes == [
        "<i>no data</i>",
        "<i>no data</i>",
        "<i>no per-pod CPU data</i>",
        "<i>no per-pod request rates</i>",
    ]
    assert "data/client_stats missing" in doc.joined  # the loader's notes are shown
    assert "No phases in the summary." in doc.joined
    assert "no load change with a scale response" in doc.joined


def test_analysis_notes_are_not_called_missing_data(tmp_path: Path) -> None:
    path = make_synthetic_run(tmp_path / "r", duration_s=60, seed=1)
    for name in ("hpa.parquet", "hpa.jsonl"):
        (path / "data" / name).unlink(missing_ok=True)
    run = load_run(path)
    relay = "web→postgres: delay 5 ms applied by the userspace delay relay, not netem"
    html = render_run_report(run, summary_for(run.run_id, notes=[*run.notes, relay]))
    missing = re.search(r"<strong>Missing or unreadable data</strong>.*?</div>", html)
    other = re.search(r"<strong>Notes — read with the numbers</strong>.*?</div>", html)
    assert missing is not None and other is not None
    assert "data/hpa missing" in missing.group(0) and relay not in missing.group(0)
    assert relay in other.group(0) and "data/hpa missing" not in other.group(0)


def test_a_directory_with_only_a_manifest_renders(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"run_id": "x", "status": "failed", "error": "deploy failed"}))
    run = load_run(tmp_path)
    html = render_run_report(run, {})
    assert "Run FAILED" in html and "deploy failed" in html
    assert "No KPIs in the summary." in html


def test_write_run_report_uses_summary_json(spike_run: Path, tmp_path: Path) -> None:
    path = tmp_path / "copy"
    shutil.copytree(spike_run, path)
    (path / "summary.json").write_text(json.dumps(summary_for("copy", variant="from-summary-json")))
    out = write_run_report(path)
    assert out == path / "report.html"
    assert "spike · from-summary-json" in Doc(out.read_text()).joined
    assert not list(path.glob(".*.tmp"))  # atomic write left no temp file


@pytest.mark.parametrize(
    ("content", "why"),
    [("{not json", "summary.json unreadable"), ('{"schema_version": 99, "kpis": {}}', "another schema version")],
)
def test_write_run_report_recomputes_a_bad_summary_and_says_so(
    spike_run: Path, tmp_path: Path, content: str, why: str
) -> None:
    path = tmp_path / "copy"
    shutil.copytree(spike_run, path)
    (path / "summary.json").write_text(content)
    text = Doc(write_run_report(path).read_text()).joined
    assert why in text and "KPIs recomputed from the run's data" in text
    p95 = build_summary(load_run(path))["kpis"]["p95_ms"]["value"]
    assert f"client p95 latency {format_number(p95)} ms" in text
    assert (path / "summary.json").read_text() == content  # not the report's job to rewrite it


def test_write_run_report_computes_a_missing_summary(spike_run: Path, tmp_path: Path) -> None:
    path = tmp_path / "copy"
    shutil.copytree(spike_run, path)
    expected = build_summary(load_run(path))
    html = write_run_report(path).read_text()
    p95 = expected["kpis"]["p95_ms"]["value"]
    assert f'card-value">{format_number(p95)} ms<' in html
    assert not (path / "summary.json").exists()  # writing it is the analyze stage's job


def test_write_run_report_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        write_run_report(tmp_path / "nope")
    with pytest.raises(SpecError, match="not a run directory"):
        write_run_report(tmp_path)


def test_lag_section_draws_each_change_and_explains_gaps() -> None:
    summary = {
        "load_changes": [
            {
                "t_s": 60.0,
                "phase": "spike",
                "direction": "up",
                "before": 22.0,
                "after": 320.0,
                "replicas_before": 1.0,
                "replicas_target": 4.0,
                "reaction_s": 18.0,
                "ready_s": 41.0,
                "settling_s": 41.0,
                "lag": {"metrics_s": 12.5, "sync_wait_s": 5.5, "hold_s": 0.0, "pod_start_s": 23.0},
                "p95_recovery_s": 45.0,
                "capped": True,
            },
            {
                "t_s": 150.0,
                "phase": HOSTILE,
                "direction": "down",
                "before": 320.0,
                "after": 22.0,
                "replicas_before": 4.0,
                "replicas_target": None,
                "reaction_s": None,
                "ready_s": None,
                "settling_s": None,
                "lag": {"metrics_s": None, "sync_wait_s": None, "hold_s": None, "pod_start_s": None},
                "p95_recovery_s": None,
                "capped": False,
            },
        ]
    }
    html = lag.render_lag_section(summary)
    doc = Doc(html)
    assert "↑ 1:00 1→4 pods" in doc.joined and ">41 s<" in html  # 12.5 + 5.5 + 0 + 23
    bars = figures(html)["lag-chart"]["data"][:4]
    assert [t["name"] for t in bars] == [seg.label for seg in lag.SEGMENTS]
    assert [values(t["x"])[0] for t in bars] == [5.5, 12.5, pytest.approx(math.nan, nan_ok=True), 23.0]
    assert all(values(t["x"]).size == 1 for t in bars)  # the all-null change has no bar
    assert "<td>↑ 1:00 1→4 pods</td><td>5.5 s</td><td>12.5 s</td><td>0 s</td><td>23 s</td><td>41 s</td>" in html
    assert "capped at min/max replicas" in doc.joined
    assert "capacity never reached the desired count" in doc.joined
    assert doc.tags.count("script") == 1 and HOSTILE in doc.joined  # the figure's JSON only
    assert "no load change with a scale response" in lag.render_lag_section({"load_changes": []})


def test_closed_model_run_gets_a_users_panel_and_no_scaling_renders(tmp_path: Path) -> None:
    path = make_synthetic_run(tmp_path / "r", duration_s=120, seed=4, closed_model=True, scale_events=False)
    run = load_run(path)
    html = render_run_report(run, build_summary(run))
    timeline = figures(html)["timeline"]
    titles = panel_titles(timeline)
    assert titles[:2] == ["Load", "Users (closed model)"] and len(titles) == 7
    names = {t["name"] for t in traces(timeline)}
    assert {"planned users", "maxReplicas 1"} <= names
    assert not {"HPA scale-up", "HPA scale-down"} & names  # no rescale happened, none drawn
    assert not [s for s in timeline["layout"]["shapes"] if s["type"] == "line"]
