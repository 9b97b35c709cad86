"""A small real HTTP server with the reference app's routes, for the driver's integration tests.

`served_app()` starts uvicorn (one process, 127.0.0.1, a free port) running `app` below and
yields its base URL; it is always stopped, even when the test fails. The app counts the requests
it answered per route (`GET /_count`, not counted itself), so tests compare client-side counts
with the server's own. `/work?cost=N` burns N SHA-256 rounds like the reference app.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from hpabench.lifeline import die_with_parent

COUNTS: Counter[str] = Counter()


async def item(request: Request) -> JSONResponse:
    COUNTS["items"] += 1
    item_id = int(request.path_params["item_id"])
    return JSONResponse({"id": item_id, "name": f"item-{item_id}", "price_cents": 100, "stock": 5})


async def orders(request: Request) -> JSONResponse:
    COUNTS["orders"] += 1
    body = await request.json()
    return JSONResponse({"order_id": COUNTS["orders"], **body}, status_code=201)


async def work(request: Request) -> PlainTextResponse:
    COUNTS["work"] += 1
    digest = b"x"
    for _ in range(int(request.query_params.get("cost", "0"))):
        digest = hashlib.sha256(digest).digest()
    return PlainTextResponse(digest.hex())


async def fail(request: Request) -> PlainTextResponse:
    COUNTS["fail"] += 1
    return PlainTextResponse("no", status_code=503)


async def count(request: Request) -> JSONResponse:
    return JSONResponse({"total": sum(COUNTS.values()), **COUNTS})


async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/items/{item_id:int}", item),
        Route("/orders", orders, methods=["POST"]),
        Route("/work", work),
        Route("/fail", fail),
        Route("/_count", count),
        Route("/healthz", healthz),
    ]
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served_app(cpu: int | None = None) -> Iterator[str]:
    """Run `app` under uvicorn on 127.0.0.1; yields the base URL; always stops it.

    `cpu` pins the server to one core (taskset) to keep it off the generator's core.
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(Path(__file__).parent),
        "test_driver_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    # Its own session (killpg stops it whole) and a parent-death signal: a pytest killed by SIGTERM
    # or SIGKILL never gets to the `finally`, and the server must not outlive it.
    proc = subprocess.Popen(
        command,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=die_with_parent if threading.current_thread() is threading.main_thread() else None,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"test server did not start: {proc.stderr.read() if proc.stderr else ''!r}")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def server_count(url: str) -> dict[str, int]:
    return dict(httpx.get(url + "/_count", timeout=5.0).json())


@pytest.mark.integration
def test_served_app_counts_what_it_answers() -> None:
    with served_app() as url:
        for item_id in (1, 2, 3):
            assert httpx.get(f"{url}/items/{item_id}").json()["id"] == item_id
        assert httpx.post(f"{url}/orders", json={"item_id": 1, "quantity": 2}).status_code == 201
        assert len(httpx.get(f"{url}/work?cost=10").text) == 64
        assert server_count(url) == {"total": 5, "items": 3, "orders": 1, "work": 1}
