"""The comparison HTML report, built from a hand-made `Comparison` (the statistics are tested
with analysis/compare; here only what the page shows from them)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpabench.analysis.compare import Comparison, Difference, Group, GroupStats, KpiRow, RunRef
from hpabench.analysis.report import render_compare_report, write_compare_report
from hpabench.analysis.report.overlays import group_band, t_quantile
from hpabench.errors import SpecError
from tests.unit.report_html import HOSTILE, HOSTILE_ATTR, Doc, figures, traces, values


def timeline(duration_s: int, replicas_peak: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(float(duration_s))
    spike = (t >= 60) & (t < 150)
    frame = pd.DataFrame(
        {
            "t_s": t,
            "planned": np.where(spike, 400.0, 50.0),
            "intended_rps": np.where(spike, 400.0, 50.0),
            "achieved_rps": np.where(spike, 390.0, 50.0) + rng.normal(0, 3, t.size),
            "p50_ms": np.full(t.size, 5.0),
            "p95_ms": np.where(spike, 600.0, 20.0),
            "p99_ms": np.where(spike, 900.0, 40.0),
            "error_ratio": np.where(spike, 0.02, 0.0),
            "ready_replicas": np.where(t >= 80, replicas_peak, 1.0),
            "desired_replicas": np.where(t >= 70, replicas_peak, 1.0),
        }
    )
    frame.attrs["planned_unit"] = "rps"
    return frame


def stats(*values: float) -> GroupStats:
    arr = np.asarray(values)
    stdev = float(arr.std(ddof=1)) if arr.size > 1 else None
    return GroupStats(arr.size, float(arr.mean()), float(np.median(arr)), stdev, arr.min(), arr.max(), values)


def make_comparison(variant_b: str = "fast-scale", run_id: str = "b-1") -> Comparison:
    ref_key, b_key = "spike/baseline", f"spike/{variant_b}"

    def ref(run: str, variant: str, seed: int, peak: float, status: str = "completed") -> RunRef:
        flags = ("generator_overloaded",) if seed == 3 else ()
        return RunRef(run, Path(run), "spike", variant, status, flags, {}, timeline(300, peak, seed))

    groups = (
        Group(ref_key, "spike", "baseline", (ref("a-1", "baseline", 1, 4), ref("a-2", "baseline", 2, 4))),
        Group(b_key, "spike", variant_b, (ref(run_id, variant_b, 3, 6), ref("b-2", variant_b, 4, 6, "interrupted"))),
    )
    rows = (
        KpiRow(
            "p95_ms",
            "client p95 latency",
            "ms",
            "lower",
            {ref_key: stats(800, 850), b_key: stats(400, 420)},
            b_key,
            True,
            (Difference("p95_ms", b_key, ref_key, "mean", -415.0, -0.503, -480.0, -350.0, 0.95, True, True, 2, 2),),
        ),
        KpiRow(
            "error_rate",
            "error rate",
            "ratio",
            "lower",
            {ref_key: stats(0.03, 0.035), b_key: stats(0.02, 0.04)},
            b_key,
            False,
            (Difference("error_rate", b_key, ref_key, "mean", -0.0025, -0.077, -0.02, 0.015, 0.95, False, True, 2, 2),),
        ),
        KpiRow(
            "replica_seconds",
            "replica-seconds",
            "replica·s",
            None,
            {ref_key: stats(700, 720), b_key: GroupStats(0, None, None, None, None, None, ())},
            None,
            False,
            (Difference("replica_seconds", b_key, ref_key, "mean", None, None, None, None, 0.95, False, None, 0, 2),),
        ),
    )
    return Comparison(
        groups=groups,
        reference=ref_key,
        rows=rows,
        phase_rows={"spike": rows[:1]},
        verdict=f"{variant_b} halves p95. Error rate: no significant difference.",
        verdict_lines=(f"{variant_b} halves p95 (significant).", "Error rate: no significant difference (noise)."),
        warnings=("b-2 was interrupted",),
    )


def test_kpi_table_shows_winner_ci_and_significance() -> None:
    html = render_compare_report(make_comparison())
    doc = Doc(html)
    p95_row = re.search(r"<tr><td>client p95 latency.*?</tr>", html)
    assert p95_row is not None
    row = p95_row.group(0)
    assert '<td class="win">' in row and ">410 ms" in row and "winner" in row
    assert "−415 ms" in row and "(−50%)" in row and "95% CI [-480 … -350]" in row
    assert "✔ significant, better" in row
    errors_row = re.search(r"<tr><td>error rate.*?</tr>", html)
    assert errors_row is not None
    assert "best, not significant" in errors_row.group(0) and "not significant" in errors_row.group(0)
    assert "3.25%" in errors_row.group(0) and "± 0.354 pp" in errors_row.group(0)
    assert "−0.25 pp" in errors_row.group(0)  # a ratio difference is shown in percentage points
    informational = re.search(r"<tr><td>replica-seconds.*?</tr>", html)
    assert informational is not None and 'class="win"' not in informational.group(0)
    assert "halves p95 (significant)." in doc.joined  # the verdict
    assert "spike/baseline (reference)" in doc.joined


def test_overlays_draw_each_group_mean_with_a_band_and_the_runs_behind_toggles() -> None:
    html = render_compare_report(make_comparison())
    figure = figures(html)["compare-timeline"]
    layout = figure["layout"]
    assert all(layout[f"xaxis{i}"]["matches"] == "x" for i in (2, 3, 4))
    assert layout["yaxis2"]["type"] == "log"  # p95
    load = traces(figure, "y")
    means = [t for t in load if t.get("name", "").endswith("(mean of 2)")]
    assert [t["name"] for t in means] == ["spike/baseline (mean of 2)", "spike/fast-scale (mean of 2)"]
    bands = [t for t in load if t.get("fill") == "tonexty"]
    assert [b["legendgroup"] for b in bands] == [m["name"] for m in means]  # a band toggles with its mean
    runs = [t for t in load if " #" in t.get("name", "")]
    assert len(runs) == 4 and all(t["visible"] == "legendonly" for t in runs)
    assert "planned (reference)" in {t.get("name") for t in load}
    # One legend for the whole figure: the other panels repeat the groups without entries.
    assert not [t for t in traces(figure, "y3") if t.get("showlegend", True)]
    assert ready_band_high(figure) == pytest.approx(4.0)
    # The band is the mean's CI: where both runs of a group agree exactly, it is zero wide.


def ready_band_high(figure: dict) -> float:
    ready = [t for t in traces(figure, "y4") if t.get("fill") == "tonexty"]
    return float(np.nanmax(values(ready[0]["y"])))


def test_group_band_is_the_t_interval_of_the_mean() -> None:
    comparison = make_comparison()
    runs = comparison.groups[0].runs
    band = group_band(runs, "achieved_rps", 0.95)
    a = runs[0].timeline["achieved_rps"].to_numpy()
    b = runs[1].timeline["achieved_rps"].to_numpy()
    mean = (a + b) / 2
    half = t_quantile(0.975, 1) * np.abs(a - b) / math.sqrt(2) / math.sqrt(2)
    assert band.n.tolist() == [2.0] * 300
    assert np.allclose(band.mean, mean) and np.allclose(band.high - band.mean, half)
    single = group_band(runs[:1], "achieved_rps", 0.95)
    assert np.isnan(single.low).all() and np.allclose(single.mean, a)  # one run: no band


@pytest.mark.parametrize(
    ("df", "expected"), [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (9, 2.262), (29, 2.045), (5000, 1.960)]
)
def test_t_quantile_matches_the_table(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=0.01)


def test_planned_users_are_not_drawn_on_the_request_rate_axis() -> None:
    comparison = make_comparison()
    for group in comparison.groups:
        for run in group.runs:
            run.timeline.attrs["planned_unit"] = "users"
    html = render_compare_report(comparison)
    assert "planned (reference)" not in html


def test_warnings_flags_and_partial_runs_are_listed() -> None:
    text = Doc(render_compare_report(make_comparison())).joined
    assert "b-2 was interrupted" in text
    assert "b-1: Load generator overloaded" in text
    assert "b-2: status interrupted" in text


def test_comparison_escapes_user_strings() -> None:
    comparison = make_comparison(variant_b=HOSTILE_ATTR, run_id=HOSTILE)
    html = render_compare_report(comparison)
    doc = Doc(html)
    assert "img" not in doc.tags
    assert doc.tags.count("script") == 3  # plotly.js, the boot script, the figure's JSON
    assert not [a for a in doc.attributes if a.startswith("on")]
    assert HOSTILE in doc.joined and HOSTILE_ATTR in doc.joined
    names = {t["name"] for t in figures(html)["compare-timeline"]["data"] if "name" in t}
    assert any("(&lt;script&gt;alert(1)&lt;/script&gt;)" in n for n in names)  # run ids, escaped for plotly
    assert not any("<script" in n or "<img" in n for n in names)


def test_an_empty_comparison_renders() -> None:
    empty = Comparison(groups=(), reference="", rows=(), phase_rows={}, verdict="", verdict_lines=())
    html = render_compare_report(empty)
    assert "No KPIs to compare." in html and "No verdict." in html
    notes = [a for a in figures(html)["compare-timeline"]["layout"]["annotations"] if "no data" in a["text"]]
    assert len(notes) == 4


def test_write_compare_report_rejects_a_non_run(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        write_compare_report([tmp_path / "missing"], tmp_path / "out.html")
    assert not (tmp_path / "out.html").exists()


def test_headline_kpis_first_and_every_kpi_behind_a_toggle() -> None:
    comparison = make_comparison()
    extra = KpiRow("fairness_jain", "Jain fairness", "index", "higher", {}, None, False, ())
    comparison = Comparison(comparison.groups, comparison.reference, (extra, *comparison.rows), {}, "v", ("v",))
    html = render_compare_report(comparison)
    short, rest = html.split("<details><summary>all 4 KPIs</summary>", 1)
    assert "Jain fairness" not in short.split("Key KPIs")[1]
    assert "Jain fairness" in rest and "client p95 latency" in rest
    assert short.index("client p95 latency") < short.index("error rate")  # headline order
    assert "No phase common to every group." in html
