"""Data access of the app: a PostgreSQL pool (asyncpg) behind a Redis cache (redis.asyncio).

Contract:
- `get_item(id)` is cache-aside: Redis GET `item:<id>`; on a miss read PostgreSQL and SETEX the
  JSON with `cache_ttl_s`. Returns `(json_bytes | None, result)` with result `hit`, `miss` or
  `error` (Redis failed: the row is read from PostgreSQL and the cache left alone).
- `place_order(id, qty)` runs one transaction: lock the item row, check and take stock, insert
  the order; after COMMIT it deletes the item's cache key (a failed DEL only leaves the entry
  stale for at most its TTL). Raises `ItemNotFound` / `OutOfStock`.
- PostgreSQL failures (unreachable, pool exhausted for `DB_ACQUIRE_TIMEOUT_S`) raise
  `BackendUnavailable`; the HTTP layer maps it to 503.

The pool starts empty (min size 0) so a pod starts, and answers liveness, before its database is
reachable; readiness (`check_ready`) tells the Service when it is.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from hpabench_refapp import schema
from hpabench_refapp.config import Settings

log = logging.getLogger("hpabench_refapp.store")

DB_ACQUIRE_TIMEOUT_S = 5.0
DB_COMMAND_TIMEOUT_S = 10.0
REDIS_SOCKET_TIMEOUT_S = 2.0
REDIS_CONNECT_TIMEOUT_S = 1.0
POOL_CLOSE_TIMEOUT_S = 5.0

# What a database call may raise when PostgreSQL is down, restarting or saturated.
_DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class ItemNotFound(Exception):
    """No item has this id."""


class OutOfStock(Exception):
    """The item has fewer units than ordered; `stock` is what is left."""

    def __init__(self, stock: int) -> None:
        self.stock = stock
        super().__init__(f"only {stock} left")


class BackendUnavailable(Exception):
    """PostgreSQL could not serve the request (down, or the pool stayed exhausted)."""


@dataclass(frozen=True)
class Order:
    """A placed order and the item's stock after it."""

    order_id: int
    item_id: int
    quantity: int
    stock: int


def cache_key(item_id: int) -> str:
    return f"item:{item_id}"


def item_json(row: Any) -> bytes:
    """The JSON body of an item row (compact; this is also the cached value)."""
    return json.dumps(
        {"id": row["id"], "name": row["name"], "price_cents": row["price_cents"], "stock": row["stock"]},
        separators=(",", ":"),
    ).encode()


class Store:
    """PostgreSQL + Redis for one app process. `start()` before use, `close()` at shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self.redis: redis_asyncio.Redis | None = None

    async def start(self) -> None:
        s = self.settings
        self.pool = await asyncpg.create_pool(
            host=s.db_host,
            port=s.db_port,
            user=s.db_user,
            password=s.db_password or None,
            database=s.db_name,
            min_size=0,
            max_size=s.db_pool_max,
            command_timeout=DB_COMMAND_TIMEOUT_S,
        )
        # Requests beyond the pool wait for a connection (bounded), never fail on arrival.
        redis_pool = redis_asyncio.BlockingConnectionPool(
            host=s.redis_host,
            port=s.redis_port,
            max_connections=max(8, 2 * s.db_pool_max),
            timeout=REDIS_SOCKET_TIMEOUT_S,
            socket_timeout=REDIS_SOCKET_TIMEOUT_S,
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
        )
        self.redis = redis_asyncio.Redis(connection_pool=redis_pool)

    async def close(self) -> None:
        """Close Redis and the pool; waits up to POOL_CLOSE_TIMEOUT_S for queries in flight."""
        if self.redis is not None:
            try:
                await self.redis.aclose(close_connection_pool=True)
            except (RedisError, OSError) as exc:
                log.warning("closing redis: %s", exc)
            self.redis = None
        if self.pool is not None:
            try:
                await asyncio.wait_for(self.pool.close(), POOL_CLOSE_TIMEOUT_S)
            except TimeoutError:
                log.warning("database pool did not close in %.0f s; terminating it", POOL_CLOSE_TIMEOUT_S)
                self.pool.terminate()
            self.pool = None

    def pool_stats(self) -> tuple[int, int] | None:
        """`(size, idle)` connection counts of the pool, None before `start()`."""
        if self.pool is None:
            return None
        return self.pool.get_size(), self.pool.get_idle_size()

    def _ready_pool(self) -> asyncpg.Pool:
        if self.pool is None or self.redis is None:
            raise BackendUnavailable("store not started")
        return self.pool

    def _redis(self) -> redis_asyncio.Redis:
        if self.redis is None:
            raise BackendUnavailable("store not started")
        return self.redis

    async def get_item(self, item_id: int) -> tuple[bytes | None, str]:
        """Cache-aside read; see the module docstring."""
        redis = self._redis()
        key = cache_key(item_id)
        try:
            cached = await redis.get(key)
        except (RedisError, OSError) as exc:
            log.warning("cache read failed, reading the database: %s", exc)
            return await self._read_item(item_id), "error"
        if cached is not None:
            return (cached if isinstance(cached, bytes) else str(cached).encode()), "hit"
        body = await self._read_item(item_id)
        if body is not None:
            try:
                await redis.setex(key, self.settings.cache_ttl_s, body)
            except (RedisError, OSError) as exc:
                log.warning("cache fill failed: %s", exc)
        return body, "miss"

    async def _read_item(self, item_id: int) -> bytes | None:
        pool = self._ready_pool()
        try:
            async with pool.acquire(timeout=DB_ACQUIRE_TIMEOUT_S) as conn:
                row = await conn.fetchrow(schema.SELECT_ITEM_SQL, item_id)
        except _DB_ERRORS as exc:
            raise BackendUnavailable(str(exc)) from exc
        return item_json(row) if row is not None else None

    async def place_order(self, item_id: int, quantity: int) -> Order:
        """Transactional write + cache invalidation; see the module docstring."""
        pool = self._ready_pool()
        try:
            async with pool.acquire(timeout=DB_ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
                # FOR UPDATE serializes concurrent orders of the same item on its row lock.
                stock = await conn.fetchval(schema.LOCK_ITEM_SQL, item_id)
                if stock is None:
                    raise ItemNotFound(item_id)
                if stock < quantity:
                    raise OutOfStock(stock)
                left = await conn.fetchval(schema.TAKE_STOCK_SQL, item_id, quantity)
                order_id = await conn.fetchval(schema.INSERT_ORDER_SQL, item_id, quantity)
        except _DB_ERRORS as exc:
            raise BackendUnavailable(str(exc)) from exc
        # After COMMIT: deleting earlier would let a concurrent miss re-cache the old row.
        try:
            await self._redis().delete(cache_key(item_id))
        except (RedisError, OSError) as exc:
            log.warning("cache invalidation of item %d failed (stale for <= TTL): %s", item_id, exc)
        return Order(order_id=order_id, item_id=item_id, quantity=quantity, stock=left)

    async def check_ready(self, timeout_s: float) -> dict[str, str]:
        """Ping PostgreSQL and Redis concurrently; returns {"db": "ok"|why, "cache": "ok"|why}."""
        pool = self.pool
        redis = self.redis

        async def db() -> str:
            if pool is None:
                return "not started"
            try:
                async with asyncio.timeout(timeout_s):
                    await pool.fetchval("SELECT 1")
            except TimeoutError:
                return f"no answer in {timeout_s:g} s"
            except _DB_ERRORS as exc:
                return f"{type(exc).__name__}: {exc}"
            return "ok"

        async def cache() -> str:
            if redis is None:
                return "not started"
            try:
                async with asyncio.timeout(timeout_s):
                    await redis.ping()
            except TimeoutError:
                return f"no answer in {timeout_s:g} s"
            except (RedisError, OSError) as exc:
                return f"{type(exc).__name__}: {exc}"
            return "ok"

        db_state, cache_state = await asyncio.gather(db(), cache())
        return {"db": db_state, "cache": cache_state}
