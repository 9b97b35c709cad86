"""Node-level servers (HAProxy, Prometheus) supervised like pods: a death is a fault, not a secret.

`ServerWatch` polls every `POLL_S`. When a watched server's process has exited (and the watch is
not stopping) it

1. records a `fault` event {server, flag, exit_code, message, log} — the flag (`lb_died`,
   `prometheus_died`) is what the pipeline puts on the run so a gate refuses to judge it;
2. restarts the server with the same config (Prometheus on the same TSDB folder, so everything
   scraped before the death is kept; HAProxy on the same ports), after a short backoff that
   doubles with each death (`RESTART_BACKOFF_S` … `MAX_BACKOFF_S`), up to `MAX_RESTARTS`;
3. waits for it to be ready, calls its `after_restart` hook (HAProxy: re-add the current
   endpoints, which its static config does not hold) and records `server_restarted`
   {server, restarts, down_s} — `down_s` from the detection of the death to ready again.

Restarts happen on the watch thread, never the caller's; `stop()` joins it before the servers
themselves are stopped, so a teardown never races a restart.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hpabench.deploy.local.procs import log_tail

POLL_S = 0.2
READY_TIMEOUT_S = 30.0
RESTART_BACKOFF_S = 0.2
MAX_BACKOFF_S = 5.0
MAX_RESTARTS = 10
FLAGS = {"haproxy": "lb_died", "prometheus": "prometheus_died"}


@dataclass
class Watched:
    """A server and what to do after it has been restarted."""

    server: Any  # servers._Process: name, proc, exited(), start(), ready(), log
    after_restart: Callable[[], None] | None = None
    restarts: int = 0
    gave_up: bool = False
    flag: str = field(init=False)

    def __post_init__(self) -> None:
        self.flag = FLAGS.get(self.server.name, f"{self.server.name}_died")


class ServerWatch:
    def __init__(self, servers: list[Watched], emit: Callable[..., Any], on_change: Callable[[], None]) -> None:
        self.servers = servers
        self._emit = emit
        self._on_change = on_change  # e.g. rewrite the stack record: the restarted pid is new
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="local-serverwatch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=READY_TIMEOUT_S + MAX_BACKOFF_S + 5.0)

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            for watched in self.servers:
                if self._stop.is_set():
                    return
                if not watched.gave_up and watched.server.exited():
                    self._handle_death(watched)

    def _handle_death(self, watched: Watched) -> None:
        server = watched.server
        detected = time.time()
        code = server.proc.returncode if server.proc is not None else None
        if code is not None and code < 0:
            cause = f"killed by {signal.Signals(-code).name}"
        else:
            tail = log_tail(server.log, 600)
            cause = next((line.strip() for line in reversed(tail.splitlines()) if line.strip()), "no output")[:200]
        self._emit(
            "fault",
            server=server.name,
            flag=watched.flag,
            exit_code=code,
            message=f"{server.name} exited (code {code}): {cause}",
            log=str(server.log),
        )
        if watched.restarts >= MAX_RESTARTS:
            watched.gave_up = True
            self._emit("warning", message=f"{server.name} died {watched.restarts + 1} times; not restarting it again")
            return
        backoff = min(MAX_BACKOFF_S, RESTART_BACKOFF_S * 2**watched.restarts)
        if self._stop.wait(backoff):
            return
        watched.restarts += 1
        try:
            server.start()
        except OSError as exc:
            self._emit("warning", message=f"{server.name} could not be restarted: {exc}")
            return
        self._on_change()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not server.ready():
            if self._stop.is_set() or server.exited() or time.monotonic() > deadline:
                self._emit("warning", message=f"{server.name} restarted but did not become ready")
                return
            time.sleep(0.05)
        if watched.after_restart is not None:
            try:
                watched.after_restart()
            except Exception as exc:  # the fault is already recorded; the run goes on, flagged
                self._emit("warning", message=f"{server.name} restarted, but restoring its state failed: {exc}")
        self._emit(
            "server_restarted",
            server=server.name,
            restarts=watched.restarts,
            pid=server.pid,
            down_s=round(time.time() - detected, 3),
        )
