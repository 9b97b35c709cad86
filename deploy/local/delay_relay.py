"""A userspace TCP delay relay: added one-way latency (and jitter) between two tiers without netem.

    python -m hpabench.deploy.local.delay_relay --listen 127.0.0.1:P --upstream 127.0.0.1:Q \
        --delay-ms 5 --jitter-ms 1 --control RUN/tierlinks/postgres.sock --parent-pid PID

Contract (the semantics of the variant's `networking.netem.<tier>.delay_ms` / `jitter_ms`, which
the netem path applies once per direction on the host end of a veth pair):
- Every connection accepted on `--listen` gets its own connection to `--upstream`; bytes are
  forwarded in both directions. Each chunk read from one side is held for its own one-way delay
  `delay_ms + j` before it is written to the other side, in each direction independently, so a
  request/response round trip gains 2 × `delay_ms` — what netem on both directions gives.
- Jitter `j`: `normal` (default, netem's `distribution normal`): sigma = `jitter_ms`, truncated at
  ±2 sigma; `uniform`: within ±`jitter_ms`. A delay never goes below 0. Bytes within a
  connection are never reordered: a chunk is released no earlier than the chunk before it in the
  same direction (netem may reorder packets under jitter; TCP would put them back in order, at
  the cost of that wait — the same wait this relay gives directly).
- Half-close: a FIN from one side is passed on (`shutdown(SHUT_WR)`) after that direction's
  delay, behind the data before it; the other direction keeps flowing. A reset or error on one
  side aborts the other side at once. The upstream refusing a connection closes the client's.
- Flow control: a direction stops reading its source while the destination's write buffer is
  over its high-water mark or more than `HOLD_LIMIT_BYTES` are held for delay.
- Control channel: a unix socket (`--control`); one JSON object per line, one JSON reply per
  line. `{"delay_ms": 7, "jitter_ms": 0}` sets the delay for chunks read from now on (either
  field may be left out); `{}` just asks. Every reply is the state: `{"ok": true, "delay_ms",
  "jitter_ms", "distribution", "connections", "accepted", "chunks"}`; a bad request gets
  `{"ok": false, "error": ...}` and changes nothing. `RelayControl` is the client.
- Lifetime: SIGTERM/SIGINT stop it (exit 0); it exits by itself within `PARENT_POLL_S` once its
  parent (`--parent-pid`) is gone, whichever thread started it (a parent-death signal would fire
  when that thread ends). It prints `ready` on stdout once it listens on both sockets.
Uses uvloop when installed (several thousand chunks/s with little CPU), else asyncio's loop.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

HOLD_LIMIT_BYTES = 1 << 20  # per direction: stop reading the source beyond this much held
CHUNK_BYTES = 1 << 16
PARENT_POLL_S = 0.2
CONTROL_TIMEOUT_S = 5.0
DISTRIBUTIONS = ("normal", "uniform")
UNIX_PATH_MAX = 100  # sun_path is 108 bytes; longer paths go through /proc/self/fd (see unix_path)


@dataclass
class DelaySettings:
    """The relay's current delay (mutable through the control channel)."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    distribution: str = "normal"

    def sample_s(self, rng: random.Random) -> float:
        """One chunk's one-way delay, seconds (≥ 0)."""
        delay = self.delay_ms
        if self.jitter_ms > 0:
            if self.distribution == "uniform":
                delay += rng.uniform(-self.jitter_ms, self.jitter_ms)
            else:
                limit = 2 * self.jitter_ms
                delay += max(-limit, min(limit, rng.gauss(0.0, self.jitter_ms)))
        return max(0.0, delay) / 1000.0

    def update(self, request: dict[str, Any]) -> None:
        """Apply a control request (ValueError, nothing changed, when a field is invalid)."""
        unknown = set(request) - {"delay_ms", "jitter_ms", "distribution"}
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        delay = _milliseconds(request.get("delay_ms", self.delay_ms), "delay_ms")
        jitter = _milliseconds(request.get("jitter_ms", self.jitter_ms), "jitter_ms")
        distribution = request.get("distribution", self.distribution)
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}")
        self.delay_ms, self.jitter_ms, self.distribution = delay, jitter, str(distribution)


def _milliseconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 60_000:
        raise ValueError(f"{name} must be a number of milliseconds in [0, 60000]")
    return float(value)


class _Direction:
    """Bytes from one side to the other: held in order, each chunk until its release time."""

    def __init__(self, relay: _Relay, name: str) -> None:
        self.relay = relay
        self.name = name
        self.source: asyncio.Transport | None = None
        self.dest: asyncio.Transport | None = None
        self.held: collections.deque[tuple[float, bytes | None]] = collections.deque()  # None: EOF
        self.held_bytes = 0
        self.timer: asyncio.TimerHandle | None = None
        self.last_release = 0.0
        self.dest_paused = False
        self.reading_paused = False
        self.eof_sent = False

    def push(self, data: bytes | None) -> None:
        release = max(time.monotonic() + self.relay.settings.sample_s(self.relay.rng), self.last_release)
        self.last_release = release
        self.held.append((release, data))
        if data is not None:
            self.held_bytes += len(data)
            self.relay.server.chunks += 1
        if self.timer is None:
            self._arm(release)
        self._flow()

    def _arm(self, release: float) -> None:
        # The loop's clock may be coarse (libuv: milliseconds) and fire a timer early; times are
        # kept on time.monotonic() and flush() re-arms for what is not due yet.
        self.timer = self.relay.loop.call_later(max(0.0, release - time.monotonic()), self.flush)

    def flush(self) -> None:
        self.timer = None
        dest = self.dest
        if dest is None:
            return  # bytes read before the upstream connection exists wait for it (see _connect)
        now = time.monotonic()
        ready: list[bytes] = []
        eof = False
        while self.held and self.held[0][0] <= now:
            _, data = self.held.popleft()
            if data is None:
                eof = True
                break
            ready.append(data)
            self.held_bytes -= len(data)
        if dest is not None and not dest.is_closing():
            if ready:
                dest.write(ready[0] if len(ready) == 1 else b"".join(ready))
            if eof:
                self.eof_sent = True
                if dest.can_write_eof():
                    dest.write_eof()
                self.relay.maybe_close()
        if self.held and not eof:
            self._arm(self.held[0][0])
        self._flow()

    def _flow(self) -> None:
        """Pause/resume reading the source (back-pressure from the destination or the hold)."""
        source = self.source
        if source is None or source.is_closing():
            return
        over = self.dest_paused or self.held_bytes > HOLD_LIMIT_BYTES
        if over and not self.reading_paused:
            self.reading_paused = True
            source.pause_reading()
        elif not over and self.reading_paused and self.held_bytes <= HOLD_LIMIT_BYTES // 2:
            self.reading_paused = False
            source.resume_reading()

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.held.clear()
        self.held_bytes = 0


class _Relay:
    """One relayed connection: the client's side, the upstream side, two directions."""

    def __init__(self, server: RelayServer) -> None:
        self.server = server
        self.loop = server.loop
        self.settings = server.settings
        self.rng = server.rng
        self.up = _Direction(self, "to-upstream")  # client → upstream
        self.down = _Direction(self, "to-client")  # upstream → client
        self.client: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self.closed = False

    def maybe_close(self) -> None:
        """Both directions have passed their EOF on: the connection is over."""
        if self.up.eof_sent and self.down.eof_sent:
            self.close()

    def close(self, abort: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        self.up.cancel()
        self.down.cancel()
        for transport in (self.client, self.upstream):
            if transport is not None and not transport.is_closing():
                transport.abort() if abort else transport.close()
        self.server.connections.discard(self)


class _Side(asyncio.Protocol):
    """A protocol for one of the two sockets of a relayed connection."""

    def __init__(self, relay: _Relay, inbound: _Direction, outbound: _Direction) -> None:
        self.relay = relay
        self.inbound = inbound  # what this side reads goes here
        self.outbound = outbound  # what this side writes comes from here

    def data_received(self, data: bytes) -> None:
        if not self.relay.closed:
            self.inbound.push(data)

    def eof_received(self) -> bool:
        if not self.relay.closed:
            self.inbound.push(None)
        return True  # keep the transport open: the other direction may still flow (half-close)

    def pause_writing(self) -> None:
        self.outbound.dest_paused = True
        self.outbound._flow()

    def resume_writing(self) -> None:
        self.outbound.dest_paused = False
        self.outbound._flow()

    def connection_lost(self, exc: Exception | None) -> None:
        # A reset or error, or a close on our side: nothing more can pass this socket either way.
        self.relay.close(abort=exc is not None)


class _ClientSide(_Side):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        relay = self.relay
        relay.client = transport
        relay.up.source = transport
        relay.down.dest = transport
        relay.server.accepted += 1
        relay.server.connections.add(relay)
        _no_delay(transport)
        transport.pause_reading()  # until the upstream connection exists (some loops read first)
        relay.server.track(relay.loop.create_task(self._connect()))

    async def _connect(self) -> None:
        relay = self.relay
        host, port = relay.server.upstream
        try:
            transport, _ = await relay.loop.create_connection(lambda: _Side(relay, relay.down, relay.up), host, port)
        except OSError:
            relay.close(abort=True)
            return
        if relay.closed:
            transport.abort()
            return
        _no_delay(transport)
        relay.upstream = transport
        relay.up.dest = transport
        relay.down.source = transport
        if relay.up.held and relay.up.timer is None:
            relay.up._arm(relay.up.held[0][0])  # what the client sent while we connected
        if relay.client is not None and not relay.client.is_closing():
            relay.client.resume_reading()


def _no_delay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def split_address(text: str) -> tuple[str, int]:
    """`host:port` → (host, port); ValueError otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {text!r}")
    return host, int(port)


def unix_path(path: Path) -> tuple[str, int | None]:
    """A path to bind/connect a unix socket at `path`, and a directory fd to close afterwards:
    the path itself if short enough, else `/proc/self/fd/<dir fd>/<name>` (sun_path is 108 bytes,
    run folders under pytest's tmp can be longer)."""
    if len(os.fsencode(str(path))) <= UNIX_PATH_MAX:
        return str(path), None
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    return f"/proc/self/fd/{fd}/{path.name}", fd


class RelayServer:
    """The relay's listener, its control socket and its connections (run in one event loop)."""

    def __init__(
        self,
        listen: tuple[str, int],
        upstream: tuple[str, int],
        settings: DelaySettings,
        control: Path | None,
        seed: int | None = None,
    ) -> None:
        self.listen = listen
        self.upstream = upstream
        self.settings = settings
        self.control = control
        self.rng = random.Random(seed)
        self.loop = asyncio.get_running_loop()
        self.connections: set[_Relay] = set()
        self.accepted = 0
        self.chunks = 0
        self.tasks: set[asyncio.Task[Any]] = set()
        self.servers: list[asyncio.AbstractServer] = []

    def track(self, task: asyncio.Task[Any]) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def start(self) -> None:
        host, port = self.listen
        self.servers.append(await self.loop.create_server(lambda: _client_side(self), host, port, backlog=1024))
        if self.control is not None:
            with contextlib.suppress(FileNotFoundError):
                self.control.unlink()
            path, fd = unix_path(self.control)
            try:
                self.servers.append(await asyncio.start_unix_server(self._control_client, path))
            finally:
                if fd is not None:
                    os.close(fd)

    def state(self) -> dict[str, Any]:
        return {
            "ok": True,
            "delay_ms": self.settings.delay_ms,
            "jitter_ms": self.settings.jitter_ms,
            "distribution": self.settings.distribution,
            "connections": len(self.connections),
            "accepted": self.accepted,
            "chunks": self.chunks,
        }

    async def _control_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                    if not isinstance(request, dict):
                        raise ValueError("a request is one JSON object")
                    self.settings.update(request)
                    reply = self.state()
                except ValueError as exc:
                    reply = {"ok": False, "error": str(exc)}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # a control client that went away (or sent an endless line) ends its session only
        finally:
            writer.close()

    async def stop(self) -> None:
        for server in self.servers:
            server.close()
        for relay in list(self.connections):
            relay.close(abort=True)
        for task in list(self.tasks):
            task.cancel()
        for server in self.servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        if self.control is not None:
            with contextlib.suppress(OSError):
                self.control.unlink()


def _client_side(server: RelayServer) -> _ClientSide:
    relay = _Relay(server)
    return _ClientSide(relay, relay.up, relay.down)


class RelayControl:
    """Client of a relay's control socket: `set(delay_ms=..., jitter_ms=...)`, `state()`."""

    def __init__(self, path: Path, timeout_s: float = CONTROL_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Send one request, return the reply (OSError/ValueError when the relay does not answer)."""
        path, fd = unix_path(self.path)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout_s)
                sock.connect(path)
                sock.sendall(json.dumps(payload).encode() + b"\n")
                reply = b""
                while not reply.endswith(b"\n"):
                    part = sock.recv(4096)
                    if not part:
                        raise ConnectionError(f"delay relay at {self.path} closed the control connection")
                    reply += part
        finally:
            if fd is not None:
                os.close(fd)
        answer = json.loads(reply)
        if not isinstance(answer, dict):
            raise ValueError(f"delay relay at {self.path}: unexpected reply {reply!r}")
        return answer

    def state(self) -> dict[str, Any]:
        return self.request({})

    def set(self, **fields: Any) -> dict[str, Any]:
        """Change the delay; ValueError with the relay's reason when it refuses."""
        answer = self.request(fields)
        if not answer.get("ok"):
            raise ValueError(f"delay relay refused {fields}: {answer.get('error')}")
        return answer


async def serve(args: argparse.Namespace) -> int:
    settings = DelaySettings(args.delay_ms, args.jitter_ms, args.distribution)
    server = RelayServer(split_address(args.listen), split_address(args.upstream), settings, args.control, args.seed)
    await server.start()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)

    def watch_parent() -> None:
        if args.parent_pid is not None and os.getppid() != args.parent_pid:
            done.set()
            return
        loop.call_later(PARENT_POLL_S, watch_parent)

    watch_parent()
    print("ready", flush=True)
    await done.wait()
    await server.stop()
    return 0


def command(
    listen: str,
    upstream: str,
    delay_ms: float,
    jitter_ms: float,
    control: Path,
    parent_pid: int,
    seed: int | None = None,
) -> list[str]:
    """The argv that runs a relay with these settings (what `parse_args` reads; pure)."""
    argv = [
        sys.executable,
        "-m",
        "hpabench.deploy.local.delay_relay",
        "--listen",
        listen,
        "--upstream",
        upstream,
        "--delay-ms",
        f"{delay_ms:g}",
        "--jitter-ms",
        f"{jitter_ms:g}",
        "--control",
        str(control),
        "--parent-pid",
        str(parent_pid),
    ]
    return argv + (["--seed", str(seed)] if seed is not None else [])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="hpabench delay relay (added latency between tiers without netem)")
    parser.add_argument("--listen", required=True, help="host:port to accept connections on")
    parser.add_argument("--upstream", required=True, help="host:port to forward each connection to")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay per direction, ms")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="jitter (sigma for normal), ms")
    parser.add_argument("--distribution", choices=DISTRIBUTIONS, default="normal")
    parser.add_argument("--control", type=Path, default=None, help="unix socket for run-time changes")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit once this process is gone")
    parser.add_argument("--seed", type=int, default=None, help="jitter random seed")
    args = parser.parse_args(argv)
    try:
        split_address(args.listen)
        split_address(args.upstream)
        DelaySettings().update({"delay_ms": args.delay_ms, "jitter_ms": args.jitter_ms})
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.parent_pid is not None and os.getppid() != args.parent_pid:
        return 0  # the parent died before we got here
    try:
        import uvloop  # optional: the same code, a faster loop

        run: Any = uvloop.run
    except ImportError:
        run = asyncio.run
    started = time.monotonic()
    try:
        return int(run(serve(args)))
    except OSError as exc:
        print(f"delay relay: {exc} (after {time.monotonic() - started:.1f} s)", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
