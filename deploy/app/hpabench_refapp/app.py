"""The HTTP layer: routes, status codes and the app lifecycle. `create_app(settings)` builds it.

Routes (JSON bodies, `X-Cache: hit|miss|error` on item reads):
- `GET /items/{id}` → 200 item, 404 unknown or non-integer id, 503 database unavailable.
- `POST /orders` `{"item_id": int, "quantity": int}` → 201 order, 400 malformed body,
  404 unknown item, 409 not enough stock, 503 database unavailable.
- `GET /work?cost=N` → 200 after N rounds of SHA-256 on the event loop (default
  WORK_DEFAULT_COST, at most WORK_MAX_COST), 400 for a bad cost.
- `GET /healthz` → 200 while the process serves (liveness; touches no backend).
- `GET /readyz` → 200 when PostgreSQL and Redis both answer within READY_TIMEOUT_S, else 503.
- `GET /metrics` → Prometheus text exposition (see `metrics`).

Shutdown (uvicorn turns SIGTERM into the lifespan shutdown) closes Redis and the pool.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hpabench_refapp.config import WORK_MAX_COST, Settings
from hpabench_refapp.metrics import AppMetrics, MetricsMiddleware
from hpabench_refapp.store import BackendUnavailable, ItemNotFound, OutOfStock, Store
from hpabench_refapp.work import burn_cpu

log = logging.getLogger("hpabench_refapp")

READY_TIMEOUT_S = 0.8  # under the kubelet's default 1 s probe timeout
MAX_QUANTITY = 1000
_JSON = "application/json"
_INT32_MAX = 2**31 - 1


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _strict_int(value: Any) -> int | None:
    """JSON integers only: `true` and `1.0` are not quantities."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def create_app(settings: Settings) -> Starlette:
    """The ASGI app for `settings`. Its Store starts and stops with the ASGI lifespan."""
    # `*_created` series double the scrape size and nothing here reads them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    store = Store(settings)
    metrics = AppMetrics(store.pool_stats)

    async def get_item(request: Request) -> Response:
        raw_id = request.path_params["id"]
        try:
            item_id = int(raw_id)
        except ValueError:
            return _error(404, f"no item {raw_id!r}: ids are integers")
        if not 0 < item_id <= _INT32_MAX:
            return _error(404, f"no item {item_id}")
        try:
            body, result = await store.get_item(item_id)
        except BackendUnavailable as exc:
            return _error(503, f"database unavailable: {exc}")
        metrics.count_cache(result)
        if body is None:
            return _error(404, f"no item {item_id}")
        return Response(body, media_type=_JSON, headers={"X-Cache": result})

    async def post_order(request: Request) -> Response:
        try:
            payload = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _error(400, "body must be a JSON object")
        if not isinstance(payload, dict):
            return _error(400, "body must be a JSON object")
        unknown = sorted(set(payload) - {"item_id", "quantity"})
        if unknown:
            return _error(400, f"unknown field(s): {', '.join(unknown)}")
        item_id = _strict_int(payload.get("item_id"))
        quantity = _strict_int(payload.get("quantity"))
        if item_id is None or not 0 < item_id <= _INT32_MAX:
            return _error(400, "item_id must be a positive integer")
        if quantity is None or not 0 < quantity <= MAX_QUANTITY:
            return _error(400, f"quantity must be an integer in [1, {MAX_QUANTITY}]")
        try:
            order = await store.place_order(item_id, quantity)
        except ItemNotFound:
            return _error(404, f"no item {item_id}")
        except OutOfStock as exc:
            return _error(409, f"not enough stock for item {item_id}: {exc.stock} left")
        except BackendUnavailable as exc:
            return _error(503, f"database unavailable: {exc}")
        return JSONResponse(
            {"order_id": order.order_id, "item_id": order.item_id, "quantity": order.quantity, "stock": order.stock},
            status_code=201,
        )

    async def work(request: Request) -> Response:
        raw = request.query_params.get("cost")
        if raw is None:
            cost = settings.work_default_cost
        else:
            try:
                cost = int(raw)
            except ValueError:
                return _error(400, "cost must be an integer")
            if not 0 <= cost <= WORK_MAX_COST:
                return _error(400, f"cost must be in [0, {WORK_MAX_COST}]")
        # Synchronous on purpose (see work.py): the pod's CPU is what autoscaling watches.
        digest = burn_cpu(cost)
        return JSONResponse({"cost": cost, "digest": digest})

    async def healthz(request: Request) -> Response:
        return Response(b"ok\n", media_type="text/plain")

    async def readyz(request: Request) -> Response:
        checks = await store.check_ready(READY_TIMEOUT_S)
        ready = all(state == "ok" for state in checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.start()
        log.info(
            "started: db %s:%d, redis %s:%d",
            settings.db_host,
            settings.db_port,
            settings.redis_host,
            settings.redis_port,
        )
        try:
            yield
        finally:
            await store.close()
            log.info("stopped: pool and cache connections closed")

    app = Starlette(
        routes=[
            Route("/items/{id}", get_item, methods=["GET"]),
            Route("/orders", post_order, methods=["POST"]),
            Route("/work", work, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.metrics = metrics
    return app
