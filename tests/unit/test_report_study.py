"""The study page: ranking, marks, detectable differences, Pareto view, recommendation, runs in
order; user strings escaped."""

from __future__ import annotations

from typing import Any

import numpy as np

from hpabench.analysis.report.study_page import render_study_report
from tests.unit.report_html import HOSTILE, HOSTILE_ATTR, Doc


def study(description: str = "", reason: str = "") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rng = np.random.default_rng(1)
    means = {"baseline": (400.0, 100.0), "fast": (200.0, 140.0), "same": (400.0, 100.0)}  # p95, cost
    records = []
    for index, (rep, variant) in enumerate((r, v) for r in (1, 2, 3) for v in means):
        p95, cost = means[variant]
        records.append(
            {
                "key": f"spike/{variant}/r{rep}",
                "index": index,
                "scenario": "spike",
                "variant": variant,
                "repetition": rep,
                "run_path": f"/x/runs/run-{index}",
                "status": "completed",
                "failed": bool(reason) and variant == "same",
                "reasons": [reason] if reason and variant == "same" else [],
                "kpis": {
                    "p95_ms": float(rng.normal(p95, 10)),
                    "error_rate": 0.0,
                    "slo_violation_pct": float(rng.normal(p95 / 20, 1)),
                    "replica_seconds": float(rng.normal(cost, 3)),
                },
                "sync_phase": 0.25,
                "sync_phase_measured_s": 3.8,
                "sync_period_s": 15.0,
            }
        )
    spec = {
        "name": "review",
        "description": description,
        "scenarios": ["spike"],
        "baseline": "baseline",
        "repetitions": 3,
        "primary_kpi": "p95_ms",
        "cost_kpi": "replica_seconds",
        "seed": 4,
        "sync_phase": {"mode": "seeded", "hold_across_variants": True},
    }
    variants = {
        "baseline": {},
        "fast": {"web": {"resources": {"requests": {"cpu": "400m"}}}, "hpa": {"scale_point": "iso"}},
        "same": {"web": {"resources": {"limits": {"cpu": "250m"}, "requests": None}}},  # a limit only
    }
    header = {
        "spec": spec,
        "time_scale": 0.5,
        "seed": 4,
        "plan": [{"key": r["key"]} for r in records],
        "variants": variants,
    }
    return header, records


def test_ranking_marks_and_recommendation() -> None:
    header, records = study()
    html = render_study_report(header, records)
    text = Doc(html).joined
    assert "Ship fast" in text  # significantly better p95, no failed trials
    ranking = html.split("Ranking on client p95 latency", 1)[1].split("</table>", 1)[0]
    assert ranking.index(">fast<") < min(ranking.index(">baseline (baseline)<"), ranking.index(">same<"))
    assert "n.s." in ranking and ("**" in ranking or "*" in ranking)
    assert "min. detectable" in html and "Pareto" in html and "<svg" in html
    assert "fast: iso" in text  # the scale-point mode is stated
    assert "same: raw" not in text  # a CPU limit does not move the scale point
    assert text.count("spike/") == 0 and "run-8" in html  # runs listed in order, linked by run id
    assert "3.8 s" in text  # the measured HPA phase


def test_failed_trials_are_marked_and_strings_escaped() -> None:
    header, records = study(description=HOSTILE, reason=HOSTILE_ATTR)
    html = render_study_report(header, records)
    doc = Doc(html)
    assert "script" not in doc.tags[doc.tags.index("body") :] or doc.tags.count("script") == 1
    assert "img" not in doc.tags and "onerror" not in doc.attributes
    assert HOSTILE in doc.joined and "3 failed" in doc.joined
