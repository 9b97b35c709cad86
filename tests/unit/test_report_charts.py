"""Chart building blocks of the HTML reports: scales, downsampling, the SVG timeline, the bars."""

from __future__ import annotations

import itertools
import math
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from hpabench.analysis.report.bars import BarRow, Segment, render_stacked_bars
from hpabench.analysis.report.downsample import minmax_downsample
from hpabench.analysis.report.htmlkit import esc, json_for_script
from hpabench.analysis.report.scales import (
    format_elapsed,
    format_number,
    linear_ticks,
    log_ticks,
    nice_step,
    time_ticks,
)
from hpabench.analysis.report.timeline import DRAW_BUCKETS, HLine, Marker, Panel, Series, Tick, render_timeline

HOSTILE = '"><img src=x onerror=alert(1)><script>alert(1)</script>'


class TagCollector(HTMLParser):
    """Every start tag and attribute name of a document, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


def tags_of(html: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(html)
    return collector


# --- scales -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("span", "ticks", "step"), [(10, 5, 2), (1, 5, 0.2), (1000, 4, 250), (7, 10, 1), (0.03, 3, 0.01)]
)
def test_nice_step(span: float, ticks: int, step: float) -> None:
    assert nice_step(span, ticks) == pytest.approx(step)


def test_linear_ticks_cover_the_range_with_round_values() -> None:
    lo, hi, ticks = linear_ticks(3.2, 97.0)
    assert lo <= 3.2 and hi >= 97.0
    assert ticks[0] == lo and ticks[-1] == hi
    assert ticks == [0, 20, 40, 60, 80, 100]


def test_linear_ticks_widen_a_flat_range() -> None:
    lo, hi, ticks = linear_ticks(4.0, 4.0)
    assert lo < 4.0 < hi
    assert len(ticks) >= 2
    assert linear_ticks(0.0, 0.0)[:2] == (0.0, 1.0)


def test_log_ticks_span_decades() -> None:
    lo, hi, ticks = log_ticks(3.0, 4500.0)
    assert (lo, hi) == (1.0, 10000.0)
    assert ticks[0] == 1.0 and ticks[-1] == 10000.0
    assert all(b > a for a, b in itertools.pairwise(ticks))


def test_time_ticks_on_a_one_hour_run_are_round_minutes() -> None:
    ticks = time_ticks(0.0, 3600.0)
    assert ticks[0] == 0.0 and ticks[-1] == 3600.0
    assert len(ticks) <= 11
    assert all(t % 300 == 0 for t in ticks)


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


# --- escaping ---------------------------------------------------------------------------------


def test_esc_and_json_for_script_neutralise_markup() -> None:
    assert "<" not in esc(HOSTILE) and '"' not in esc(HOSTILE)
    payload = json_for_script({"name": "</script><script>alert(1)</script>", "v": [1.0, math.nan]})
    assert "</script" not in payload and "<" not in payload
    assert '"v":[1.0,null]' in payload


# --- timeline ---------------------------------------------------------------------------------


def _series(name: str, n: int = 3600, color: str = "#123456") -> Series:
    t = np.arange(float(n))
    return Series(name, t, np.sin(t / 100.0) * 50 + 60, color)


def test_timeline_escapes_every_label() -> None:
    panel = Panel(HOSTILE, HOSTILE, [_series(HOSTILE)], [HLine(10.0, HOSTILE)], [Tick(5.0, HOSTILE)])
    html = render_timeline([panel], 0.0, 3600.0, [Marker(10.0, HOSTILE, "scale_up", HOSTILE)], chart_id=HOSTILE)
    parsed = tags_of(html)
    assert "img" not in parsed.tags
    assert parsed.tags.count("script") == 1  # only the JSON data block
    assert not [a for a in parsed.attributes if a.startswith("on")]
    assert "alert(1)</script>" not in html


def test_timeline_bounds_vertices_for_a_one_hour_series() -> None:
    html = render_timeline([Panel("p", "u", [_series("s", 3600)])], 0.0, 3600.0)
    path = re.search(r'<path class="ln" d="([^"]+)"', html)
    assert path is not None
    vertices = len(re.findall(r"[ML]", path.group(1)))
    assert 100 < vertices <= 2 * DRAW_BUCKETS


def test_panel_without_data_says_so() -> None:
    empty = Series("nothing", np.empty(0), np.empty(0), "#000")
    all_nan = Series("nan", np.arange(5.0), np.full(5, np.nan), "#000")
    html = render_timeline([Panel("Empty", "x", [empty]), Panel("NaN", "x", [all_nan]), Panel("None", "x")], 0, 10)
    assert html.count(">no data<") == 3
    assert 'class="ln"' not in html  # nothing drawn, and nothing crashed


def test_step_series_holds_values_and_nan_breaks_lines() -> None:
    t = np.array([0.0, 10.0, 20.0, 30.0])
    steps = Series("replicas", t, np.array([1.0, 3.0, 3.0, 2.0]), "#000", step=True)
    gappy = Series("gappy", t, np.array([1.0, np.nan, 2.0, 2.5]), "#111")
    html = render_timeline([Panel("r", "pods", [steps, gappy])], 0.0, 30.0)
    paths = re.findall(r'<path class="ln" d="([^"]+)"', html)
    assert "H" in paths[0] and "V" in paths[0] and "L" not in paths[0]
    assert paths[1].count("M") == 2  # the NaN split the line in two


def test_log_panel_draws_positive_values_only() -> None:
    t = np.arange(100.0)
    y = np.where(t < 50, 5.0, 5000.0)
    y[3] = 0.0  # log axis: a zero cannot be drawn, it becomes a gap
    html = render_timeline([Panel("lat", "ms", [Series("p95", t, y, "#000")], log_y=True, y_floor=None)], 0, 100)
    assert ">10k<" in html and ">1<" in html
    path = re.search(r'<path class="ln" d="([^"]+)"', html)
    assert path is not None and path.group(1).count("M") == 2


def test_markers_outside_the_range_are_not_drawn() -> None:
    html = render_timeline(
        [Panel("p", "u", [_series("s", 100)])],
        0.0,
        100.0,
        [Marker(-30.0, "before", "scale_up"), Marker(50.0, "1→3", "scale_up"), Marker(0.0, "spike", "stage")],
    )
    assert "1→3" in html and "spike" in html
    assert "before" not in html


# --- bars -------------------------------------------------------------------------------------


def test_stacked_bars_draw_positive_parts_and_totals() -> None:
    segments = [Segment("a", "metrics", "#111"), Segment("b", "sync", "#222"), Segment("c", "pods", "#333")]
    rows = [BarRow(HOSTILE, {"a": 5.0, "b": None, "c": 7.5}), BarRow("second", {"a": math.nan, "b": 2.0})]
    html = render_stacked_bars(rows, segments, "s")
    assert html.count("<rect x=") == 3  # None and NaN parts draw nothing
    assert ">12.5 s<" in html and ">2 s<" in html
    assert "img" not in tags_of(html).tags


def test_stacked_bars_without_rows_say_no_data() -> None:
    html = render_stacked_bars([], [Segment("a", "metrics", "#111")], "s", empty_note="no scale-up")
    assert "no scale-up" in html
