"""The userspace delay relay (deploy/local/delay_relay.py) on real sockets on 127.0.0.1.

An echo server (asyncio, in a thread) behind a relay process: the added delay is at least the
configured one way per direction (RTT + 2 × delay) and within a generous bound on a busy
machine; bytes keep their order under jitter; a half-close passes both ways; the delay changes
at run time through the control socket; many connections at once; the relay exits when its
parent dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from hpabench.deploy.local.delay_relay import DelaySettings, RelayControl, command, split_address, unix_path

BYE = b"<bye>"  # what the echo server sends after the client's FIN, before closing


class EchoServer:
    """Echoes every byte; after the client's FIN sends BYE and closes (half-close check)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0, backlog=1024))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.write(BYE)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Relay:
    """A relay process for a test; `stop()` terminates it."""

    def __init__(self, upstream: int, folder: Path, delay_ms: float = 0.0, jitter_ms: float = 0.0) -> None:
        self.port = free_port()
        self.control_path = folder / "relay.sock"
        self.proc = subprocess.Popen(
            command(
                f"127.0.0.1:{self.port}",
                f"127.0.0.1:{upstream}",
                delay_ms,
                jitter_ms,
                self.control_path,
                os.getpid(),
                seed=7,
            ),
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == b"ready"
        self.control = RelayControl(self.control_path)

    def stop(self) -> int:
        self.proc.terminate()
        code = self.proc.wait(10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def relay(echo: EchoServer, tmp_path: Path) -> Iterator[Relay]:
    started = Relay(echo.port, tmp_path, delay_ms=5.0)
    try:
        yield started
    finally:
        assert started.stop() == 0
        assert not started.control_path.exists()


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    got = bytearray()
    while len(got) < size:
        part = sock.recv(size - len(got))
        assert part, f"connection closed after {len(got)} of {size} bytes"
        got += part
    return bytes(got)


def round_trips_ms(port: int, count: int, payload: bytes = b"x" * 64) -> list[float]:
    with connect(port) as sock:
        times = []
        for _ in range(count):
            start = time.perf_counter()
            sock.sendall(payload)
            recv_exactly(sock, len(payload))
            times.append((time.perf_counter() - start) * 1000)
        sock.shutdown(socket.SHUT_WR)
        assert recv_exactly(sock, len(BYE)) == BYE
    return times


def test_each_direction_is_delayed_once_and_the_delay_changes_at_run_time(relay: Relay, echo: EchoServer) -> None:
    direct = statistics.median(round_trips_ms(echo.port, 20))
    delayed = round_trips_ms(relay.port, 30)
    assert min(delayed) >= 10.0, delayed  # 5 ms each way: never less than 2 × 5 ms
    assert statistics.median(delayed) < 10.0 + direct + 25.0, delayed  # generous: a busy 2-core machine
    state = relay.control.set(delay_ms=20.0)
    assert state["ok"] and state["delay_ms"] == 20.0 and state["accepted"] >= 1
    assert min(round_trips_ms(relay.port, 5)) >= 40.0
    relay.control.set(delay_ms=0.0)
    assert statistics.median(round_trips_ms(relay.port, 20)) < 10.0
    with pytest.raises(ValueError, match="delay_ms must be a number"):
        relay.control.set(delay_ms=-1)
    assert relay.control.request({"nope": 1}) == {"ok": False, "error": "unknown fields: nope"}
    assert relay.control.state()["delay_ms"] == 0.0  # a refused request changes nothing


def test_bytes_keep_their_order_under_jitter_and_half_close_passes(echo: EchoServer, tmp_path: Path) -> None:
    relay = Relay(echo.port, tmp_path, delay_ms=2.0, jitter_ms=2.0)
    try:
        rng = random.Random(3)
        blob = rng.randbytes(1 << 20)
        with connect(relay.port) as sock:
            received = bytearray()

            def read_all() -> None:
                while part := sock.recv(65536):
                    received.extend(part)

            reader = threading.Thread(target=read_all)
            reader.start()
            offset = 0
            while offset < len(blob):  # many small writes: many chunks, each with its own jitter
                size = rng.randint(1, 8192)
                sock.sendall(blob[offset : offset + size])
                offset += size
                if rng.random() < 0.5:
                    time.sleep(0.0005)  # so they are not all coalesced into 64 KiB reads
            sock.shutdown(socket.SHUT_WR)  # half-close: the echo keeps coming, then BYE, then EOF
            reader.join(30)
            assert not reader.is_alive()
        assert bytes(received) == blob + BYE
        assert relay.control.state()["chunks"] > 50  # many chunks, each held on its own
    finally:
        assert relay.stop() == 0


def test_many_connections_at_once(relay: Relay) -> None:
    socks = [connect(relay.port) for _ in range(300)]
    try:
        for i, sock in enumerate(socks):
            sock.sendall(f"{i:05d}".encode())
        for i, sock in enumerate(socks):
            assert recv_exactly(sock, 5) == f"{i:05d}".encode()
        assert relay.control.state()["connections"] == 300
    finally:
        for sock in socks:
            sock.close()
    deadline = time.monotonic() + 10
    while relay.control.state()["connections"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert relay.control.state()["connections"] == 0


def test_an_unreachable_upstream_closes_the_client(tmp_path: Path) -> None:
    relay = Relay(free_port(), tmp_path)  # nothing listens there
    try:
        with connect(relay.port) as sock, contextlib.suppress(ConnectionResetError):
            assert sock.recv(10) == b""
    finally:
        assert relay.stop() == 0


def test_the_relay_exits_when_its_parent_dies(echo: EchoServer, tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-m', 'hpabench.deploy.local.delay_relay', '--listen', "
            f"'127.0.0.1:{free_port()}', '--upstream', '127.0.0.1:{echo.port}', '--control', "
            f"{str(tmp_path / 'orphan.sock')!r}, '--parent-pid', str(os.getpid())], stdout=subprocess.DEVNULL)\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        control = RelayControl(tmp_path / "orphan.sock")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                if control.state()["ok"]:
                    break
            time.sleep(0.05)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _running(child):
            time.sleep(0.05)
        assert not _running(child), "the relay outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_settings_parsing_and_long_control_paths(tmp_path: Path) -> None:
    settings = DelaySettings(delay_ms=5.0, jitter_ms=1.0)
    rng = random.Random(1)
    samples = [settings.sample_s(rng) * 1000 for _ in range(2000)]
    assert min(samples) >= 3.0 and max(samples) <= 7.0  # normal, sigma 1 ms, truncated at 2 sigma
    assert abs(statistics.mean(samples) - 5.0) < 0.1
    settings.update({"distribution": "uniform", "jitter_ms": 2})
    samples = [settings.sample_s(rng) * 1000 for _ in range(2000)]
    assert min(samples) >= 3.0 and max(samples) <= 7.0
    assert DelaySettings(delay_ms=1.0, jitter_ms=5.0).sample_s(rng) >= 0.0
    with pytest.raises(ValueError, match="distribution"):
        settings.update({"distribution": "pareto"})
    assert split_address("127.0.0.1:80") == ("127.0.0.1", 80)
    with pytest.raises(ValueError):
        split_address("localhost")
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path, fd = unix_path(deep / "relay.sock")
    assert fd is not None and path.startswith("/proc/self/fd/") and len(path) < 100
    os.close(fd)
    assert unix_path(tmp_path / "r.sock") == (str(tmp_path / "r.sock"), None)
    assert json.loads(json.dumps(DelaySettings().__dict__)) == {
        "delay_ms": 0.0,
        "jitter_ms": 0.0,
        "distribution": "normal",
    }


def test_latency_event_actions_set_and_restore_the_links_relay(relay: Relay) -> None:
    from types import SimpleNamespace

    from hpabench.deploy.local import events as local_events
    from hpabench.deploy.local.tierlinks import DelayRelay
    from hpabench.errors import TargetError
    from hpabench.scenarios.events import AddLatency, RemoveLatency

    handle = DelayRelay("postgres", "127.0.0.1:1", relay.port, relay.control_path.parent, 5.0, 1.0)
    handle.control = relay.control
    tiers = SimpleNamespace(delay_relay=lambda service: handle if service == "postgres" else None)
    cluster = SimpleNamespace(tier_links=tiers)
    emitted: list[tuple[str, dict[str, object]]] = []

    def emit(kind: str, **fields: object) -> None:
        emitted.append((kind, fields))

    add = AddLatency(at_s=0, kind="add-latency", between=["postgres", "web"], delay_ms=20, jitter_ms=2)
    result = local_events.perform(cluster, add, emit)  # type: ignore[arg-type]
    assert result["delay_ms"] == 25.0 and result["variant_delay_ms"] == 5.0 and result["link"] == "web-postgres"
    assert abs(result["jitter_ms"] - (1.0**2 + 2.0**2) ** 0.5) < 1e-6  # independent jitters add as variances
    assert relay.control.state()["delay_ms"] == 25.0 and emitted[0][0] == "fault"
    removed = local_events.perform(
        cluster, RemoveLatency(at_s=1, kind="remove-latency", between=["web", "postgres"]), emit
    )  # type: ignore[arg-type]
    assert (
        removed["restored"] and relay.control.state()["delay_ms"] == 5.0 and relay.control.state()["jitter_ms"] == 1.0
    )
    cache = AddLatency(at_s=0, kind="add-latency", between=["web", "redis"], delay_ms=3)
    with pytest.raises(TargetError, match="no delay relay on the web→redis link"):
        local_events.perform(cluster, cache, emit)  # type: ignore[arg-type]


def test_the_client_web_link_is_a_relay_in_front_of_the_web_frontend(echo: EchoServer, tmp_path: Path) -> None:
    from hpabench.deploy.local.env import ServiceLink
    from hpabench.deploy.local.tierlinks import ImpairedTiers
    from hpabench.deploy.render import render
    from hpabench.deploy.variant import resolve_variant

    objects = render(resolve_variant(None, ["networking.netem.client_web={delay_ms: 10}"]))
    links = [ServiceLink("web", echo.port, {"http": echo.port}), ServiceLink("postgres", 1, {})]
    tiers, routed = ImpairedTiers.start(objects, links, tmp_path / "tierlinks", free_port)
    try:
        assert routed == links  # the pods' env keeps the Service's own port
        port = tiers.client_port()
        assert port is not None and port != echo.port
        assert min(round_trips_ms(port, 5)) >= 19.0  # 10 ms each way through the relay
        (entry,) = tiers.describe()
        assert entry["tier"] == "client_web" and entry["mechanism"] == "userspace-relay"
        assert entry["delay_relay_port"] == port and entry["qdisc"] is None
        ((pid, label),) = tiers.processes()
        assert label == "delay-relay-web"
    finally:
        tiers.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert tiers.client_port() is None
    unimpaired, same = ImpairedTiers.start(render(), links, tmp_path / "plain", free_port)
    assert same == links and unimpaired.client_port() is None
