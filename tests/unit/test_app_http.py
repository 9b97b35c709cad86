"""The HTTP layer without backends: input validation, status codes, metrics labelling.

The app is driven in-process through httpx's ASGI transport, so the store has no
PostgreSQL/Redis: routes that need them answer 503, which is itself part of the contract.
Real-backend behaviour is in tests/integration/test_app_refapp.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hpabench_refapp.app import MAX_QUANTITY, create_app
from hpabench_refapp.config import WORK_MAX_COST, Settings
from hpabench_refapp.metrics import DURATION_BUCKETS_S, AppMetrics, MetricsMiddleware, route_label
from hpabench_refapp.work import burn_cpu


class AsgiClient:
    """A synchronous face on httpx.AsyncClient over ASGI, with its own event loop."""

    def __init__(self, app: Any, lifespan: bool = False) -> None:
        self.loop = asyncio.new_event_loop()
        self.app = app
        self.stack = contextlib.AsyncExitStack()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://app")
        if lifespan:
            self.loop.run_until_complete(self.stack.enter_async_context(app.router.lifespan_context(app)))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.get(url, **kwargs))

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.post(url, **kwargs))

    def close(self) -> None:
        self.loop.run_until_complete(self.stack.aclose())
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@pytest.fixture
def client() -> Iterator[AsgiClient]:
    """Lifespan started: the store has a pool and a Redis client aimed at 127.0.0.1 defaults;
    both connect lazily, so nothing is contacted unless a route needs it."""
    test_client = AsgiClient(create_app(Settings()), lifespan=True)
    try:
        yield test_client
    finally:
        test_client.close()


@pytest.fixture
def bare() -> Iterator[AsgiClient]:
    """No lifespan: the store was never started."""
    test_client = AsgiClient(create_app(Settings()))
    try:
        yield test_client
    finally:
        test_client.close()


def samples(client: AsgiClient, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = client.get("/metrics").text
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_healthz_needs_no_backend(bare: AsgiClient) -> None:
    response = bare.get("/healthz")
    assert response.status_code == 200 and response.text == "ok\n"


def test_readyz_is_503_before_the_store_starts(bare: AsgiClient) -> None:
    response = bare.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"ready": False, "db": "not started", "cache": "not started"}


def test_items_without_backends_is_503_and_bad_ids_404(bare: AsgiClient) -> None:
    assert bare.get("/items/1").status_code == 503
    assert bare.get("/items/abc").status_code == 404
    assert bare.get("/items/-3").status_code == 404
    assert bare.get("/items/99999999999").status_code == 404  # beyond int32: no such id


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "body must be a JSON object"),
        (b"[1, 2]", "body must be a JSON object"),
        (b'{"item_id": 1}', "quantity must be an integer"),
        (b'{"item_id": true, "quantity": 1}', "item_id must be a positive integer"),
        (b'{"item_id": 1, "quantity": 1.0}', "quantity must be an integer"),
        (b'{"item_id": 1, "quantity": 0}', "quantity must be an integer"),
        (f'{{"item_id": 1, "quantity": {MAX_QUANTITY + 1}}}'.encode(), "quantity must be an integer"),
        (b'{"item_id": 1, "quantity": 1, "coupon": "x"}', "unknown field(s): coupon"),
    ],
)
def test_malformed_orders_are_400_before_touching_the_database(bare: AsgiClient, body: bytes, message: str) -> None:
    response = bare.post("/orders", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_a_valid_order_without_database_is_503(bare: AsgiClient) -> None:
    assert bare.post("/orders", json={"item_id": 1, "quantity": 1}).status_code == 503


def test_work_uses_the_default_cost_and_bounds_it(bare: AsgiClient) -> None:
    default = bare.get("/work")
    assert default.status_code == 200
    assert default.json() == {"cost": 20_000, "digest": burn_cpu(20_000)}
    assert bare.get("/work", params={"cost": "7"}).json()["digest"] == burn_cpu(7)
    assert bare.get("/work", params={"cost": str(WORK_MAX_COST + 1)}).status_code == 400
    assert bare.get("/work", params={"cost": "-1"}).status_code == 400
    assert bare.get("/work", params={"cost": "lots"}).status_code == 400


def test_wrong_method_is_405(bare: AsgiClient) -> None:
    assert bare.post("/work").status_code == 405


def test_request_metrics_use_templates_and_skip_operational_routes(client: AsgiClient) -> None:
    client.get("/work", params={"cost": "1"})
    client.get("/work", params={"cost": "1"})
    client.get("/items/abc")
    client.get("/does/not/exist")
    client.get("/healthz")
    client.get("/readyz")
    counts = samples(client, "http_requests_total")
    assert counts == {
        (("method", "GET"), ("route", "/work"), ("status", "200")): 2.0,
        (("method", "GET"), ("route", "/items/{id}"), ("status", "404")): 1.0,
        (("method", "GET"), ("route", "unmatched"), ("status", "404")): 1.0,
    }
    buckets = samples(client, "http_request_duration_seconds_bucket")
    work_buckets = {dict(k)["le"] for k in buckets if dict(k)["route"] == "/work"}
    assert len(work_buckets) == len(DURATION_BUCKETS_S) + 1  # + "+Inf"
    assert samples(client, "http_requests_in_flight") == {(): 0.0}
    assert samples(client, "db_pool_connections") == {(("state", "idle"),): 0.0, (("state", "in_use"),): 0.0}


def test_cache_results_are_exported_from_zero(client: AsgiClient) -> None:
    assert samples(client, "cache_requests_total") == {
        (("result", "error"),): 0.0,
        (("result", "hit"),): 0.0,
        (("result", "miss"),): 0.0,
    }


def test_buckets_span_half_a_millisecond_to_ten_seconds() -> None:
    assert DURATION_BUCKETS_S[0] == 0.0005 and DURATION_BUCKETS_S[-1] == 10.0
    assert list(DURATION_BUCKETS_S) == sorted(set(DURATION_BUCKETS_S))
    # fine enough: no two neighbours more than 2.5x apart
    assert all(b / a <= 2.5 for a, b in itertools.pairwise(DURATION_BUCKETS_S))


def test_route_label_strips_convertors() -> None:
    assert route_label("/items/{id:int}") == "/items/{id}"
    assert route_label("/a/{x}/b/{y:path}") == "/a/{x}/b/{y}"


def test_a_crashing_handler_is_counted_as_500_and_leaves_in_flight_at_zero() -> None:
    metrics = AppMetrics(lambda: None)

    async def boom(request: Request) -> Response:
        raise RuntimeError("boom")

    app = Starlette(routes=[Route("/boom", boom)], middleware=[Middleware(MetricsMiddleware, metrics=metrics)])
    client = AsgiClient(app)
    try:
        assert client.get("/boom").status_code == 500
    finally:
        client.close()
    assert metrics.requests.labels("/boom", "GET", "500")._value.get() == 1.0
    assert metrics.in_flight._value.get() == 0.0
