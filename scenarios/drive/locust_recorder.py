"""The recorder, inside a Locust process: per-second client stats and generator health to jsonl.

Loaded into every Locust process of a run (via `locustfiles/hpabench_recorder.py` or the
catalogue locustfile). `install()` hooks Locust's events once per process:

* `request` → `SecondRecorder.record` (completion second, route = Locust's request `name`);
* `test_start` → start writing; the master/standalone process makes sure t0 is fixed (the
  scenario shape publishes it at its first tick; a user's own shape or none: now), a worker takes
  t0 from the master's `hpabench_clock` message (`locust_messages`), never from a file;
* with `RuntimeConfig.ship_rows` (in-cluster), a worker names itself `worker-<Locust's worker
  index + 1>` and sends its rows to the master, which writes them into its own data folder;
* a greenlet samples the user count in the middle of every run second k ([t0 + k, t0 + k + 1)),
  wakes just after the second ends and appends the finished seconds to
  `data/client_stats.<process>.jsonl` and `data/load.<process>.jsonl` (flushed each time);
* `test_stop` / `quitting` → final flush (including the last partial second), `t_end` in the clock.

`load.<process>.jsonl` rows: `ts` (t0 + k), `t_s` (k, the run second), `process`, `role`
(standalone|master|worker), `users`, `completed`, `sent`, `intended`, `dropped` (null where not
measured: `sent` only for hpabench users, `intended` / `dropped` only in the open model) and
`cpu` — this process's CPU time over the last second as a fraction of one core (user + system,
all threads).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from hpabench.scenarios.drive import locust_messages
from hpabench.scenarios.drive.locust_runtime import ProcessRuntime, get_runtime, write_clock
from hpabench.scenarios.drive.recording import JsonlWriter, SecondRecorder

log = logging.getLogger("hpabench.recorder")

FLUSH_OFFSET_S = 0.02  # flush just after the second boundary, when that second is complete
CLOCK_WAIT_S = 5.0


class Recorder:
    """One per Locust process; see the module docstring."""

    def __init__(self, environment: Environment, runtime: ProcessRuntime) -> None:
        self.environment = environment
        self.runtime = runtime
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            self.role = "master"
        elif isinstance(runner, WorkerRunner):
            self.role = "worker"
        else:
            self.role = "standalone"
        self.shipping = self.role == "worker" and runtime.config.ship_rows
        self.sink = locust_messages.register(environment, runtime)
        self.seconds = SecondRecorder(runtime.process_name)
        self.client_out: Any = None
        self.load_out: Any = None
        self.errors_out: Any = None
        if not self.shipping:  # a shipping worker learns its name (index) from the master's ack
            self._open_outputs()
        self._errors: Counter[tuple[str, str, int | None, str]] = Counter()
        self._cpu_mark = (time.time(), time.process_time())
        self._flusher: Any = None
        self._users_at: dict[int, int] = {}
        self._stopped = False

    def _open_outputs(self) -> None:
        name = self.runtime.process_name
        if self.shipping:
            runner: Any = self.environment.runner
            self.client_out, self.load_out, self.errors_out = (
                locust_messages.RowShipper(runner, kind, name) for kind in locust_messages.ROW_KINDS
            )
            return
        data_dir = self.runtime.config.data_dir
        self.client_out = JsonlWriter(data_dir / f"client_stats.{name}.jsonl", lazy=self.role == "master")
        self.load_out = JsonlWriter(data_dir / f"load.{name}.jsonl")
        # Failed requests by (method, route, status, error): what Locust's error table shows.
        self.errors_out = JsonlWriter(data_dir / f"errors.{name}.jsonl", lazy=True)

    # -- Locust event handlers ----------------------------------------------------------------
    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        exception: Any = None,
        response: Any = None,
        **_: Any,
    ) -> None:
        status = getattr(response, "status_code", None) if exception is not None else None
        self.seconds.record(time.time(), name, response_time or 0.0, exception is not None, status)
        if exception is not None:
            self._errors[
                (request_type, name, status if isinstance(status, int) and status else None, _error_text(exception))
            ] += 1

    def on_test_start(self, **_: Any) -> None:
        now = time.time()
        if self.shipping and self.client_out is None:
            index = int(getattr(self.environment.runner, "worker_index", 0))
            self.runtime.process_name, self.runtime.process_index = f"worker-{index + 1}", index
            self.seconds.process = self.runtime.process_name
            self._open_outputs()
        if self.role == "worker":
            t0 = self._wait_for_clock()
        elif self.runtime.t0 is None:
            locust_messages.publish_t0(self.environment, self.runtime, now, "test_start")
            t0 = now
        else:
            t0 = self.runtime.t0
        if self.runtime.t0 is None:
            self.runtime.set_t0(float(t0))
        self.seconds.start(now, float(self.runtime.t0 or t0))
        self._cpu_mark = (now, time.process_time())
        self._stopped = False
        if self._flusher is None:
            self._flusher = gevent.spawn(self._flush_loop)

    def on_test_stop(self, **_: Any) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.flush(time.time(), final=True)
        if self.shipping and self.load_out is not None:
            self.load_out.write([], final=True)
        if self.sink is not None:
            missing = self.sink.wait_for_finals()
            if missing:
                log.warning("no final rows from %s", ", ".join(sorted(missing)))
        if self.role != "worker":
            write_clock(self.runtime.config.data_dir, t_end=time.time())

    def on_quitting(self, **_: Any) -> None:
        self.on_test_stop()
        if self._flusher is not None:
            self._flusher.kill(block=False)
            self._flusher = None
        for out in (self.client_out, self.load_out, self.errors_out, self.sink):
            if out is not None:
                out.close()

    # -- writing ------------------------------------------------------------------------------
    def _wait_for_clock(self) -> float:
        """A worker's t0: the master's clock message precedes its spawn message; wait briefly if racing."""
        deadline = time.time() + CLOCK_WAIT_S
        while time.time() < deadline:
            if self.runtime.t0 is not None:
                return float(self.runtime.t0)
            gevent.sleep(0.05)
        log.warning(
            "no %s message after %.0f s; using this worker's start time", locust_messages.CLOCK_MESSAGE, CLOCK_WAIT_S
        )
        return time.time()

    def _user_count(self) -> int:
        runner = self.environment.runner
        return int(runner.user_count) if runner is not None else 0

    def _flush_loop(self) -> None:
        """Twice per run second: sample the user count mid-second, flush just after its end."""
        t0 = self.seconds.t0
        while not self._stopped:
            now = time.time()
            second = math.floor(now - t0)
            middle = t0 + second + 0.5
            if now < middle:
                gevent.sleep(middle - now)
                # mid-second, so a spawn at the next stage boundary is not attributed to this one
                self._users_at[second] = self._user_count()
            now = time.time()
            gevent.sleep(max(0.0, t0 + second + 1.0 + FLUSH_OFFSET_S - now))
            if not self._stopped:
                self.flush(time.time())

    def flush(self, now: float, final: bool = False) -> None:
        """Append every finished second (with `final`, the current partial one too)."""
        if self.seconds.next_second is None:
            return
        before = self.seconds.second_of(now) + (1 if final else 0)
        client_rows, completed = self.seconds.rows_before(before)
        counts = self.runtime.take_counts(now, before)
        wall, cpu_time = time.time(), time.process_time()
        elapsed = wall - self._cpu_mark[0]
        cpu = (cpu_time - self._cpu_mark[1]) / elapsed if elapsed > 0 else 0.0
        self._cpu_mark = (wall, cpu_time)
        users_now = self._user_count()
        open_model = self.runtime.has_arrivals
        own_users = not self.runtime.config.own_locustfile
        load_rows = []
        for second in sorted(set(completed) | set(counts)):
            row = counts.get(second, {})
            load_rows.append(
                {
                    "ts": self.seconds.t0 + second,
                    "t_s": second,
                    "process": self.runtime.process_name,
                    "role": self.role,
                    "users": self._users_at.pop(second, users_now),
                    "completed": completed.get(second, 0),
                    "sent": row.get("sent", 0) if own_users and self.role != "master" else None,
                    "intended": row.get("intended", 0) if open_model else None,
                    "dropped": row.get("dropped", 0) if open_model else None,
                    "cpu": round(cpu, 4),
                }
            )
        if self.role != "master":  # the master sends no requests: its rows would all be zero
            self.client_out.write(client_rows)
        self.load_out.write(load_rows)
        if self._errors:
            errors, self._errors = self._errors, Counter()
            self.errors_out.write(
                [
                    {"ts": now, "process": self.runtime.process_name, "method": method, "route": route,
                     "status": status, "error": error, "count": count}
                    for (method, route, status, error), count in errors.items()
                ]
            )  # fmt: skip


def _error_text(exception: Any) -> str:
    """A short, low-cardinality error text: the URL (host, query) Locust puts in it is cut off."""
    text = str(exception) or type(exception).__name__
    return text.split(" for url:")[0].strip()[:160]


_RECORDER: Recorder | None = None
_INSTALLED = False


def install() -> None:
    """Hook the recorder into this Locust process (idempotent; called by the locustfiles)."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True

    def _on_init(environment: Environment, **_: Any) -> None:
        global _RECORDER
        _RECORDER = recorder = Recorder(environment, get_runtime())
        hooks: Any = environment.events  # Locust's EventHook methods are unannotated
        hooks.request.add_listener(recorder.on_request)
        hooks.test_start.add_listener(recorder.on_test_start)
        hooks.test_stop.add_listener(recorder.on_test_stop)
        hooks.quitting.add_listener(recorder.on_quitting)

    init_hook: Any = events.init
    init_hook.add_listener(_on_init)
