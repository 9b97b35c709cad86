"""Client keep-alive off really opens a connection per request: the real driver (Locust
subprocess) against a plain HTTP/1.1 server on 127.0.0.1 that counts accepted connections."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hpabench.rundir import EventLog
from hpabench.scenarios.drive.driver import DriverConfig, run_load
from hpabench.scenarios.spec import Scenario

pytestmark = pytest.mark.integration


class _Counting(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = 0

    def process_request(self, request, client_address):  # type: ignore[no-untyped-def]
        with self.lock:
            self.connections += 1
        super().process_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the client says Connection: close

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, _Counting)
        with server.lock:
            server.requests += 1
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


@contextmanager
def counting_server() -> Iterator[_Counting]:
    server = _Counting()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


SCENARIO = Scenario.model_validate(
    {
        "name": "conn",
        "description": "connection counting",
        "stages": [{"name": "load", "duration_s": 4, "users": 5}],
        "think_time": {"mean_s": 0.1, "jitter": 0.5},
        "mix": {"cpu": {"weight": 1.0, "cost": 1}},
    }
)


def _drive(tmp_path: Path, keepalive: bool) -> tuple[int, int]:
    with counting_server() as server:
        host = f"http://127.0.0.1:{server.server_address[1]}"
        tmp_path.mkdir(parents=True, exist_ok=True)
        events = EventLog(tmp_path / "events.jsonl")
        try:
            run_load(
                DriverConfig(
                    scenario=SCENARIO, host=host, data_dir=tmp_path / "data", events=events, keepalive=keepalive
                )
            )
        finally:
            events.close()
        return server.connections, server.requests


def test_keepalive_off_opens_a_connection_per_request(tmp_path: Path) -> None:
    connections, requests = _drive(tmp_path / "off", keepalive=False)
    assert requests >= 50
    assert connections >= requests  # every request on a fresh connection
    kept_connections, kept_requests = _drive(tmp_path / "on", keepalive=True)
    assert kept_requests >= 50
    assert kept_connections <= 10 + 5  # one per user, plus a few reconnects at most
