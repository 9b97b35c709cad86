"""The run pipeline: render → deploy → warm up → drive → collect → tear down → analyze → report.

Each stage writes its artefact into the run directory before the next starts (DESIGN.md), so a
run that stops anywhere keeps what it had and `hpabench report <run>` can finish it offline.

Contract of `run_benchmark`: invalid input (scenario, variant, HPA) raises `SpecError` before
anything is started or any run directory is created. Once the run directory exists, the function
always tears the target down, records an honest status (`completed`, `interrupted`, `failed`) in
manifest.json, tries to analyze and report what was measured, and returns a `RunOutcome`.

This module is the run's lifecycle (run directory, manifest, lifeline, signals, status); the
stages live beside it, one concept each: `run_inputs` (options and validation, before anything
starts), `stage_deploy` (render, deploy, warm up), `stage_load` (the driver, scenario events, HPA
phase), `stage_collect` (Prometheus → parquet) and `run_finish` (teardown, exit code, report).
The names other modules import from here are re-exported (`__all__`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from hpabench import hostinfo, run_finish, stage_collect, stage_deploy
from hpabench.console import Console
from hpabench.contract import MANIFEST_SCHEMA_VERSION
from hpabench.errors import HpabenchError
from hpabench.lifeline import Lifeline
from hpabench.run_finish import Reporter, finish_report
from hpabench.run_inputs import (
    DEFAULT_REPORTS_DIR,
    MAX_DURATION_S,
    MAX_TIME_SCALE,
    MAX_WORKERS,
    MIN_TIME_SCALE,
    Resolved,
    RunOptions,
    dry_run,
    rate_window_variables,
    resolve_inputs,
    resolve_slo,
    shape_plan,
)
from hpabench.rundir import (
    STATUS_COMPLETED,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_RUNNING,
    RunDir,
)
from hpabench.signals import deferred_signals, fault_point
from hpabench.stage_collect import Collector
from hpabench.stage_deploy import warmup_paths, write_planned
from hpabench.stage_load import LoadDriver, LoadStage, client_keepalive
from hpabench.target import Deployed, TargetFactory
from hpabench.teardown import FLAG_REPORT_INTERRUPTED, FLAG_TEARDOWN_INCOMPLETE, fault_flags

__all__ = [
    "DEFAULT_REPORTS_DIR",
    "MAX_DURATION_S",
    "MAX_TIME_SCALE",
    "MAX_WORKERS",
    "MIN_TIME_SCALE",
    "LoadDriver",
    "Pipeline",
    "RunOptions",
    "RunOutcome",
    "client_keepalive",
    "dry_run",
    "finish_report",
    "rate_window_variables",
    "resolve_inputs",
    "resolve_slo",
    "run_benchmark",
    "warmup_paths",
    "write_planned",
]


@dataclass(frozen=True)
class RunOutcome:
    run_path: Path
    status: str
    exit_code: int
    flags: tuple[str, ...] = ()
    error: str | None = None


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (CI cancelling a job, `kill`) like Ctrl-C so teardown always runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signal handling to the caller
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _one_line(error: str) -> str:
    """The first line of an error message: what failed and where its log is (details follow it)."""
    return error.strip().splitlines()[0] if error.strip() else "unknown error"


class Pipeline:
    """One benchmark run on a target. Use `run_benchmark(options)`.

    `target_factory`, `driver`, `reporter` and `collector` are the seams: by default the target
    registered under `options.target`, the Locust driver, `finish_report` and the Prometheus
    collection of `hpabench.analysis.collect`; tests pass fakes to exercise the orchestration.
    """

    def __init__(
        self,
        options: RunOptions,
        console: Console,
        target_factory: TargetFactory | None = None,
        driver: LoadDriver | None = None,
        reporter: Reporter | None = None,
        collector: Collector | None = None,
    ) -> None:
        self.options = options
        self.console = console
        self.target_factory = target_factory
        self.driver = driver
        self.reporter = reporter or finish_report
        self.collector = collector
        self.deployed: Deployed | None = None
        self.run: RunDir | None = None
        self.load_window: tuple[float, float] | None = None
        self.flags: list[str] = []
        self.plan: Any = None  # a --locustfile's own LoadTestShape, tabulated (own_shape.ShapePlan)
        self.teardown_signals: list[str] = []  # SIGINT/SIGTERM that arrived while tearing down

    # -- stages (each in its own module; the pipeline keeps what later stages need) -----------
    def _stage(self, name: str, state: str, **extra: Any) -> None:
        """A stage boundary: the event, the console line, the fault point tests interrupt at."""
        assert self.run is not None
        self.run.events.emit("stage", stage=name, state=state, **extra)
        if state == "started":
            self.console.stage(name)
        fault_point(f"{name}.{state}")

    def _hold(self, deployed: Deployed) -> None:
        """Keep the deployment the moment it exists: teardown must stop it whatever follows."""
        self.deployed = deployed

    def _drive(self, resolved: Resolved, deployed: Deployed) -> Any:
        assert self.run is not None
        load = LoadStage(self.run, self.options, self.console, self._stage, self.driver)
        try:
            return load.drive(resolved, deployed, self.plan)
        finally:
            # Also after an interrupt: collection and the manifest need the window that ran.
            self.load_window = load.window
            self.flags += load.flags

    def _collect(self, how: Callable[..., None]) -> None:
        assert self.run is not None
        how(self.run, self.deployed, self.load_window, self.options, self.console, self._stage, self.collector)

    def _teardown(self) -> None:
        assert self.run is not None
        deployed, self.deployed = self.deployed, None
        outcome = run_finish.teardown(self.run, deployed, self.console)
        self.flags += outcome.flags
        self.teardown_signals += outcome.deferred_signals

    # -- the whole run ------------------------------------------------------------------------
    def execute(self) -> RunOutcome:
        resolved = resolve_inputs(self.options, self.target_factory)
        self.plan = plan = shape_plan(self.options)
        scenario_name = plan.shape if plan is not None else resolved.scenario.name
        # From the run directory to the reaper being up, a signal must not leave a `running` orphan.
        opening = contextlib.ExitStack()
        deferred = opening.enter_context(deferred_signals())
        label = self.options.label or f"{scenario_name}-{resolved.variant.name}"
        slo = resolve_slo(resolved.scenario, resolved.variant)
        self.run = run = RunDir.create(self.options.reports_dir, label)
        self.console.info(f"run directory: {run.path}")
        run.update_manifest(
            schema_version=MANIFEST_SCHEMA_VERSION,
            run_id=run.run_id,
            status=STATUS_RUNNING,
            scenario=self._scenario_entry(resolved.scenario),
            load_plan=plan.to_json() if plan is not None else None,
            variant=resolved.variant.model_dump(mode="json"),
            target=self.options.target,
            time_scale=self.options.time_scale,
            workers=self.options.workers,
            locustfile=str(self.options.locustfile) if self.options.locustfile else None,
            hpa_settings=resolved.hpa_settings.model_dump(mode="json"),
            autoscale=self.options.autoscale,
            scrape_interval_s=self.options.scrape_interval_s,
            slo=slo.as_manifest(),
            slo_sources=slo.sources,
            versions=hostinfo.software_versions(),
            git_sha=hostinfo.git_sha(),
            host=hostinfo.host_facts(),
            created_at=time.time(),
            flags=[],
        )
        status, error = STATUS_FAILED, None
        lifeline = self._start_lifeline(run)
        opening.close()
        try:
            with _sigterm_as_interrupt():
                try:
                    if deferred.interrupted:
                        raise KeyboardInterrupt(f"{', '.join(deferred.names())} while the run was created")
                    stage_deploy.render(run, resolved, self.plan, self._stage)
                    deployed = stage_deploy.deploy(run, resolved, self.console, self._stage, self._hold)
                    stage_deploy.warm_up_stage(deployed, resolved.objects, self.console, self._stage)
                    self._drive(resolved, deployed)
                    self._collect(stage_collect.collect)
                    status = STATUS_COMPLETED
                except KeyboardInterrupt:
                    status = STATUS_INTERRUPTED
                    self.console.warn("interrupted: collecting what was measured and tearing down")
                    self._collect(stage_collect.collect_best_effort)
                except HpabenchError as exc:
                    error = str(exc)
                    run.events.emit("run_failed", error=error)
                    self.console.warn(f"run failed: {_one_line(error)}")
                    self.console.warn(f"(the full message is in {run.path / 'manifest.json'})")
                    self._collect(stage_collect.collect_best_effort)
                finally:
                    self._teardown()
        except KeyboardInterrupt:
            # A second Ctrl-C during collection: teardown has run (signal-proof) in the finally above.
            status = STATUS_INTERRUPTED
        finally:
            with deferred_signals() as closing:
                if self.teardown_signals and status == STATUS_COMPLETED:
                    status = STATUS_INTERRUPTED
                self.flags += fault_flags(run.path)
                run.update_manifest(status=status, error=error, finished_at=time.time(), flags=sorted(set(self.flags)))
                if FLAG_TEARDOWN_INCOMPLETE not in self.flags:
                    run.stack.release()
                if lifeline is not None:
                    lifeline.release()
            if closing.interrupted and status == STATUS_COMPLETED:
                status = STATUS_INTERRUPTED
                run.update_manifest(status=status)
        reported = run_finish.analyze_and_report(run, self.reporter, self.console)
        if reported is None:
            status = STATUS_INTERRUPTED
            self.flags.append(FLAG_REPORT_INTERRUPTED)
        run_finish.warn_harness_faults(self.flags, self.console)
        run.close()
        code = run_finish.exit_code(status, reported, self.flags)
        return RunOutcome(run.path, status, code, tuple(sorted(set(self.flags))), error)

    def _scenario_entry(self, scenario: Any) -> dict[str, Any]:
        entry: dict[str, Any] = scenario.model_dump(mode="json")
        if self.plan is not None:
            from hpabench.scenarios.drive.own_shape import scenario_entry

            entry = scenario_entry(self.plan, entry)
        return entry

    def _start_lifeline(self, run: RunDir) -> Lifeline | None:
        """Record ourselves as the runner and start the reaper that cleans up if we die (lifeline.py)."""
        run.stack.set_owner("runner", os.getpid())
        try:
            return Lifeline.start(run.path, run.stack)
        except OSError as exc:
            run.events.emit("warning", message=f"lifeline reaper not started: {exc}")
            self.console.warn(f"lifeline reaper not started ({exc}); after a crash: hpabench down --run {run.path}")
            return None


def run_benchmark(
    options: RunOptions,
    console: Console | None = None,
    *,
    target_factory: TargetFactory | None = None,
    driver: LoadDriver | None = None,
    reporter: Reporter | None = None,
    collector: Collector | None = None,
) -> RunOutcome:
    """Run one benchmark end to end (see module docstring)."""
    # SIGTERM is an interrupt for the whole run, analysis and report included, not only its stages.
    with _sigterm_as_interrupt():
        return Pipeline(options, console or Console(), target_factory, driver, reporter, collector).execute()
