"""The load driver (parent side): Locust headless as subprocesses, supervised, merged at the end.

`run_load(config, progress)`:

1. refuses a target outside loopback (or `allowed_hosts`) with `SafetyError` unless
   `allow_external_target`; bad settings raise `SpecError`;
2. starts Locust: `workers=0` → one standalone process; `workers=N` → a master and N workers,
   all bound to 127.0.0.1. Each runs in its own session (process group) with cwd = `data_dir`
   (so no stray `locust.conf`) and `LOCUST_*` variables removed; output → `data/locust.<p>.log`;
   the standalone/master also keeps Locust's own reports in data/ (`--csv`, `--html`: the
   `LOCUST_*` names of hpabench.contract), written as it stops;
3. supervises: t0 comes from the clock file the scenario shape writes at its first tick; the run
   is bounded by startup (`STARTUP_TIMEOUT_S`) + planned duration + `GRACE_S`, then stopped;
   `load_stage` events at stage boundaries; a progress line each second;
4. stops everything (SIGINT to the master/standalone, SIGTERM to workers left, SIGKILL to any process
   group still alive after `STOP_TIMEOUT_S`), then merges the per-process jsonl into
   `client_stats.parquet` and `load.parquet` (results.py) and emits `generator_overloaded` /
   `generator_behind` events for the episodes found.

On KeyboardInterrupt (Ctrl-C, or SIGTERM turned into one by the pipeline) it stops Locust, merges
what was measured and **returns** `interrupted=True` (it does not re-raise). A second Ctrl-C
during the graceful stop escalates to SIGKILL; the merge still runs. Locust failing to start or
dying raises `LoadDriverError` (after cleanup and merge; the log's tail is in the message).

This module never imports Locust or gevent: monkey-patching stays in the Locust processes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpabench.errors import LoadDriverError, SpecError, SpecIssue
from hpabench.lifeline import die_with_parent
from hpabench.rundir import EventLog
from hpabench.scenarios.drive import own_shape
from hpabench.scenarios.drive.locust_runtime import (
    CLOCK_FILE,
    CONFIG_FILE,
    ENV_CONFIG,
    ENV_PROCESS,
    ENV_PROCESS_INDEX,
    RuntimeConfig,
    read_clock,
    report_args,
)
from hpabench.scenarios.drive.progress import LiveTail, format_progress, measured_instant_s
from hpabench.scenarios.drive.results import MergedResults, write_results
from hpabench.scenarios.drive.safety import check_target
from hpabench.scenarios.plan import Plan, compile_plan
from hpabench.scenarios.shapes import format_planned_table
from hpabench.scenarios.spec import Scenario
from hpabench.signals import fault_point
from hpabench.stack import process_identity

__all__ = [
    "DriverConfig",
    "DriverResult",
    "check_target",
    "format_planned_table",
    "run_load",
]

LOCUSTFILES_DIR = Path(__file__).resolve().parent / "locustfiles"
CATALOGUE_LOCUSTFILE = LOCUSTFILES_DIR / "hpabench_catalogue.py"
SHAPE_LOCUSTFILE = LOCUSTFILES_DIR / "hpabench_shape.py"
RECORDER_LOCUSTFILE = LOCUSTFILES_DIR / "hpabench_recorder.py"
STARTUP_TIMEOUT_S = 60.0
GRACE_S = 15.0
STOP_TIMEOUT_S = 10.0
POLL_S = 0.2
MAX_WORKERS = 64
LOCUST_STOP_TIMEOUT_S = 2  # users finish their in-flight request when stopped (counted, not lost)


@dataclass(frozen=True)
class DriverConfig:
    """One load phase. `host` is the base URL of the system under test (http://127.0.0.1:PORT).

    `time_scale` < 1 compresses the scenario's time; `workers` > 0 runs Locust distributed;
    `locustfile` replaces hpabench's users with the user's own (their LoadTestShape, if any, wins
    over the scenario's); `allowed_hosts` are non-loopback hosts of the deployed system.
    """

    scenario: Scenario
    host: str
    data_dir: Path
    time_scale: float = 1.0
    workers: int = 0
    locustfile: Path | None = None
    allow_external_target: bool = False
    status_hint: Callable[[], dict[str, Any]] | None = None
    events: EventLog | None = None
    allowed_hosts: frozenset[str] = frozenset()
    # The run's hpabench.stack.StackRecord: Locust's pids go into its `locust` group while they run.
    stack: Any = None
    # A user's own LoadTestShape (own_shape.ShapePlan): the plan, bounded by max_duration_s.
    shape_plan: Any = None
    max_duration_s: float | None = None
    keepalive: bool = True  # client HTTP keep-alive; False opens a connection per request
    # The scenario compiled for this run (the pipeline compiles it once); compiled here if None.
    plan: Plan | None = None


@dataclass(frozen=True)
class DriverResult:
    """When load really started/ended (unix s, the driver's clock file), and what happened."""

    started_at: float
    ended_at: float
    interrupted: bool
    flags: list[str]
    planned_duration_s: float = 0.0
    requests: int = 0
    failures: int = 0
    processes: tuple[str, ...] = ()
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    client_stats_path: Path | None = None
    load_path: Path | None = None


def _validate(config: DriverConfig) -> None:
    issues = []
    if not config.time_scale > 0:
        issues.append(SpecIssue("driver", "time_scale", "must be > 0"))
    if not 0 <= config.workers <= MAX_WORKERS:
        issues.append(SpecIssue("driver", "workers", f"must be within 0..{MAX_WORKERS}"))
    if config.locustfile is not None and not config.locustfile.is_file():
        issues.append(SpecIssue(str(config.locustfile), "", "locustfile not found"))
    if issues:
        raise SpecError(issues)
    if importlib.util.find_spec("locust") is None:
        raise LoadDriverError("Locust is not installed in this Python environment (pip install -e .)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _popen(command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(command, **kwargs)
    except OSError as exc:
        raise LoadDriverError(f"cannot start Locust ({command[0]}): {exc}") from exc


@dataclass
class _Proc:
    name: str
    role: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class _Session:
    """The Locust processes of one `run_load` call (see the module docstring)."""

    def __init__(self, config: DriverConfig) -> None:
        self.config = config
        self.scenario = config.scenario
        self.data_dir = config.data_dir
        self.load_plan = config.plan or compile_plan(config.scenario, config.time_scale)
        self.plan = config.shape_plan
        if self.plan is not None:
            self.planned_s = self.plan.duration_s
            self.spans = own_shape.spans(self.plan)
        else:
            self.planned_s = self.load_plan.duration_s
            self.spans = self.load_plan.stage_spans()
        self.procs: list[_Proc] = []
        self.launched_at = time.time()
        self.t0: float | None = None
        self.stopped_at: float | None = None
        self.flags: set[str] = set()
        self.failure: str | None = None
        self.interrupted_in_stop = False
        self._next_span = 0
        self._tail = LiveTail(config.data_dir)
        self._status_error_shown = False

    # -- starting ---------------------------------------------------------------------------
    def _locustfiles(self) -> list[Path]:
        if self.config.locustfile is None:
            return [CATALOGUE_LOCUSTFILE]
        return [self.config.locustfile.resolve(), SHAPE_LOCUSTFILE, RECORDER_LOCUSTFILE]

    def _spawn(self, name: str, role: str, index: int, extra: list[str]) -> None:
        config_path = self.data_dir / CONFIG_FILE
        env = {key: value for key, value in os.environ.items() if not key.startswith("LOCUST_")}
        env.update({ENV_CONFIG: str(config_path), ENV_PROCESS: name, ENV_PROCESS_INDEX: str(index)})
        env["PYTHONUNBUFFERED"] = "1"
        files = ",".join(str(path) for path in self._locustfiles())
        command = [sys.executable, "-m", "locust", "-f", files, "--headless", *extra]
        log_path = self.data_dir / f"locust.{name}.log"
        with log_path.open("ab") as log:
            popen = _popen(
                command,
                cwd=self.data_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: Ctrl-C reaches the driver, which stops it
                # The kernel kills Locust if we die (even by SIGKILL): no load without a runner.
                # Only from the main thread: the signal follows the forking *thread's* death.
                preexec_fn=die_with_parent if threading.current_thread() is threading.main_thread() else None,
            )
        self.procs.append(_Proc(name, role, popen, log_path))
        self._record()

    def _record(self) -> None:
        """Locust's processes in the run's stack record (what `hpabench down` kills first)."""
        if self.config.stack is None:
            return
        live = [p for p in self.procs if p.alive()]
        if live:
            self.config.stack.set_group(
                "locust", processes=[[*process_identity(p.popen.pid), f"locust {p.name}"] for p in live]
            )
        else:
            self.config.stack.clear_group("locust")

    def start(self) -> None:
        data_dir = self.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        if (data_dir / CLOCK_FILE).exists() or any(data_dir.glob("client_stats.*.jsonl")):
            raise LoadDriverError(f"{data_dir} already holds load data from another run; use a fresh directory")
        generators = self.config.workers or 1
        RuntimeConfig(
            self.scenario,
            self.config.time_scale,
            data_dir,
            generators,
            self.config.locustfile is not None,
            keepalive=self.config.keepalive,
            plan=self.load_plan,
        ).write(data_dir / CONFIG_FILE)
        common = [
            "--host",
            self.config.host,
            "--only-summary",
            "--exit-code-on-error",
            "0",
            "--stop-timeout",
            str(LOCUST_STOP_TIMEOUT_S),
            "--loglevel",
            "INFO",
        ]
        # Locust's own reports, written as the lead process stops (the SIGINT of `stop`).
        reports = report_args(data_dir)
        self.launched_at = time.time()
        if self.config.workers == 0:
            self._spawn("main", "standalone", 0, [*common, *reports])
            return
        port = _free_port()
        master_args = [
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            str(self.config.workers),
            "--expect-workers-max-wait",
            str(int(STARTUP_TIMEOUT_S)),
        ]
        self._spawn("master", "master", 0, [*common, *master_args, *reports])
        for index in range(self.config.workers):
            worker_args = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
            self._spawn(f"worker-{index + 1}", "worker", index, [*common, *worker_args])

    # -- supervising ------------------------------------------------------------------------
    @property
    def _lead(self) -> _Proc:
        return self.procs[0]  # the standalone process or the master

    def _emit(self, kind: str, **fields: Any) -> None:
        if self.config.events is not None:
            self.config.events.emit(kind, **fields)

    def _emit_stage_events(self, now: float) -> None:
        assert self.t0 is not None
        while self._next_span < len(self.spans) and self.t0 + self.spans[self._next_span].start_s <= now:
            span = self.spans[self._next_span]
            level: dict[str, float] = {"users": round(span.level)} if span.unit == "users" else {"rps": span.level}
            self._emit("load_stage", ts=self.t0 + span.start_s, name=span.name, **level)
            self._next_span += 1

    def _status(self) -> dict[str, Any] | None:
        if self.config.status_hint is None:
            return None
        try:
            return self.config.status_hint()
        except Exception as exc:  # a status display must never stop the load; shown once
            if not self._status_error_shown:
                self._status_error_shown = True
                self._emit("warning", message=f"progress status hint failed: {exc}")
            return None

    def _progress_line(self, now: float) -> str:
        self._tail.poll()
        latest = self._tail.latest()
        elapsed = now - self.t0 if self.t0 is not None else 0.0
        # Stage, plan and clock describe the second the numbers come from, not "now": the newest
        # complete second lags the wall clock, and a stage named ahead of its load misleads.
        at_s = measured_instant_s(elapsed, latest.ts if latest is not None else None)
        if self.plan is not None:
            at = own_shape.stage_at(self.plan, at_s) if self.t0 is not None else None
            stage = at[0] if at is not None else ("starting" if self.t0 is None else "stopping")
            planned_rps = None
        else:
            target = self.load_plan.target_at(at_s) if self.t0 is not None else None
            stage = target.stage if target is not None else ("starting" if self.t0 is None else "stopping")
            planned_rps = target.rps if target is not None else None
        line = format_progress(stage, at_s, self.planned_s, latest, planned_rps, self._status())
        return str(line)

    def supervise(self, progress: Callable[[str], None] | None) -> None:
        """Wait for the plan to finish (or a bound to pass), with events and progress."""
        next_progress = time.time()
        while True:
            now = time.time()
            if self.t0 is None:
                t0 = read_clock(self.data_dir).get("t0")
                if t0:
                    self.t0 = float(t0)
                    fault_point("load.running")
                elif now - self.launched_at > STARTUP_TIMEOUT_S:
                    self.failure = f"Locust did not start the load within {STARTUP_TIMEOUT_S:.0f} s"
                    return
            if not self._lead.alive():
                code = self._lead.popen.returncode
                if self.t0 is None or code != 0:
                    self.failure = f"Locust {self._lead.name} exited with code {code}"
                return
            for proc in self.procs[1:]:
                if not proc.alive() and proc.popen.returncode != 0 and "generator_failed" not in self.flags:
                    self.flags.add("generator_failed")
                    self._emit("warning", message=f"Locust {proc.name} exited with code {proc.popen.returncode}")
            if self.t0 is not None:
                self._emit_stage_events(now)
                if self.plan is not None and self.config.max_duration_s is not None:
                    if now > self.t0 + self.config.max_duration_s:
                        self.flags.add("max_duration_reached")
                        self._emit("warning", message="the locustfile's shape ran past --max-duration; stopping it")
                        return
                elif now > self.t0 + self.planned_s + GRACE_S:
                    self.flags.add("driver_timeout")
                    self._emit("warning", message="Locust overran the planned duration; stopping it")
                    return
            if progress is not None and now >= next_progress:
                progress(self._progress_line(now))
                next_progress = max(next_progress + 1.0, now + 0.5)
            time.sleep(POLL_S)

    # -- stopping ---------------------------------------------------------------------------
    def _wait(self, procs: list[_Proc], timeout_s: float) -> None:
        deadline = time.time() + timeout_s
        while any(p.alive() for p in procs) and time.time() < deadline:
            time.sleep(0.05)

    def _signal(self, procs: list[_Proc], signum: int) -> None:
        for proc in procs:
            if proc.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signum)

    def _kill_all(self) -> None:
        self._signal(self.procs, signal.SIGKILL)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=5.0)

    def stop(self, already_interrupted: bool = False) -> None:
        """Stop every Locust process; graceful first, SIGKILL after STOP_TIMEOUT_S (see module doc).
        A Ctrl-C during the stop escalates to SIGKILL and sets `interrupted_in_stop`."""
        if self.stopped_at is None:
            self.stopped_at = time.time()
        if self.t0 is not None:  # stages begun since the last poll still get their event
            self._emit_stage_events(min(self.stopped_at, self.t0 + self.planned_s - 1e-6))
        try:
            fault_point("load.stopping")
            if self.procs and self._lead.alive():
                # SIGINT, not SIGTERM: a headless shape run only installs its SIGTERM handler after
                # the shape finishes; SIGINT ends the shape, quits workers, flushes, and exits 0.
                self._signal([self._lead], signal.SIGINT)
                self._wait([self._lead], STOP_TIMEOUT_S)
            workers = self.procs[1:]
            self._wait(workers, STOP_TIMEOUT_S / 2)  # the master's quit message stops them
            self._signal(workers, signal.SIGTERM)
            self._wait(workers, STOP_TIMEOUT_S / 2)
        except KeyboardInterrupt:
            # A Ctrl-C while stopping is still an interrupt, even if the plan had just ended.
            if already_interrupted:
                self.flags.add("interrupted_twice")
            self.interrupted_in_stop = True
        finally:
            self._kill_all()
            self._record()

    # -- results ----------------------------------------------------------------------------
    def merge(self) -> MergedResults:
        results = write_results(self.data_dir, self.load_plan, self.scenario.arrivals.behind_window_s)
        for episode in results.episodes:
            self._emit(episode.kind, ts=episode.start_ts, until_ts=episode.end_ts, **episode.details)
        return results

    def exit_codes(self) -> dict[str, int | None]:
        return {proc.name: proc.popen.returncode for proc in self.procs}


def run_load(config: DriverConfig, progress: Callable[[str], None] | None = None) -> DriverResult:
    """Drive one load phase; see the module docstring for the whole contract."""
    _validate(config)
    check_target(config.host, config.allowed_hosts, config.allow_external_target)
    session = _Session(config)
    interrupted = False
    try:
        session.start()
        session.supervise(progress)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        session.stop(already_interrupted=interrupted)
    interrupted = interrupted or session.interrupted_in_stop
    results = session.merge()
    clock = read_clock(config.data_dir)
    started_at = float(session.t0 or clock.get("t0") or session.launched_at)
    ended_at = float(clock.get("t_end") or session.stopped_at or time.time())
    if session.failure is not None and not interrupted:
        tail = session._lead.log_tail() if session.procs else ""
        raise LoadDriverError(f"{session.failure}; log {session._lead.log_path if session.procs else '-'}:\n{tail}")
    all_rows = results.client_stats[results.client_stats["route"] == "ALL"]
    return DriverResult(
        started_at=started_at,
        ended_at=max(ended_at, started_at),
        interrupted=interrupted,
        flags=sorted(session.flags | set(results.flags)),
        planned_duration_s=session.planned_s,
        requests=int(all_rows["requests"].sum()),
        failures=int(all_rows["failures"].sum()),
        processes=tuple(proc.name for proc in session.procs),
        exit_codes=session.exit_codes(),
        client_stats_path=config.data_dir / "client_stats.parquet",
        load_path=config.data_dir / "load.parquet",
    )
