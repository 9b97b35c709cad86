"""Chart building blocks of the HTML reports: scales, downsampling, the figure helper, the
shared-time-axis plotly figure."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from hpabench.analysis.report.downsample import minmax_downsample
from hpabench.analysis.report.figures import ORIGIN_MS, chart, figure_json, pareto_front, pareto_scatter, plot_text
from hpabench.analysis.report.htmlkit import esc
from hpabench.analysis.report.panels import Band, HLine, Marker, Panel, Points, Series
from hpabench.analysis.report.scales import format_elapsed, format_number
from hpabench.analysis.report.timeline_figure import DRAW_BUCKETS, timeline_figure
from tests.unit.report_html import Doc, values

HOSTILE = '"><img src=x onerror=alert(1)><script>alert(1)</script>'


# --- scales -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t_s", "text"), [(0, "0:00"), (75.4, "1:15"), (3725, "1:02:05"), (-5, "-0:05"), (math.nan, "–")]
)
def test_format_elapsed(t_s: float, text: str) -> None:
    assert format_elapsed(t_s) == text


@pytest.mark.parametrize(
    ("value", "text"), [(1234.7, "1,235"), (0.012345, "0.0123"), (12.5, "12.5"), (0, "0"), (None, "–")]
)
def test_format_number(value: float | None, text: str) -> None:
    assert format_number(value) == text


# --- downsampling -----------------------------------------------------------------------------


def test_short_series_is_unchanged() -> None:
    t = np.arange(10.0)
    y = t * 2
    out_t, out_y = minmax_downsample(t, y, buckets=10)
    assert np.array_equal(out_t, t) and np.array_equal(out_y, y)


def test_downsample_bounds_points_and_keeps_every_bucket_extreme() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(3600.0)
    y = rng.normal(100, 5, t.size)
    y[1234] = 900.0  # a one-second spike must survive
    y[2500] = -50.0
    out_t, out_y = minmax_downsample(t, y, buckets=100)
    assert out_t.size <= 200
    assert out_y.max() == 900.0 and out_y.min() == -50.0
    assert 1234.0 in out_t and 2500.0 in out_t
    assert np.all(np.diff(out_t) >= 0)  # time order kept
    # Every bucket's true min and max are in the output.
    for b in range(100):
        chunk = y[b * 36 : (b + 1) * 36]
        assert chunk.max() in out_y and chunk.min() in out_y


def test_downsample_keeps_gaps_as_nan() -> None:
    t = np.arange(1000.0)
    y = np.ones(1000)
    y[400:600] = np.nan
    out_t, out_y = minmax_downsample(t, y, buckets=50)
    gap = (out_t >= 400) & (out_t < 600)
    assert np.isnan(out_y[gap]).any()
    assert np.isfinite(out_y[~np.isnan(out_y)]).all()
    assert out_t.size <= 2 * 50 + 50


def test_downsample_rejects_mismatched_input() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        minmax_downsample(np.arange(3.0), np.arange(4.0), 2)


# --- escaping and the figure helper -------------------------------------------------------------


def test_plot_text_makes_markup_literal_for_plotly() -> None:
    assert plot_text("<b>x</b> & y\nz") == "&lt;b&gt;x&lt;/b&gt; &amp; y<br>z"
    assert "<" not in esc(HOSTILE) and '"' not in esc(HOSTILE)


def test_figure_json_cannot_end_its_script_element() -> None:
    fig = go.Figure(go.Scatter(x=[1.0, 2.0], y=[1.0, math.nan], name="</script><script>alert(1)</script>\u2028"))
    payload = figure_json(fig)
    assert "</script" not in payload and "<" not in payload and ">" not in payload and "&" not in payload
    assert json.loads(payload)["data"][0]["name"].startswith("</script>")  # the same string, once parsed


def test_chart_has_a_plot_div_the_json_and_a_noscript_note() -> None:
    html = chart(go.Figure(go.Scatter(x=[1], y=[2])), HOSTILE, label=HOSTILE, caption=HOSTILE)
    doc = Doc(html)
    assert "img" not in doc.tags and doc.tags.count("script") == 1
    assert not [a for a in doc.attributes if a.startswith("on")]
    assert '<p class="nojs">' in html and "needs JavaScript" in doc.joined  # removed by the boot script
    assert HOSTILE in doc.joined  # the caption, as text


def test_pareto_front_and_scatter() -> None:
    frame = pd.DataFrame(
        {"cost": [10.0, 5.0, 7.0, 12.0, math.nan], "p95": [100.0, 300.0, 150.0, 90.0, 1.0], "run": list("abcde")}
    )
    assert pareto_front(frame["cost"], frame["p95"]).tolist() == [True, True, True, True, False]
    frame.loc[0, "p95"] = 400.0  # now beaten by c (cheaper and faster)
    assert pareto_front(frame["cost"], frame["p95"]).tolist() == [False, True, True, True, False]
    fig = pareto_scatter(frame.assign(run=[HOSTILE, *"bcde"]), "cost", "p95", "run", x_title="cost", y_title="p95")
    points, front = fig.data
    assert points.text[0] == plot_text(HOSTILE) and "%{text}" in points.hovertemplate
    assert values(front.x).tolist() == [5.0, 7.0, 12.0]


# --- the shared-time-axis figure ---------------------------------------------------------------


def _series(name: str, n: int = 3600, color: str = "#123456") -> Series:
    t = np.arange(float(n))
    return Series(name, t, np.sin(t / 100.0) * 50 + 60, color)


def _fig(panels: list[Panel], t1_s: float = 3600.0, markers: list[Marker] | None = None) -> dict:
    fig, _ = timeline_figure(panels, 0.0, t1_s, markers or [])
    return json.loads(fig.to_json())


def test_every_panel_is_a_subplot_whose_x_axis_follows_the_first() -> None:
    layout = _fig([Panel(f"p{i}", "u", [_series("s")]) for i in range(4)])["layout"]
    assert [k for k in layout if k.startswith("xaxis")] == ["xaxis", "xaxis2", "xaxis3", "xaxis4"]
    assert all(layout[f"xaxis{i}"]["matches"] == "x" for i in (2, 3, 4))
    assert "matches" not in layout["xaxis"] and layout["xaxis"]["type"] == "date"
    domains = [layout[k]["domain"] for k in ("yaxis", "yaxis2", "yaxis3", "yaxis4")]
    assert all(a[0] > b[1] for a, b in itertools.pairwise(domains))  # stacked top to bottom, no overlap
    assert layout["hovermode"] == "x unified"
    assert [layout[f"legend{i}"]["y"] for i in (2, 3, 4)] == [d[1] for d in domains[1:]]  # a legend per panel


def test_timeline_escapes_every_label() -> None:
    points = Points(HOSTILE, np.array([5.0]), np.array([1.0]), [HOSTILE], "#000")
    panel = Panel(HOSTILE, HOSTILE, [_series(HOSTILE)], [HLine(10.0, HOSTILE)], [points], note=HOSTILE)
    fig = _fig([panel], markers=[Marker(10.0, HOSTILE, "stage"), Marker(20.0, HOSTILE, "scale_up")])
    text = json.dumps(fig)
    assert "<script" not in text and "<img" not in text  # only escaped forms reach plotly
    assert plot_text(HOSTILE) in {t["name"] for t in fig["data"]}
    assert fig["data"][-1]["text"] == [plot_text(HOSTILE)]
    labels = [b["label"] for b in fig["layout"]["updatemenus"][0]["buttons"]]
    assert labels[1].startswith(plot_text(HOSTILE))


def test_lines_are_reduced_per_pixel_and_the_reduction_is_reported() -> None:
    fig, reduction = timeline_figure([Panel("p", "u", [_series("s", 3600), _series("t", 3600)])], 0.0, 3600.0)
    x = values(json.loads(fig.to_json())["data"][0]["x"])
    assert 100 < x.size <= 2 * DRAW_BUCKETS
    assert reduction.samples == 7200 and reduction.drawn < reduction.samples
    assert "minimum and maximum of every 3.6 s" in reduction.describe()
    _, small = timeline_figure([Panel("p", "u", [_series("s", 100)])], 0.0, 100.0)
    assert not small.reduced and small.describe() == ""


def test_x_is_milliseconds_since_the_load_start_from_a_one_day_origin() -> None:
    t = np.array([0.0, 1.5, 5.0, 90.0])
    fig = _fig([Panel("p", "u", [Series("s", t, np.ones(4), "#000")])], 90.0)
    # From the origin, no x has 2 or 4 digits (plotly would read those as years on a date axis).
    assert values(fig["data"][0]["x"]) - ORIGIN_MS == pytest.approx([0.0, 1500.0, 5000.0, 90000.0], abs=8)
    assert ORIGIN_MS == 86_400_000 and all(len(str(int(x))) >= 8 for x in values(fig["data"][0]["x"]))
    assert fig["layout"]["xaxis"]["range"] == [ORIGIN_MS, ORIGIN_MS + 90000.0]
    assert fig["layout"]["xaxis"]["tickformat"] == "%-M:%S"
    assert _fig([Panel("p", "u", [_series("s")])], 3600.0)["layout"]["xaxis"]["tickformat"] == "%-H:%M:%S"


def test_panel_without_data_says_so() -> None:
    empty = Series("nothing", np.empty(0), np.empty(0), "#000")
    all_nan = Series("nan", np.arange(5.0), np.full(5, np.nan), "#000")
    fig = _fig([Panel("Empty", "x", [empty]), Panel("NaN", "x", [all_nan]), Panel("None", "x")], 10.0)
    notes = [a for a in fig["layout"]["annotations"] if "no data" in a["text"]]
    assert [n["yref"] for n in notes] == ["y domain", "y2 domain", "y3 domain"]


def test_steps_gaps_log_axes_and_stacks() -> None:
    t = np.array([0.0, 10.0, 20.0, 30.0])
    steps = Series("replicas", t, np.array([1.0, 3.0, 3.0, 2.0]), "#000", step=True)
    gappy = Series("gappy", t, np.array([1.0, np.nan, 2.0, 2.5]), "#111")
    share = Series("pod", t, np.full(4, 100.0), "#222", stack=True)
    fig = _fig(
        [Panel("r", "pods", [steps, gappy]), Panel("lat", "ms", [gappy], log_y=True), Panel("s", "%", [share])], 30
    )
    first, second = fig["data"][:2]
    assert first["line"]["shape"] == "hv" and second["line"]["shape"] == "linear"
    assert np.isnan(values(second["y"])[1]) and second["connectgaps"] is False
    assert fig["layout"]["yaxis2"]["type"] == "log"
    assert fig["data"][3]["stackgroup"] and fig["layout"]["yaxis3"]["range"] == [0, 100]


def test_legend_groups_collapse_per_pod_lines_and_bands_follow_their_line() -> None:
    pods = [Series(f"pod-{i}", np.arange(10.0), np.ones(10), "#000", legend_group="per-pod CPU") for i in range(5)]
    band = Band("ci", np.arange(10.0), np.zeros(10), np.ones(10), "#2563eb", legend_group="g (mean of 3)")
    mean = Series("g (mean of 3)", np.arange(10.0), np.ones(10), "#2563eb", legend_group="g (mean of 3)")
    fig = _fig([Panel("cpu", "m", pods), Panel("cmp", "x", [mean], bands=[band])], 10.0)
    shown = [t for t in fig["data"] if t.get("showlegend", True)]
    assert [t["name"] for t in shown] == ["per-pod CPU", "g (mean of 3)"]
    upper = next(t for t in fig["data"] if t.get("fill") == "tonexty")
    assert upper["legendgroup"] == "g (mean of 3)" and upper["fillcolor"].startswith("rgba(37,99,235,")


def test_stage_markers_shade_the_run_and_become_range_buttons() -> None:
    markers = [Marker(0.0, "baseline", "stage"), Marker(60.0, "spike", "stage"), Marker(-30.0, "before", "scale_up")]
    markers.append(Marker(70.0, "1→3", "scale_up"))
    fig = _fig([Panel("p", "u", [_series("s", 100)])], 100.0, markers)
    rects = [s for s in fig["layout"]["shapes"] if s["type"] == "rect"]
    assert [(r["x0"] - ORIGIN_MS, r["x1"] - ORIGIN_MS) for r in rects] == [(0.0, 60000.0), (60000.0, 100000.0)]
    lines = [s for s in fig["layout"]["shapes"] if s["type"] == "line"]
    assert [s["x0"] - ORIGIN_MS for s in lines] == [70000.0]  # the marker before the range is not drawn
    buttons = fig["layout"]["updatemenus"][0]["buttons"]
    assert [b["label"] for b in buttons] == ["whole run", "baseline (0:00–1:00)", "spike (1:00–1:40)"]
    assert buttons[2]["args"] == [{"xaxis.range": [ORIGIN_MS + 60000.0, ORIGIN_MS + 100000.0]}]
