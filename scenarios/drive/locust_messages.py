"""What a Locust master and its workers tell each other, over Locust's own custom messages.

Workers need not share a folder with the master (in the cluster they are pods of their own), so
nothing a worker needs from the master, nor anything the master must keep from a worker, travels
through files:

* `hpabench_clock` (master → workers) `{"t0": unix s, "source": str}`: the load start, sent the
  moment the master fixes it (the scenario shape's first tick, before any spawn message, so a
  worker knows t0 before its first user starts; ZeroMQ keeps the order per worker) and again to any
  worker that connects later. The master (or a standalone process) still writes
  `data/locust_clock.json` for the driver, which shares the master's folder; a master adds
  `workers` (connected when the clock started).
* `hpabench_rows` (worker → master) `{"kind": client_stats|load|errors, "process": "worker-N",
  "rows": [...], "final": bool}`, only when `RuntimeConfig.ship_rows` is set (in-cluster runs): the
  worker's per-second rows, which the master appends to `data/<kind>.<process>.jsonl` — the same
  files a local worker writes itself, so `results.merge_client_stats` reads both alike. `final`
  marks a worker's last batch (its test_stop flush); the master's own test_stop waits, bounded by
  `FINAL_ROWS_WAIT_S`, until every worker that sent rows has sent its final batch.

API: `Environment.runner.send_message(type, data, client_id=None)` and
`runner.register_message(type, listener)`, `listener(environment, msg)` with `msg.data`.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from hpabench.scenarios.drive.locust_runtime import ProcessRuntime, write_clock
from hpabench.scenarios.drive.recording import JsonlWriter

CLOCK_MESSAGE = "hpabench_clock"
ROWS_MESSAGE = "hpabench_rows"
ROW_KINDS = ("client_stats", "load", "errors")
FINAL_ROWS_WAIT_S = 5.0
_WORKER_NAME = re.compile(r"^worker-[0-9]{1,4}$")

log = logging.getLogger("hpabench.messages")


def publish_t0(environment: Environment | None, runtime: ProcessRuntime, t0: float, source: str) -> None:
    """Fix t0 in this (master or standalone) process: runtime, clock file, and every worker."""
    runtime.set_t0(t0)
    runner = environment.runner if environment is not None else None
    if isinstance(runner, MasterRunner):
        # `workers`: how many were connected when the load clock started (the in-cluster driver checks it)
        write_clock(runtime.config.data_dir, t0=t0, source=source, workers=runner.worker_count)
        runner.send_message(CLOCK_MESSAGE, {"t0": t0, "source": source})
    else:
        write_clock(runtime.config.data_dir, t0=t0, source=source)


class RowShipper:
    """A worker's stand-in for `JsonlWriter`: `write(rows)` sends them to the master instead."""

    def __init__(self, runner: WorkerRunner, kind: str, process: str) -> None:
        self.runner, self.kind, self.process = runner, kind, process
        self._closed = False

    def write(self, rows: list[dict[str, Any]], final: bool = False) -> None:
        if self._closed or (not rows and not final):
            return
        self.runner.send_message(
            ROWS_MESSAGE, {"kind": self.kind, "process": self.process, "rows": rows, "final": final}
        )

    def close(self) -> None:
        self._closed = True


class RowSink:
    """The master's side of `hpabench_rows`: appends each worker's rows to its own jsonl files."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._writers: dict[tuple[str, str], JsonlWriter] = {}
        self.senders: set[str] = set()
        self.finished: set[str] = set()

    def receive(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        kind, process, rows = data.get("kind"), data.get("process"), data.get("rows")
        if kind not in ROW_KINDS or not isinstance(process, str) or not _WORKER_NAME.match(process):
            log.warning("ignored a malformed %s message (kind %r, process %r)", ROWS_MESSAGE, kind, process)
            return
        self.senders.add(process)
        if isinstance(rows, list) and rows:
            writer = self._writers.get((kind, process))
            if writer is None:
                writer = self._writers[(kind, process)] = JsonlWriter(self.data_dir / f"{kind}.{process}.jsonl")
            writer.write([row for row in rows if isinstance(row, dict)])
        if data.get("final") and kind == "load":
            self.finished.add(process)

    def wait_for_finals(self, timeout_s: float = FINAL_ROWS_WAIT_S) -> set[str]:
        """Wait (cooperatively) until every sender's final batch arrived; the ones still missing."""
        deadline = time.time() + timeout_s
        while self.senders - self.finished and time.time() < deadline:
            gevent.sleep(0.05)
        return self.senders - self.finished

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


def register(environment: Environment, runtime: ProcessRuntime) -> RowSink | None:
    """Hook the messages into this process's runner; the master's `RowSink` (None elsewhere)."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):

        def on_clock(msg: Any, **_: Any) -> None:
            t0 = (msg.data or {}).get("t0")
            if isinstance(t0, int | float) and runtime.t0 != t0:
                runtime.set_t0(float(t0))

        runner.register_message(CLOCK_MESSAGE, on_clock)
        return None
    if isinstance(runner, MasterRunner):
        sink = RowSink(runtime.config.data_dir)
        master = runner

        def on_rows(msg: Any, **_: Any) -> None:
            sink.receive(msg.data)

        def on_worker_connect(client_id: str, **_: Any) -> None:
            if runtime.t0 is not None:  # a late (or restarted) worker still learns the clock
                master.send_message(CLOCK_MESSAGE, {"t0": runtime.t0, "source": "late"}, client_id=client_id)

        runner.register_message(ROWS_MESSAGE, on_rows)
        hooks: Any = environment.events
        hooks.worker_connect.add_listener(on_worker_connect)
        return sink
    return None
