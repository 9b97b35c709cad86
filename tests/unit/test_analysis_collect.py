"""Collection against an honest fake Prometheus range-query client (the real one: integration)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
from prometheus_api_client.exceptions import PrometheusApiClientException

from hpabench.analysis.collect import CollectResult, chunk_ranges, collect, tidy_series
from hpabench.analysis.profile import load_profile
from hpabench.errors import SpecError

Series = tuple[dict[str, str], Callable[[float], float | None]]


class FakePrometheus:
    """Evaluates known queries like Prometheus' /api/v1/query_range would answer them.

    Same grid (start, start+step, ... <= end, on the whole seconds the client sends), the same
    11,000 points-per-series refusal, string sample values, a 400 for unparsable PromQL.
    """

    def __init__(self, series: dict[str, list[Series]]) -> None:
        self.series = series
        self.calls: list[tuple[str, float, float, str]] = []
        self.closed = False

    def custom_query_range(
        self, query: str, start_time: datetime, end_time: datetime, step: str, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        start, end, step_s = round(start_time.timestamp()), round(end_time.timestamp()), float(step)
        self.calls.append((query, start, end, step))
        if query == "timeout_query":
            raise requests.exceptions.ReadTimeout("read timed out")
        if query not in self.series:
            raise PrometheusApiClientException('HTTP Status Code 400 (b\'{"errorType":"bad_data"}\')')
        points = math.floor((end - start) / step_s) + 1
        if points > 11_000:
            raise PrometheusApiClientException(
                "HTTP Status Code 400 (exceeded maximum resolution of 11,000 points per timeseries)"
            )
        result = []
        for labels, fn in self.series[query]:
            values = []
            for k in range(points):
                t = start + k * step_s
                v = fn(t)
                if v is not None:
                    values.append([t, "NaN" if math.isnan(v) else repr(v)])
            if values:
                result.append({"metric": labels, "values": values})
        return result

    def close(self) -> None:
        self.closed = True


def profile(tmp_path: Path, *queries: tuple[str, str]) -> Path:
    lines = ["variables: {ns: hpabench}", "queries:"]
    lines += [f"  - {{name: {name}, unit: x, query: '{q}'}}" for name, q in queries]
    path = tmp_path / "profile.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_chunks_cover_the_range_without_overlap() -> None:
    assert chunk_ranges(0, 10, 1, max_points=4) == [(0, 3), (4, 7), (8, 10)]
    assert chunk_ranges(100, 100, 1) == [(100, 100)]
    chunks = chunk_ranges(0, 25_000, 1.0)
    assert len(chunks) == 3 and chunks[0] == (0, 9_999) and chunks[-1][1] == 25_000
    assert all(b[0] - a[1] == 1.0 for a, b in itertools.pairwise(chunks))
    with pytest.raises(ValueError):
        chunk_ranges(0, 10, 0)


def test_tidy_series_labels_and_reserved_names() -> None:
    frame = tidy_series(
        [
            {"metric": {"pod": "a", "value": "x"}, "values": [[1, "2.5"], [2, "+Inf"]]},
            {"metric": {"pod": "b", "route": "/r"}, "values": [[1, "NaN"]]},
        ]
    )
    assert list(frame.columns) == ["ts", "value", "pod", "label_value", "route"]
    assert frame["value"].iloc[0] == 2.5 and math.isinf(frame["value"].iloc[1])
    assert math.isnan(frame["value"].iloc[2])
    assert frame["route"].tolist() == [None, None, "/r"]
    assert tidy_series([]).columns.tolist() == ["ts", "value"]


def test_collect_writes_tidy_files_and_records_failures(tmp_path: Path) -> None:
    start = 1_700_000_000
    fake = FakePrometheus(
        {
            'rate(req{ns="hpabench"}[15s])': [
                ({"pod": "web-a"}, lambda t: 10.0),
                ({"pod": "web-b"}, lambda t: 20.0 if t >= start + 5 else None),
            ],
            "absent_metric": [],
        }
    )
    path = profile(
        tmp_path,
        ("pod_rps", 'rate(req{ns="$ns"}[15s])'),
        ("broken", "sum(("),
        ("nothing", "absent_metric"),
        ("slow", "timeout_query"),
    )
    result = collect(tmp_path / "data", "http://unused", start + 0.4, start + 9.6, path, client=fake)
    assert isinstance(result, CollectResult)
    assert set(result.paths) == {"pod_rps", "nothing"}
    assert result.empty == ("nothing",)
    assert len(result) == 3 and len(list(result)) == 3
    assert any("'broken' not collected: PrometheusApiClientException" in w for w in result.warnings)
    assert any("'slow' not collected: ReadTimeout" in w for w in result.warnings)
    assert fake.closed
    frame = pd.read_parquet(tmp_path / "data" / "prom" / "pod_rps.parquet")
    assert list(frame.columns) == ["ts", "value", "pod"]
    # start floored, end ceiled: 11 steps for web-a, 6 for web-b
    assert (frame["pod"] == "web-a").sum() == 11 and (frame["pod"] == "web-b").sum() == 6
    assert frame["ts"].min() == start and frame["ts"].max() == start + 10
    assert frame["ts"].is_monotonic_increasing
    empty = pd.read_parquet(result.paths["nothing"])
    assert empty.empty and list(empty.columns) == ["ts", "value"]


def test_long_ranges_are_chunked_under_the_point_limit(tmp_path: Path) -> None:
    start = 1_700_000_000
    fake = FakePrometheus({"up": [({"job": "web"}, lambda t: float(t - start))]})
    result = collect(tmp_path, "http://unused", start, start + 25_000, profile(tmp_path, ("up", "up")), client=fake)
    assert result.warnings == ()
    assert len(fake.calls) == 3
    frame = pd.read_parquet(result.paths["up"])
    assert len(frame) == 25_001
    assert frame["ts"].is_unique
    assert (frame["value"] == frame["ts"] - start).all()


def test_a_bad_profile_is_a_spec_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("queries:\n  - {name: x, unit: u, query: '$nope'}\n")
    with pytest.raises(SpecError, match="nope"):
        collect(tmp_path, "http://unused", 0, 10, bad, client=FakePrometheus({}))


def test_default_profile_queries_are_all_attempted(tmp_path: Path) -> None:
    fake = FakePrometheus({})
    result = collect(tmp_path, "http://unused", 0, 60, client=fake, variables={"window": "1m"})
    expected = len(load_profile(None).queries)
    assert expected >= 19
    assert len(fake.calls) == expected
    assert all("[1m]" in q for q, *_ in fake.calls if "rate(" in q)
    assert len(result.warnings) == expected and result.paths == {}


def test_deadline_bounds_the_whole_collection(tmp_path: Path) -> None:
    fake = FakePrometheus({"up": [({}, lambda t: 1.0)]})
    path = profile(tmp_path, ("a", "up"), ("b", "up"))
    result = collect(tmp_path, "http://unused", 0, 10, path, client=fake, deadline_s=-1.0)
    assert fake.calls == [] and result.paths == {}
    assert all("deadline" in w for w in result.warnings) and len(result.warnings) == 2
