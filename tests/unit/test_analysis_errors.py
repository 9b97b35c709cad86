"""Top errors (status, route, count) and the `errors_dominate` flag; the report's section."""

from __future__ import annotations

import json
from pathlib import Path

from hpabench.analysis.errors import annotate_summary, describe, read_errors, top_errors
from hpabench.analysis.report.errors_table import errors_section


def _write(data: Path) -> None:
    rows = [
        {
            "ts": 1.0,
            "process": "worker-1",
            "method": "GET",
            "route": "/a",
            "status": 404,
            "error": "404 Not Found",
            "count": 7,
        },
        {
            "ts": 2.0,
            "process": "worker-2",
            "method": "GET",
            "route": "/a",
            "status": 404,
            "error": "404 Not Found",
            "count": 5,
        },
        {
            "ts": 2.0,
            "process": "worker-2",
            "method": "GET",
            "route": "/b",
            "status": None,
            "error": "ConnectionRefused",
            "count": 3,
        },
    ]
    (data / "errors.worker-1.jsonl").write_text(json.dumps(rows[0]) + "\n")
    (data / "errors.worker-2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[1:]) + '{"torn')


def test_top_errors_are_summed_over_processes_and_ranked(tmp_path: Path) -> None:
    _write(tmp_path)
    top = top_errors(read_errors(tmp_path))
    assert [(e["status"], e["route"], e["count"]) for e in top] == [(404, "/a", 12), (None, "/b", 3)]
    assert top[0]["share"] == 0.8
    assert describe(top[1]).startswith("no response GET /b: 3×")


def test_errors_dominate_flags_and_notes_the_run(tmp_path: Path) -> None:
    _write(tmp_path)
    frame = read_errors(tmp_path)
    mostly_failed: dict = {"flags": [], "notes": []}
    annotate_summary(mostly_failed, frame, requests=20, failures=15)
    assert "errors_dominate" in mostly_failed["flags"]
    assert any("75%" in n and "404 GET /a" in n for n in mostly_failed["notes"])
    healthy: dict = {"flags": [], "notes": []}
    annotate_summary(healthy, frame, requests=1000, failures=15)
    assert healthy["flags"] == [] and healthy["top_errors"][0]["count"] == 12


def test_report_section_lists_errors_and_escapes_them() -> None:
    summary = {
        "flags": ["errors_dominate"],
        "top_errors": [{"status": 500, "method": "GET", "route": "/<x>", "error": "boom", "count": 9, "share": 1.0}],
    }
    html = errors_section(summary)
    assert "Top errors" in html and "Most requests failed" in html
    assert "&lt;x&gt;" in html and "<x>" not in html
    assert errors_section({"top_errors": []}) == ""
    assert read_errors(Path("/nonexistent")).empty
