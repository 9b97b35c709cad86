"""Metric sources of the local controller: the metrics-server-like sampler and PromQL readings
(Prometheus faked with httpx.MockTransport)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from hpabench.deploy.hpa.custom import (
    PrometheusQuery,
    QueryError,
    Sample,
    external_reading,
    object_reading,
    parse_result,
    pods_reading,
)
from hpabench.deploy.hpa.inputs import FetchError, ObjectValues, PodMetric, PodMetrics
from hpabench.deploy.hpa.sampler import ResourceSampler


@dataclass(frozen=True)
class Snap:
    name: str
    cpu_usage_seconds: float
    memory_usage_bytes: int = 100 * 2**20
    phase: str = "Running"
    started_ts: float | None = 0.0
    memory_working_set_bytes: int = 0


def test_cpu_rate_needs_two_scrapes_and_rounds_up_to_millicores() -> None:
    sampler = ResourceSampler()
    sampler.scrape([Snap("a", 10.0)], 100.0)
    assert sampler.cpu() == {}  # one scrape: the pod is "missing" for the HPA
    sampler.scrape([Snap("a", 13.0001, memory_working_set_bytes=64 * 2**20)], 115.0)
    # 3.0001 s of CPU over 15 s = 200.0067 millicores → rounded up
    assert sampler.cpu() == {"a": PodMetric(201, 115.0, 15.0)}
    assert sampler.memory() == {"a": PodMetric(64 * 2**20 * 1000, 115.0, 15.0)}  # working set, milli-bytes


def test_exact_rates_do_not_round_up_from_float_noise() -> None:
    sampler = ResourceSampler()
    sampler.scrape([Snap("a", 0.1)], 0.0)
    sampler.scrape([Snap("a", 0.1 + 0.2 * 15)], 15.0)
    assert sampler.cpu()["a"].value_milli == 200


@pytest.mark.parametrize(
    ("second", "has_metric"),
    [
        (Snap("a", 5.0), False),  # counter went backwards: a restart, start over
        (Snap("a", 12.0, started_ts=50.0), False),  # a new container start
        (Snap("a", 12.0, phase="Pending"), False),  # not running: no sample
        (Snap("a", 12.0), True),
    ],
)
def test_restarts_and_phases(second: Snap, has_metric: bool) -> None:
    sampler = ResourceSampler()
    sampler.scrape([Snap("a", 10.0)], 0.0)
    sampler.scrape([second], 15.0)
    assert ("a" in sampler.cpu()) is has_metric


def test_a_repeated_scrape_at_the_same_instant_is_not_a_window() -> None:
    sampler = ResourceSampler()
    sampler.scrape([Snap("a", 1.0)], 15.0)
    sampler.scrape([Snap("a", 1.0)], 15.0)
    assert sampler.cpu() == {} and sampler.memory() == {}


def test_gone_pods_are_forgotten() -> None:
    sampler = ResourceSampler()
    sampler.scrape([Snap("a", 1.0), Snap("b", 1.0)], 0.0)
    sampler.scrape([Snap("a", 2.0)], 15.0)
    sampler.scrape([Snap("a", 3.0), Snap("b", 9.0)], 30.0)
    assert set(sampler.cpu()) == {"a"}  # b came back: one scrape only so far


# --- PromQL ------------------------------------------------------------------------------------


def prometheus(
    result: object, result_type: str = "vector", status: str = "success", seen: list[httpx.Request] | None = None
) -> PrometheusQuery:
    """A PrometheusQuery against a fake /api/v1/query; requests are appended to `seen`."""

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if status != "success":
            return httpx.Response(400, json={"status": "error", "errorType": "bad_data", "error": "parse error"})
        return httpx.Response(200, json={"status": "success", "data": {"resultType": result_type, "result": result}})

    return PrometheusQuery("http://127.0.0.1:9090/", transport=httpx.MockTransport(handler))


def vector(*series: tuple[dict[str, str], float]) -> list[dict[str, object]]:
    return [{"metric": labels, "value": [1000.5, str(value)]} for labels, value in series]


def test_query_sends_promql_and_time() -> None:
    seen: list[httpx.Request] = []
    query = prometheus(vector(({"pod": "a"}, 2.5)), seen=seen)
    samples = query("sum by (pod) (rate(x[1m]))", 1234.5)
    assert samples == [Sample({"pod": "a"}, 1000.5, 2.5)]
    request = seen[0]
    assert request.url.path == "/api/v1/query"
    assert request.url.params["query"] == "sum by (pod) (rate(x[1m]))"
    assert request.url.params["time"] == "1234.500"
    query.close()


def test_query_errors_are_reported_not_raised_from_readings() -> None:
    refused = prometheus([], status="error")
    with pytest.raises(QueryError, match="bad_data: parse error"):
        refused("sum(", 0.0)
    reading = pods_reading(refused, "sum(", ["a"], 0.0, 15.0)
    assert isinstance(reading, FetchError) and "parse error" in reading.message

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    unreachable = PrometheusQuery("http://127.0.0.1:9", transport=httpx.MockTransport(down))
    reading = object_reading(unreachable, "up", 0.0)
    assert isinstance(reading, FetchError) and "connection refused" in reading.message


def test_pods_reading_matches_pod_labels_and_truncates() -> None:
    query = prometheus(
        vector(({"pod": "a"}, 2.5), ({"pod": "b"}, 0.0019), ({"pod": "zzz"}, 9.0), ({"pod": "a"}, 1.0), ({}, 4.0))
    )
    reading = pods_reading(query, "q", ["a", "b", "c"], 2000.0, 15.0)
    assert reading == PodMetrics({"a": PodMetric(3500, 1000.5, 15.0), "b": PodMetric(1, 1000.5, 15.0)})


def test_object_and_external_readings() -> None:
    one = prometheus(vector(({"service": "web"}, 12.25)))
    assert object_reading(one, "q", 2000.0) == ObjectValues((12250,), 1000.5)
    two = prometheus(vector(({"q": "a"}, 1.0), ({"q": "b"}, float("nan")), ({"q": "c"}, 2.0)))
    assert external_reading(two, "q", 2000.0) == ObjectValues((1000, 2000), 1000.5)  # NaN dropped
    ambiguous = object_reading(two, "q", 2000.0)
    assert isinstance(ambiguous, FetchError) and "exactly one" in ambiguous.message
    assert object_reading(prometheus([]), "q", 2000.0) == ObjectValues((), 2000.0)


def test_scalar_and_unsupported_results() -> None:
    assert parse_result({"resultType": "scalar", "result": [5.0, "7"]}) == [Sample({}, 5.0, 7.0)]
    with pytest.raises(QueryError, match="instant vector"):
        parse_result({"resultType": "matrix", "result": []})


def test_response_that_is_not_json() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    query = PrometheusQuery("http://127.0.0.1:9090", transport=httpx.MockTransport(handler))
    with pytest.raises(QueryError, match="query failed"):
        query("up", 0.0)
