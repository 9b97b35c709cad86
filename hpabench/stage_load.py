"""The load stage: the driver drives the plan at the deployment, with the scenario's events and
the HPA's sync phase alongside, on the driver's clock.

`LoadStage(run, options, console, stage, driver).drive(resolved, deployed, shape_plan)` runs it.
The driver is a seam (`LoadDriver`): the pipeline's own, else the target's (the k8s target's
in-cluster Locust), else the local Locust driver (`hpabench.scenarios.drive.driver.run_load`).
`window` (load start, end; unix s) and `flags` are kept even when the load is interrupted, so
collection and the manifest still see what ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from hpabench.console import Console
from hpabench.events import EventRunner, load_clock_t0
from hpabench.run_inputs import Resolved, RunOptions
from hpabench.rundir import RunDir
from hpabench.stage_deploy import StageMark
from hpabench.sync_phase import PhaseAligner
from hpabench.target import Deployed

EVENT_JOIN_S = 600.0  # longest wait, after the load, for a scenario event still running
EVENT_JOIN_INTERRUPTED_S = 5.0


class LoadDriver(Protocol):
    """Drives one load phase against a deployed system (`hpabench.scenarios.drive.driver.run_load`)."""

    def __call__(self, config: Any, progress: Callable[[str], None] | None = None) -> Any: ...


def client_keepalive(objects: list[dict[str, Any]]) -> bool:
    """False when the web Service says `hpabench.io/client-keepalive: "false"` (a variant knob)."""
    from hpabench.deploy.render_tuning import KEEPALIVE_ANNOTATION

    for obj in objects:
        if obj.get("kind") == "Service" and (obj.get("metadata") or {}).get("name") == "web":
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            return str(annotations.get(KEEPALIVE_ANNOTATION, "true")).lower() != "false"
    return True


class LoadStage:
    """One load phase of a run (see the module docstring)."""

    def __init__(
        self, run: RunDir, options: RunOptions, console: Console, stage: StageMark, driver: LoadDriver | None
    ) -> None:
        self.run = run
        self.options = options
        self.console = console
        self.stage = stage
        self.driver = driver
        self.window: tuple[float, float] | None = None
        self.flags: list[str] = []

    def drive(self, resolved: Resolved, deployed: Deployed, shape_plan: Any) -> Any:
        """Run the load; returns the driver's result. KeyboardInterrupt when it was interrupted."""
        from hpabench.scenarios.drive.driver import DriverConfig, run_load

        run = self.run
        self.stage("load", "started")

        def status_hint() -> dict[str, Any]:
            view = deployed.replicas("web")
            return {"ready_replicas": view.ready_replicas, "replicas": view.spec_replicas}

        config = DriverConfig(
            scenario=resolved.scenario,
            plan=resolved.plan,
            host=deployed.service_url,
            data_dir=run.data,
            time_scale=self.options.time_scale,
            workers=self.options.workers,
            locustfile=self.options.locustfile,
            allow_external_target=self.options.allow_external_target,
            status_hint=status_hint,
            events=run.events,
            allowed_hosts=frozenset(deployed.load_hosts),
            stack=run.stack,
            shape_plan=shape_plan,
            max_duration_s=self.options.max_duration_s,
            keepalive=client_keepalive(resolved.objects),
        )
        # A target may bring its own driver (the k8s target's in-cluster Locust); else Locust runs here.
        driver = self.driver or getattr(deployed, "load_driver", None) or run_load
        started = time.time()
        aligner = self._align_autoscaler(resolved, deployed, started)
        run.update_manifest(load_started_at=started)
        runner = self._event_runner(resolved, deployed, started)
        interrupted = True
        try:
            result = driver(config, progress=self.console.live)
            interrupted = bool(result.interrupted)
        finally:
            if runner is not None:
                # After a normal end a running rollout may finish; after Ctrl-C teardown comes first.
                runner.stop(timeout_s=EVENT_JOIN_INTERRUPTED_S if interrupted else EVENT_JOIN_S)
            if aligner is not None:
                aligner.stop()
            self.console.close()
            ended = time.time()
            self.window = (started, ended)
            run.update_manifest(load_ended_at=ended)
        # The driver's own clock is the authority on when load really started and ended.
        self.window = (result.started_at, result.ended_at)
        run.update_manifest(load_started_at=result.started_at, load_ended_at=result.ended_at)
        if shape_plan is not None:
            from hpabench.scenarios.drive.own_shape import apply_to_load

            apply_to_load(run.data, shape_plan, result.started_at)
        self.flags += list(result.flags)
        self._show_top_errors(result)
        self.stage("load", "finished", interrupted=result.interrupted)
        if result.interrupted:
            raise KeyboardInterrupt("load driver interrupted")
        return result

    def _align_autoscaler(self, resolved: Resolved, deployed: Deployed, load_start_ts: float) -> PhaseAligner | None:
        """Seed the HPA sync phase relative to the load start, if asked (see hpabench/sync_phase.py)."""
        if self.options.hpa_sync_phase is None:
            return None
        phase_s = (self.options.hpa_sync_phase % 1.0) * resolved.hpa_settings.sync_period_s
        aligner = PhaseAligner(deployed, self.run.data, phase_s)
        if not aligner.supported:
            self.run.events.emit("warning", message="this target cannot place the HPA sync phase; it is only measured")
            return None
        aligner.start(load_start_ts)
        self.run.update_manifest(hpa_sync_phase={"fraction": self.options.hpa_sync_phase, "phase_s": phase_s})
        return aligner

    def _show_top_errors(self, result: Any) -> None:
        """Why requests failed, on the console (status, route, count), when any did."""
        from hpabench.analysis import errors

        requests, failures = int(getattr(result, "requests", 0) or 0), int(getattr(result, "failures", 0) or 0)
        if not failures:
            return
        self.console.warn(f"{failures} of {requests} requests failed ({failures / max(requests, 1):.1%}); top errors:")
        for error in errors.top_errors(errors.read_errors(self.run.data)):
            self.console.info(f"    {errors.describe(error)}")
        if errors.errors_dominate(requests, failures):
            self.console.warn("most requests failed: the latency of this run describes failures, not the system")

    def _event_runner(self, resolved: Resolved, deployed: Deployed, started: float) -> EventRunner | None:
        """The scenario's events, fired at their offsets on the driver's clock (None without events)."""
        from hpabench.scenarios.events import scheduled

        plan = scheduled(resolved.scenario, self.options.time_scale)
        if not plan:
            return None
        data_dir = self.run.data
        runner = EventRunner(plan, deployed, self.run.events, lambda: load_clock_t0(data_dir), started)
        runner.start()
        return runner
