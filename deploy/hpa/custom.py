"""Pods / Object / External metric values from PromQL — the local stand-in for prometheus-adapter.

Each custom metric name maps to a PromQL query (`HpaSettings.custom_metrics`). An instant query
at the sync time answers it; the adapter's conventions apply:

* Pods metrics: one series per pod, matched on the `pod` label; pods without a series are
  "missing" for the replica calculator;
* Object metrics: exactly one series (the described object's value);
* External metrics: every returned series, summed by the controller.

Sample values become milli-units truncated toward zero (the adapter's float → Quantity); NaN and
infinite samples are dropped. I/O sits behind `InstantQuery` so unit tests use an honest fake.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from hpabench.deploy.hpa.inputs import FetchError, MetricReading, ObjectValues, PodMetric, PodMetrics
from hpabench.deploy.hpa.quantity import trunc_milli


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    ts: float
    value: float


InstantQuery = Callable[[str, float], list[Sample]]
"""(promql, at unix seconds) → samples; raises `QueryError` when Prometheus cannot answer."""


class QueryError(Exception):
    """Prometheus was unreachable or refused the query."""


class PrometheusQuery:
    """`InstantQuery` over Prometheus' HTTP API (`/api/v1/query`), with a bounded timeout."""

    def __init__(self, base_url: str, timeout_s: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport)

    def __call__(self, promql: str, at: float) -> list[Sample]:
        try:
            response = self._client.get("/api/v1/query", params={"query": promql, "time": f"{at:.3f}"})
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise QueryError(f"query failed: {exc}") from None
        if body.get("status") != "success":
            raise QueryError(f"{body.get('errorType', 'error')}: {body.get('error', response.text[:200])}")
        return parse_result(body.get("data") or {})

    def close(self) -> None:
        self._client.close()


def parse_result(data: dict[str, Any]) -> list[Sample]:
    """Samples of an instant-query result (`vector` or `scalar`)."""
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "scalar" and isinstance(result, list):
        return [Sample({}, float(result[0]), float(result[1]))]
    if kind != "vector" or not isinstance(result, list):
        raise QueryError(f"expected an instant vector or scalar, got {kind!r}")
    samples = []
    for item in result:
        ts, value = item["value"]
        samples.append(Sample(dict(item.get("metric") or {}), float(ts), float(value)))
    return samples


def _finite(samples: Iterable[Sample]) -> list[Sample]:
    return [s for s in samples if math.isfinite(s.value)]


def pods_reading(
    query: InstantQuery, promql: str, pod_names: Iterable[str], at: float, window_s: float
) -> MetricReading:
    """One value per known pod (`pod` label); a pod with several series takes their sum."""
    try:
        samples = _finite(query(promql, at))
    except QueryError as exc:
        return FetchError(str(exc))
    known = set(pod_names)
    totals: dict[str, float] = {}
    stamps: dict[str, float] = {}
    for sample in samples:
        pod = sample.labels.get("pod")
        if pod in known:
            totals[pod] = totals.get(pod, 0.0) + sample.value
            stamps[pod] = sample.ts
    return PodMetrics({pod: PodMetric(trunc_milli(value), stamps[pod], window_s) for pod, value in totals.items()})


def object_reading(query: InstantQuery, promql: str, at: float) -> MetricReading:
    """Exactly one series: the described object's value."""
    try:
        samples = _finite(query(promql, at))
    except QueryError as exc:
        return FetchError(str(exc))
    if len(samples) > 1:
        return FetchError(f"the query returned {len(samples)} series; an Object metric needs exactly one")
    return ObjectValues(tuple(trunc_milli(s.value) for s in samples), samples[0].ts if samples else at)


def external_reading(query: InstantQuery, promql: str, at: float) -> MetricReading:
    """Every series (the controller sums them)."""
    try:
        samples = _finite(query(promql, at))
    except QueryError as exc:
        return FetchError(str(exc))
    ts = min((s.ts for s in samples), default=at)
    return ObjectValues(tuple(trunc_milli(s.value) for s in samples), ts)
