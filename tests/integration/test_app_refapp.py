"""The reference app against real PostgreSQL and Redis servers started here, in a temp dir.

One PostgreSQL and one Redis serve the whole module (127.0.0.1, free ports, torn down in a
finally); each app is started exactly as the local target starts it:
`python -m uvicorn hpabench_refapp.main:app --host 127.0.0.1 --port $PORT`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hpabench_refapp.schema import INITIAL_STOCK, price_cents
from hpabench_refapp.work import burn_cpu

pytestmark = pytest.mark.integration

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DB_PASSWORD = "test-only-secret"
SEED_ITEMS = 500
START_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return int(proc.returncode)


@dataclass
class Backends:
    pg_port: int
    redis_port: int

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(self.pg_port),
            "DB_NAME": "hpabench",
            "DB_USER": "hpabench",
            "DB_PASSWORD": DB_PASSWORD,
            "DB_POOL_MAX": "4",
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(self.redis_port),
            "CACHE_TTL_S": "30",
            "SEED_ITEMS": str(SEED_ITEMS),
            "WORK_DEFAULT_COST": "1000",
            "LOG_LEVEL": "info",
        }
        env.update(overrides)
        return env

    async def sql(self, query: str, *args: object) -> object:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=self.pg_port, user="hpabench", password=DB_PASSWORD, database="hpabench"
        )
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()


def _as_postgres() -> dict[str, object]:
    """Popen kwargs that drop to the `postgres` system user when running as root (initdb refuses root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


@pytest.fixture(scope="module")
def backends() -> Iterator[Backends]:
    if not (PG_BIN / "postgres").exists() or shutil.which("redis-server") is None:
        pytest.fail("PostgreSQL 15 and redis-server are required (apt-get install -y postgresql redis-server)")
    with backend_servers() as servers:
        yield servers


@contextlib.contextmanager
def backend_servers() -> Iterator[Backends]:
    """A fresh PostgreSQL (database `hpabench`) and Redis in a temp dir, removed on exit."""
    tmp = Path(tempfile.mkdtemp(prefix="hpabench-apptest-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        pg_dir = tmp / "pg"
        pg_dir.mkdir()
        (tmp / "pwfile").write_text(DB_PASSWORD + "\n")
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            tmp.chmod(0o755)
            for path in (pg_dir, tmp / "pwfile"):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        subprocess.run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(pg_dir),
                "-U",
                "hpabench",
                "--pwfile",
                str(tmp / "pwfile"),
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=60,
            **_as_postgres(),  # type: ignore[arg-type]
        )
        pg_port = free_port()
        procs.append(
            subprocess.Popen(
                [
                    str(PG_BIN / "postgres"),
                    "-D",
                    str(pg_dir),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(pg_port),
                    "-k",
                    str(pg_dir),
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=60",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                **_as_postgres(),  # type: ignore[arg-type]
            )
        )
        redis_port = free_port()
        procs.append(
            subprocess.Popen(
                ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=tmp,
            )
        )
        wait_for(lambda: port_open(redis_port), START_TIMEOUT_S, "redis")
        wait_for(lambda: port_open(pg_port), START_TIMEOUT_S, "postgres")

        async def create_db() -> None:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    conn = await asyncpg.connect(
                        host="127.0.0.1", port=pg_port, user="hpabench", password=DB_PASSWORD, database="postgres"
                    )
                    break
                except asyncpg.CannotConnectNowError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)
            try:
                await conn.execute("CREATE DATABASE hpabench")
            finally:
                await conn.close()

        asyncio.run(create_db())
        yield Backends(pg_port=pg_port, redis_port=redis_port)
    finally:
        for proc in procs:
            stop(proc, signal.SIGINT)  # SIGINT = PostgreSQL's fast shutdown; Redis exits on it too
        shutil.rmtree(tmp, ignore_errors=True)


def run_migrate(backends: Backends, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hpabench_refapp.migrate"],
        env=backends.env(**env),
        capture_output=True,
        text=True,
        timeout=90,
    )


@dataclass
class RunningApp:
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_app(backends: Backends, log_dir: Path, **env: str) -> RunningApp:
    port = free_port()
    log_path = log_dir / f"app-{port}.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "hpabench_refapp.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            env=backends.env(PORT=str(port), **env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    app = RunningApp(proc, f"http://127.0.0.1:{port}", log_path)

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"app exited with {proc.returncode}:\n{app.log()}")
        try:
            return httpx.get(app.url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, START_TIMEOUT_S, "the app's /healthz")
    except BaseException:
        stop(proc)
        raise
    return app


@pytest.fixture(scope="module")
def migrated(backends: Backends) -> Backends:
    result = run_migrate(backends)
    assert result.returncode == 0, result.stderr
    return backends


@pytest.fixture(scope="module")
def app(migrated: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    running = start_app(migrated, tmp_path_factory.mktemp("applogs"))
    try:
        yield running
    finally:
        stop(running.proc)


def test_migrate_is_idempotent_and_safe_concurrently(migrated: Backends) -> None:
    # Grow the seed to 3x from three migrators at once: the advisory lock serializes them.
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "hpabench_refapp.migrate"],
            env=migrated.env(SEED_ITEMS=str(3 * SEED_ITEMS)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        outputs = [proc.communicate(timeout=90) for proc in procs]
    finally:
        for proc in procs:  # close every pipe even when one migrator hangs (no leaked file)
            if proc.poll() is None:
                proc.kill()
            proc.__exit__(None, None, None)
    assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
    inserted = sorted(int(out.split("ready, ")[1].split(" ")[0]) for out, _ in outputs)
    assert inserted == [0, 0, 2 * SEED_ITEMS]
    assert asyncio.run(migrated.sql("SELECT count(*) FROM items")) == 3 * SEED_ITEMS
    rerun = run_migrate(migrated, SEED_ITEMS=str(3 * SEED_ITEMS))
    assert rerun.returncode == 0 and "0 of 1500 items inserted" in rerun.stdout


def test_migrate_reports_unreachable_database(backends: Backends) -> None:
    import hpabench_refapp.migrate as migrate_mod
    from hpabench_refapp.config import Settings

    settings = Settings(db_port=free_port(), db_password=DB_PASSWORD)
    with pytest.raises(migrate_mod.MigrationError, match="unreachable for 1 s"):
        asyncio.run(migrate_mod.migrate(settings, deadline_s=1.0))


def test_cache_aside_read_miss_then_hit(app: RunningApp) -> None:
    with httpx.Client(base_url=app.url, timeout=5) as client:
        assert client.get("/readyz").status_code == 200
        first = client.get("/items/7")
        second = client.get("/items/7")
    assert first.status_code == second.status_code == 200
    assert first.headers["x-cache"] == "miss"
    assert second.headers["x-cache"] == "hit"
    assert first.json() == second.json()
    assert first.json()["price_cents"] == price_cents(7)
    assert first.json()["name"] == "item-7"


def test_unknown_and_malformed_item_ids_are_404(app: RunningApp) -> None:
    with httpx.Client(base_url=app.url, timeout=5) as client:
        assert client.get("/items/999999").status_code == 404
        assert client.get("/items/abc").status_code == 404
        assert client.get("/items/0").status_code == 404


def test_order_takes_stock_and_invalidates_cache(app: RunningApp) -> None:
    with httpx.Client(base_url=app.url, timeout=5) as client:
        client.get("/items/11")
        assert client.get("/items/11").headers["x-cache"] == "hit"
        order = client.post("/orders", json={"item_id": 11, "quantity": 3})
        assert order.status_code == 201, order.text
        assert order.json()["stock"] == INITIAL_STOCK - 3
        after = client.get("/items/11")
    assert after.headers["x-cache"] == "miss"  # invalidated by the order
    assert after.json()["stock"] == INITIAL_STOCK - 3


def test_order_errors(app: RunningApp, migrated: Backends) -> None:
    asyncio.run(migrated.sql("UPDATE items SET stock = 2 WHERE id = 12"))
    with httpx.Client(base_url=app.url, timeout=5) as client:
        assert client.post("/orders", json={"item_id": 999999, "quantity": 1}).status_code == 404
        conflict = client.post("/orders", json={"item_id": 12, "quantity": 3})
        assert conflict.status_code == 409
        assert "2 left" in conflict.json()["error"]
        assert client.post("/orders", content=b"{not json").status_code == 400
        assert client.post("/orders", json={"item_id": 12}).status_code == 400
    assert asyncio.run(migrated.sql("SELECT stock FROM items WHERE id = 12")) == 2
    assert asyncio.run(migrated.sql("SELECT count(*) FROM orders WHERE item_id = 12")) == 0


def test_concurrent_orders_on_one_item_are_serialized(app: RunningApp, migrated: Backends) -> None:
    async def place(count: int) -> list[int]:
        async with httpx.AsyncClient(base_url=app.url, timeout=10) as client:
            responses = await asyncio.gather(
                *(client.post("/orders", json={"item_id": 13, "quantity": 1}) for _ in range(count))
            )
        return [r.status_code for r in responses]

    statuses = asyncio.run(place(40))
    assert statuses == [201] * 40
    assert asyncio.run(migrated.sql("SELECT stock FROM items WHERE id = 13")) == INITIAL_STOCK - 40
    assert asyncio.run(migrated.sql("SELECT count(*) FROM orders WHERE item_id = 13")) == 40


def test_work_burns_the_requested_cost(app: RunningApp) -> None:
    with httpx.Client(base_url=app.url, timeout=10) as client:
        explicit = client.get("/work", params={"cost": 2500})
        default = client.get("/work")
        assert client.get("/work", params={"cost": 10**9}).status_code == 400
    assert explicit.json() == {"cost": 2500, "digest": burn_cpu(2500)}
    assert default.json()["cost"] == 1000  # WORK_DEFAULT_COST


def test_metrics_after_traffic(app: RunningApp) -> None:
    with httpx.Client(base_url=app.url, timeout=5) as client:
        client.get("/items/21")
        client.get("/items/21")
        client.get("/nope")
        text = client.get("/metrics").text
    assert _sample(text, "http_requests_total", route="/items/{id}", method="GET", status="200") >= 2
    assert _sample(text, "http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert _sample(text, "http_request_duration_seconds_bucket", route="/items/{id}", method="GET", le="0.0005") >= 0
    routes = {
        sample.labels["route"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "route" in sample.labels
    }
    assert routes <= {"/items/{id}", "/orders", "/work", "unmatched"}  # templates only, no probes
    assert "_created" not in text
    assert _sample(text, "cache_requests_total", result="hit") >= 1
    assert _sample(text, "cache_requests_total", result="miss") >= 1
    assert _sample(text, "db_pool_connections", state="idle") >= 1  # pool opened by the reads
    assert _sample(text, "db_pool_connections", state="in_use") == 0
    assert _sample(text, "http_requests_in_flight") == 0  # /metrics itself is not counted


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of the one series `name` whose labels include `labels` (label order-agnostic)."""
    found = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                found.append(sample.value)
    assert len(found) == 1, f"{name}{labels}: {len(found)} series in\n{text}"
    return float(found[0])


def test_redis_down_means_not_ready_but_reads_still_served(migrated: Backends, tmp_path: Path) -> None:
    running = start_app(migrated, tmp_path, REDIS_PORT=str(free_port()))
    try:
        with httpx.Client(base_url=running.url, timeout=5) as client:
            ready = client.get("/readyz")
            item = client.get("/items/5")
            text = client.get("/metrics").text
    finally:
        stop(running.proc)
    assert ready.status_code == 503
    assert ready.json()["db"] == "ok" and ready.json()["cache"] != "ok"
    assert item.status_code == 200 and item.headers["x-cache"] == "error"
    assert _sample(text, "cache_requests_total", result="error") == 1


def test_sigterm_shuts_down_gracefully(migrated: Backends, tmp_path: Path) -> None:
    running = start_app(migrated, tmp_path)
    try:
        assert httpx.get(running.url + "/items/3", timeout=5).status_code == 200
    finally:
        code = stop(running.proc, signal.SIGTERM, timeout_s=10)
    # uvicorn >= 0.29 re-raises the signal after its graceful shutdown, so -SIGTERM is a clean exit too.
    assert code in (0, -signal.SIGTERM)
    assert "stopped: pool and cache connections closed" in running.log()


def test_invalid_configuration_is_one_clear_error(backends: Backends) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "hpabench_refapp.main:app", "--port", str(free_port())],
        env=backends.env(DB_PORT="five", REDIS_HOST="$(REDIS_SERVICE_HOST)"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "DB_PORT='five': must be an integer in [1, 65535]" in result.stderr
    assert "REDIS_HOST='$(REDIS_SERVICE_HOST)': contains an unexpanded variable reference" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_does_not_lock_behind_live_orders(migrated: Backends) -> None:
    """A pod starting under write load: its init container must not wait on (or deadlock with) orders."""

    async def scenario() -> subprocess.CompletedProcess[str]:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=migrated.pg_port, user="hpabench", password=DB_PASSWORD, database="hpabench"
        )
        try:
            transaction = conn.transaction()
            await transaction.start()
            # What POST /orders holds mid-transaction: a row lock on the item and an open insert.
            await conn.execute("SELECT stock FROM items WHERE id = 1 FOR UPDATE")
            await conn.execute("INSERT INTO orders (item_id, quantity) VALUES (1, 1)")
            try:
                return await asyncio.to_thread(
                    subprocess.run,
                    [sys.executable, "-m", "hpabench_refapp.migrate"],
                    env=migrated.env(),
                    capture_output=True,
                    text=True,
                    timeout=20,
                )
            finally:
                await transaction.rollback()
        finally:
            await conn.close()

    result = asyncio.run(scenario())
    assert result.returncode == 0, result.stderr
    assert "0 of" in result.stdout
