"""The app's Prometheus metrics and the ASGI middleware that records request metrics.

Series (names fixed by docs/contracts.md and the analysis profile):

- `http_requests_total{route,method,status}` counter.
- `http_request_duration_seconds{route,method}` histogram, buckets from 0.5 ms to 10 s.
- `http_requests_in_flight` gauge.
- `cache_requests_total{result}` counter, result `hit`, `miss` or `error` (Redis unreachable;
  the read then falls back to PostgreSQL).
- `db_pool_connections{state}` gauge, state `in_use` or `idle`, read from the pool at scrape time.

`route` is the route template (`/items/{id}`), or `unmatched` for paths no route serves, so the
label set stays bounded whatever clients request. Operational endpoints (`/metrics`, `/healthz`,
`/readyz`) are not counted: scrapes and probes would otherwise inflate request rates.
Each `AppMetrics` owns its own registry, so several apps can live in one process (tests).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

# Fine enough to tell a 0.5 ms cached read from a 2 ms one, and to follow a pod into seconds of
# queueing under overload. Seconds, as Prometheus conventions require.
DURATION_BUCKETS_S = (
    0.0005,
    0.001,
    0.0015,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    7.5,
    10.0,
)

EXCLUDED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
UNMATCHED_ROUTE = "unmatched"

_CONVERTOR = re.compile(r"\{(\w+):\w+\}")


@functools.lru_cache(maxsize=256)
def route_label(template: str) -> str:
    """`/items/{id:int}` → `/items/{id}`: the template without Starlette's convertor suffixes."""
    return _CONVERTOR.sub(r"{\1}", template)


class PoolCollector:
    """Reads `db_pool_connections{state}` from a pool-stats callable at scrape time.

    `stats()` returns `(size, idle)` connection counts, or None before the pool exists.
    """

    def __init__(self, stats: Callable[[], tuple[int, int] | None]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("db_pool_connections", "PostgreSQL pool connections by state", labels=["state"])
        current = self._stats()
        size, idle = current if current is not None else (0, 0)
        family.add_metric(["in_use"], float(size - idle))
        family.add_metric(["idle"], float(idle))
        yield family


class AppMetrics:
    """All metric objects of one app instance, registered in `self.registry`."""

    def __init__(self, pool_stats: Callable[[], tuple[int, int] | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests",
            "HTTP requests by route template, method and status code",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration (server time, first byte in to last byte out) in seconds",
            ["route", "method"],
            buckets=DURATION_BUCKETS_S,
            registry=self.registry,
        )
        self.in_flight = Gauge("http_requests_in_flight", "HTTP requests being served", registry=self.registry)
        self.cache = Counter(
            "cache_requests", "Cache lookups by result (hit, miss, error)", ["result"], registry=self.registry
        )
        for result in ("hit", "miss", "error"):
            self.cache.labels(result)  # export zeros, so rate() works from the first scrape
        self.registry.register(PoolCollector(pool_stats))
        # labels() costs a dict lookup plus locking; cache the children on the hot path.
        self._request_children: dict[tuple[str, str, int], Any] = {}
        self._duration_children: dict[tuple[str, str], Any] = {}
        self._cache_children = {result: self.cache.labels(result) for result in ("hit", "miss", "error")}

    def count_cache(self, result: str) -> None:
        """Count one cache lookup: `hit`, `miss` or `error`."""
        self._cache_children[result].inc()

    def observe(self, route: str, method: str, status: int, duration_s: float) -> None:
        """Record one finished request."""
        key = (route, method, status)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self._request_children[key] = self.requests.labels(route, method, str(status))
        counter.inc()
        hkey = (route, method)
        histogram = self._duration_children.get(hkey)
        if histogram is None:
            histogram = self._duration_children[hkey] = self.duration.labels(route, method)
        histogram.observe(duration_s)


class MetricsMiddleware:
    """Pure ASGI middleware: in-flight gauge, request counter and duration histogram.

    Must wrap the router (it reads `scope["route"]`, which Starlette's router sets on the shared
    scope dict when it matches). A request that raises is counted as status 500.
    """

    def __init__(self, app: ASGIApp, metrics: AppMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXCLUDED_PATHS:
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            template = getattr(route, "path", None)
            label = route_label(template) if isinstance(template, str) else UNMATCHED_ROUTE
            self.metrics.observe(label, scope["method"], status, time.perf_counter() - started)
