"""Schema creation and seed data: `python -m hpabench_refapp.migrate` (the init container).

Contract: creates the tables if missing and inserts items 1..SEED_ITEMS that are not there yet,
in one transaction under a PostgreSQL advisory lock; an already migrated database is
recognised first without taking any table lock (pods start during load, next to live order
transactions), so any number of pods may run it at once and
re-running it is harmless. Waits up to CONNECT_DEADLINE_S for the database to accept connections.
Exit codes: 0 done, 1 database unreachable or migration failed, 2 invalid configuration.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time

import asyncpg

from hpabench_refapp import schema
from hpabench_refapp.config import ConfigError, Settings
from hpabench_refapp.logs import configure_logging, fail_config

log = logging.getLogger("hpabench_refapp.migrate")

CONNECT_DEADLINE_S = 60.0
CONNECT_ATTEMPT_TIMEOUT_S = 5.0
RETRY_PAUSE_S = 0.5


class MigrationError(Exception):
    """The database could not be reached or migrated."""


async def connect(settings: Settings, deadline_s: float = CONNECT_DEADLINE_S) -> asyncpg.Connection:
    """Connect, retrying while the server is starting, for at most `deadline_s` seconds."""
    give_up_at = time.monotonic() + deadline_s
    while True:
        try:
            return await asyncpg.connect(
                host=settings.db_host,
                port=settings.db_port,
                user=settings.db_user,
                password=settings.db_password or None,
                database=settings.db_name,
                timeout=CONNECT_ATTEMPT_TIMEOUT_S,
            )
        except (OSError, TimeoutError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError) as exc:
            # Refused/starting up/full: worth retrying. Bad credentials are not, and propagate.
            if time.monotonic() + RETRY_PAUSE_S >= give_up_at:
                raise MigrationError(
                    f"database {settings.db_host}:{settings.db_port} unreachable for {deadline_s:g} s: {exc}"
                ) from exc
            log.info("database not ready yet (%s); retrying", exc)
            await asyncio.sleep(RETRY_PAUSE_S)


async def migrate(settings: Settings, deadline_s: float = CONNECT_DEADLINE_S) -> int:
    """Create the schema and seed; returns how many items this call inserted."""
    conn = await connect(settings, deadline_s)
    try:
        if await _is_migrated(conn, settings.seed_items):
            return 0
        async with conn.transaction():
            # Transaction-scoped: released at COMMIT/ROLLBACK even if this process dies.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", schema.MIGRATION_LOCK_KEY)
            await conn.execute(schema.SCHEMA_SQL)
            status = await conn.execute(schema.SEED_SQL, settings.seed_items)
    finally:
        await conn.close()
    return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 <rows>"


async def _is_migrated(conn: asyncpg.Connection, seed_items: int) -> bool:
    """Already done? Checked before any DDL so a migrated database sees no table locks at all."""
    if await conn.fetchval("SELECT to_regclass('public.items') IS NULL"):
        return False
    return bool(await conn.fetchval(schema.IS_MIGRATED_SQL, seed_items))


def main() -> int:
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        raise fail_config(exc) from None
    configure_logging(settings.log_level)
    started = time.monotonic()
    try:
        inserted = asyncio.run(migrate(settings))
    except (MigrationError, asyncpg.PostgresError, OSError) as exc:
        print(f"hpabench-refapp migrate: failed: {exc}", file=sys.stderr, flush=True)
        return 1
    print(
        f"hpabench-refapp migrate: schema ready, {inserted} of {settings.seed_items} items inserted "
        f"in {time.monotonic() - started:.2f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
