"""The run pipeline: render → deploy → warm up → drive → collect → tear down → analyze → report.

Each stage writes its artefact into the run directory before the next starts (DESIGN.md), so a
run that stops anywhere keeps what it had and `hpabench report <run>` can finish it offline.

Contract of `run_benchmark`: invalid input (scenario, variant, HPA) raises `SpecError` before
anything is started or any run directory is created. Once the run directory exists, the function
always tears the target down, records an honest status (`completed`, `interrupted`, `failed`) in
manifest.json, tries to analyze and report what was measured, and returns a `RunOutcome`.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import httpx

from hpabench import cliinput, hostinfo, preflight
from hpabench.console import Console
from hpabench.contract import MANIFEST_SCHEMA_VERSION
from hpabench.errors import (
    EXIT_LOAD_INVALID,
    EXIT_OK,
    EXIT_TOOL_ERROR,
    FLAG_LOAD_INVALID,
    HpabenchError,
    RunInterrupted,
    SpecError,
    SpecIssue,
)
from hpabench.events import EventRunner, admit_events, load_clock_t0
from hpabench.inputfile import check_output_dir
from hpabench.lifeline import Lifeline
from hpabench.rundir import (
    STATUS_COMPLETED,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_RUNNING,
    RunDir,
)
from hpabench.signals import deferred_signals, fault_point
from hpabench.slo import ResolvedSlo
from hpabench.slo import resolve_slo as resolve_slo_fields
from hpabench.sync_phase import PhaseAligner
from hpabench.target import Deployed, Target, TargetFactory, TargetOptions, get_target
from hpabench.teardown import (
    FLAG_REPORT_INTERRUPTED,
    FLAG_TEARDOWN_INCOMPLETE,
    fault_flags,
    mark_report_interrupted,
    verified_teardown,
)

DEFAULT_REPORTS_DIR = Path("reports")
WARMUP_TIMEOUT_S = 20.0
# The web Deployment names the requests that warm it up (pools, caches), so the pipeline does
# not hard-code the reference app's routes: a space-separated list of paths.
WARMUP_ANNOTATION = "hpabench.dev/warmup-paths"
DEFAULT_WARMUP_PATHS = ("/",)
MAX_WORKERS = cliinput.MAX_WORKERS
MIN_TIME_SCALE = cliinput.MIN_TIME_SCALE
MAX_TIME_SCALE = cliinput.MAX_TIME_SCALE
MAX_DURATION_S = 86400.0
EVENT_JOIN_S = 600.0  # longest wait, after the load, for a scenario event still running
EVENT_JOIN_INTERRUPTED_S = 5.0


@dataclass(frozen=True)
class RunOptions:
    """What the user asked for. `time_scale` < 1 compresses the scenario's time, not its load.

    Every path is made absolute here, at the boundary: servers started later run with working
    directories of their own and must never see a path relative to ours.
    """

    scenario: str
    variant: Path | None = None
    target: str = "local"
    time_scale: float = 1.0
    workers: int = 0
    locustfile: Path | None = None
    allow_external_target: bool = False
    reports_dir: Path = DEFAULT_REPORTS_DIR
    autoscale: bool = True
    scrape_interval_s: float = 5.0
    image: str | None = None
    label: str | None = None
    hpa_overrides: dict[str, Any] = field(default_factory=dict)
    # `--set path=value` overrides of the variant's knobs (deploy/variant_layers.py).
    variant_overrides: tuple[str, ...] = ()
    # Studies: place the HPA's sync grid this fraction of a sync period after the load start.
    hpa_sync_phase: float | None = None
    # Settings only one target understands (e.g. the k8s target's context); the target validates them.
    target_settings: dict[str, Any] = field(default_factory=dict)
    # Bound of a run whose --locustfile brings its own LoadTestShape (required then; see own_shape.py).
    max_duration_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "reports_dir", Path(self.reports_dir).absolute())
        for name in ("variant", "locustfile"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value).absolute())

    def issues(self) -> list[SpecIssue]:
        """Problems with the command-line values themselves (exit 2 before anything starts)."""
        found = cliinput.time_scale_issues(self.time_scale)
        found += cliinput.workers_issues(self.workers)
        found += cliinput.scrape_interval_issues(self.scrape_interval_s)
        if self.max_duration_s is not None and not (
            math.isfinite(self.max_duration_s) and 1 <= self.max_duration_s <= MAX_DURATION_S
        ):
            bound = f"must be 1 to {MAX_DURATION_S:g} s, not {self.max_duration_s!r}"
            found.append(SpecIssue("command line", "--max-duration", bound))
        found += check_output_dir(self.reports_dir, "--reports-dir")
        return found


@dataclass(frozen=True)
class RunOutcome:
    run_path: Path
    status: str
    exit_code: int
    flags: tuple[str, ...] = ()
    error: str | None = None


class LoadDriver(Protocol):
    """Drives one load phase against a deployed system (`hpabench.scenarios.drive.driver.run_load`)."""

    def __call__(self, config: Any, progress: Callable[[str], None] | None = None) -> Any: ...


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


@dataclass
class _Resolved:
    scenario: Any
    variant: Any
    objects: list[dict[str, Any]]
    hpa_settings: Any
    target: Target
    plan: Any = None  # the scenario compiled once for this run (hpabench.scenarios.plan.Plan)


def _target_options(options: RunOptions, hpa_settings: Any) -> TargetOptions:
    return TargetOptions(
        scrape_interval_s=options.scrape_interval_s,
        autoscale=options.autoscale,
        hpa_settings=hpa_settings,
        extra=dict(options.target_settings),
    )


def rate_window_variables(scrape_interval_s: float) -> dict[str, str]:
    """The metric profile's `$window`: rate() needs several scrapes, 15 s at the default 5 s."""
    return {"window": f"{max(15, round(3 * scrape_interval_s))}s"}


def resolve_inputs(options: RunOptions, target_factory: TargetFactory | None = None) -> _Resolved:
    """Load and validate every input, including the target's own admission of the rendered
    objects; raises SpecError (exit 2) listing all problems found. Starts nothing."""
    from hpabench.deploy.render import render
    from hpabench.deploy.variant import resolve_variant
    from hpabench.scenarios.catalogue import load_scenario
    from hpabench.scenarios.drive.locustcheck import LocustfileCheck

    # Started first: the locustfile's import runs in a child while everything else is checked.
    locust_check = LocustfileCheck(options.locustfile) if options.locustfile is not None else None
    try:
        factory = target_factory or get_target(options.target)
        # Every input is checked and every problem reported at once, before anything starts.
        issues = options.issues()
        scenario = preflight.collect(issues, load_scenario, options.scenario)
        variant = preflight.collect(
            issues, lambda path: resolve_variant(path, options.variant_overrides), options.variant
        )
        scrape_s = options.scrape_interval_s if not cliinput.scrape_interval_issues(options.scrape_interval_s) else 5.0
        issues += preflight.profile_issues(rate_window_variables(scrape_s))
        if locust_check is not None:
            issues += locust_check.issues()
    finally:
        if locust_check is not None:
            locust_check.close()
    if issues or scenario is None or variant is None:
        raise SpecError(issues, headline="invalid input (nothing was started):")
    objects = render(variant, image=options.image)
    hpa_settings = variant.controller
    if options.hpa_overrides:
        hpa_settings = hpa_settings.model_copy(update=options.hpa_overrides)
    target = factory(_target_options(options, hpa_settings))
    source = str(options.variant) if options.variant else "deploy/manifests"
    issues = preflight.rendered_issues(objects, source)
    issues += target.admit(objects)
    if issues:
        raise SpecError(issues, headline=f"the {target.name} target cannot run the manifests rendered from {source}:")
    event_issues = admit_events(target, list(scenario.events), objects, options.scenario)
    if event_issues:
        raise SpecError(event_issues, headline=f"the {target.name} target cannot perform the scenario's events:")
    from hpabench.scenarios.plan import compile_plan

    return _Resolved(scenario, variant, objects, hpa_settings, target, compile_plan(scenario, options.time_scale))


def resolve_slo(scenario: Any, variant: Any) -> ResolvedSlo:
    """The run's SLO (the precedence is written down once, in `hpabench.slo`)."""
    return resolve_slo_fields(scenario.slo, variant.slo)


def _write_rendered(run: RunDir, objects: list[dict[str, Any]]) -> None:
    from hpabench.deploy.render import write_rendered

    write_rendered(run.path, objects)


def shape_plan(options: RunOptions) -> Any:
    """The plan of the --locustfile's own LoadTestShape, or None (scenarios/drive/own_shape.py)."""
    if options.locustfile is None:
        return None
    from hpabench.scenarios.drive.own_shape import admit_shape

    return admit_shape(options.locustfile, options.max_duration_s, options.time_scale, MAX_DURATION_S)


def write_planned(run: RunDir, load_plan: Any, shape_plan: Any = None) -> float:
    """planned.parquet from the compiled plan (the same per-second sampling as load.parquet), or
    from a locustfile's own shape when it brings one; returns the planned length in run seconds."""
    if shape_plan is not None:
        from hpabench.scenarios.drive.own_shape import planned_frame

        planned_frame(shape_plan).to_parquet(run.data / "planned.parquet", index=False)
        return float(shape_plan.duration_s)
    load_plan.per_second().to_parquet(run.data / "planned.parquet", index=False)
    return float(load_plan.duration_s)


def warmup_paths(objects: list[dict[str, Any]], workload: str = "web") -> list[str]:
    """The warm-up requests the web workload declares (annotation `WARMUP_ANNOTATION`), else "/"."""
    for obj in objects:
        if obj.get("kind") in ("Deployment", "StatefulSet") and (obj.get("metadata") or {}).get("name") == workload:
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            declared = str(annotations.get(WARMUP_ANNOTATION, "")).split()
            if declared:
                return declared
    return list(DEFAULT_WARMUP_PATHS)


def client_keepalive(objects: list[dict[str, Any]]) -> bool:
    """False when the web Service says `hpabench.io/client-keepalive: "false"` (a variant knob)."""
    from hpabench.deploy.render_tuning import KEEPALIVE_ANNOTATION

    for obj in objects:
        if obj.get("kind") == "Service" and (obj.get("metadata") or {}).get("name") == "web":
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            return str(annotations.get(KEEPALIVE_ANNOTATION, "true")).lower() != "false"
    return True


def _warm_up(service_url: str, paths: list[str], console: Console) -> None:
    """A few requests on every declared route so first-request costs (pools, caches) are not measured."""
    deadline = time.monotonic() + WARMUP_TIMEOUT_S
    with httpx.Client(base_url=service_url, timeout=5.0) as client:
        for path in paths:
            if time.monotonic() > deadline:
                console.warn("warm-up took too long; continuing")
                return
            try:
                client.get(path)
            except httpx.HTTPError as exc:
                console.warn(f"warm-up request {path} failed: {exc}")


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
        reporter: Callable[[Path, Console | None], Path] | None = None,
        collector: Callable[..., Any] | None = None,
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

    # -- stages -------------------------------------------------------------------------------
    def _stage(self, name: str, state: str, **extra: Any) -> None:
        assert self.run is not None
        self.run.events.emit("stage", stage=name, state=state, **extra)
        if state == "started":
            self.console.stage(name)
        fault_point(f"{name}.{state}")

    def _deploy(self, resolved: _Resolved) -> Deployed:
        assert self.run is not None
        self._stage("deploy", "started")
        self.deployed = deployed = resolved.target.start(resolved.objects, self.run, self.console.info)
        self.console.info(f"    service:    {deployed.service_url}")
        self.console.info(f"    prometheus: {deployed.prometheus_url}")
        self.run.stack.set_urls(service=deployed.service_url, prometheus=deployed.prometheus_url)
        self._stage("deploy", "finished")
        return deployed

    def _drive(self, resolved: _Resolved, deployed: Deployed) -> Any:
        from hpabench.scenarios.drive.driver import DriverConfig, run_load

        assert self.run is not None
        self._stage("load", "started")

        def status_hint() -> dict[str, Any]:
            view = deployed.replicas("web")
            return {"ready_replicas": view.ready_replicas, "replicas": view.spec_replicas}

        config = DriverConfig(
            scenario=resolved.scenario,
            plan=resolved.plan,
            host=deployed.service_url,
            data_dir=self.run.data,
            time_scale=self.options.time_scale,
            workers=self.options.workers,
            locustfile=self.options.locustfile,
            allow_external_target=self.options.allow_external_target,
            status_hint=status_hint,
            events=self.run.events,
            allowed_hosts=frozenset(deployed.load_hosts),
            stack=self.run.stack,
            shape_plan=self.plan,
            max_duration_s=self.options.max_duration_s,
            keepalive=client_keepalive(resolved.objects),
        )
        # A target may bring its own driver (the k8s target's in-cluster Locust); else Locust runs here.
        driver = self.driver or getattr(deployed, "load_driver", None) or run_load
        started = time.time()
        aligner = self._align_autoscaler(resolved, deployed, started)
        self.run.update_manifest(load_started_at=started)
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
            self.load_window = (started, ended)
            self.run.update_manifest(load_ended_at=ended)
        # The driver's own clock is the authority on when load really started and ended.
        self.load_window = (result.started_at, result.ended_at)
        self.run.update_manifest(load_started_at=result.started_at, load_ended_at=result.ended_at)
        if self.plan is not None:
            from hpabench.scenarios.drive.own_shape import apply_to_load

            apply_to_load(self.run.data, self.plan, result.started_at)
        self.flags += list(result.flags)
        self._show_top_errors(result)
        self._stage("load", "finished", interrupted=result.interrupted)
        if result.interrupted:
            raise KeyboardInterrupt("load driver interrupted")
        return result

    def _align_autoscaler(self, resolved: _Resolved, deployed: Deployed, load_start_ts: float) -> PhaseAligner | None:
        """Seed the HPA sync phase relative to the load start, if asked (see hpabench/sync_phase.py)."""
        assert self.run is not None
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

        assert self.run is not None
        requests, failures = int(getattr(result, "requests", 0) or 0), int(getattr(result, "failures", 0) or 0)
        if not failures:
            return
        self.console.warn(f"{failures} of {requests} requests failed ({failures / max(requests, 1):.1%}); top errors:")
        for error in errors.top_errors(errors.read_errors(self.run.data)):
            self.console.info(f"    {errors.describe(error)}")
        if errors.errors_dominate(requests, failures):
            self.console.warn("most requests failed: the latency of this run describes failures, not the system")

    def _event_runner(self, resolved: _Resolved, deployed: Deployed, started: float) -> EventRunner | None:
        """The scenario's events, fired at their offsets on the driver's clock (None without events)."""
        from hpabench.scenarios.events import scheduled

        assert self.run is not None
        plan = scheduled(resolved.scenario, self.options.time_scale)
        if not plan:
            return None
        data_dir = self.run.data
        runner = EventRunner(plan, deployed, self.run.events, lambda: load_clock_t0(data_dir), started)
        runner.start()
        return runner

    def _collect(self) -> None:
        from hpabench.analysis.collect import collect as collect_from_prometheus

        collect = self.collector or collect_from_prometheus
        assert self.run is not None
        if self.deployed is None or self.load_window is None:
            return
        self._stage("collect", "started")
        # Let Prometheus take one more scrape so the last seconds of load are in its TSDB.
        time.sleep(self.options.scrape_interval_s + 1.0)
        start, end = self.load_window
        result = collect(
            self.run.data,
            self.deployed.prometheus_url,
            start - 30.0,
            end + 5.0,
            # The profile's series are scoped to the run's namespace (per run on a cluster).
            variables={**rate_window_variables(self.options.scrape_interval_s), "namespace": self.deployed.namespace},
        )
        for warning in result.warnings:
            self.run.events.emit("warning", message=str(warning))
            # An empty series is usually good news (no 5xx at all); only failures deserve a WARNING.
            if not any(f"{name!r}" in warning for name in result.empty):
                self.console.warn(str(warning))
        if result.empty:
            self.console.info(
                f"    no samples in the run window (normal when e.g. nothing failed): {', '.join(result.empty)}"
            )
        self._stage("collect", "finished")

    def _teardown(self) -> None:
        """Signal-proof, verified teardown (hpabench/teardown.py); its outcome goes on the run."""
        assert self.run is not None
        if self.deployed is None and not self.run.stack.snapshot()["groups"]:
            return  # nothing was started (a start that failed has stopped itself; verified otherwise)
        deployed, self.deployed = self.deployed, None
        self.console.stage("teardown")
        result = verified_teardown(deployed.stop if deployed is not None else None, self.run)
        if not result.complete:
            self.flags.append(FLAG_TEARDOWN_INCOMPLETE)
            self.console.warn("teardown incomplete: " + "; ".join(result.leftovers or [result.error or ""]))
        if result.deferred_signals:
            self.teardown_signals += result.deferred_signals
            names = ", ".join(result.deferred_signals)
            self.console.warn(f"{names} during teardown: finished tearing down first")

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
                    self._stage("render", "started")
                    _write_rendered(run, resolved.objects)
                    planned_s = write_planned(run, resolved.plan, self.plan)
                    self._stage("render", "finished", planned_duration_s=planned_s)
                    deployed = self._deploy(resolved)
                    self._stage("warmup", "started")
                    _warm_up(deployed.service_url, warmup_paths(resolved.objects), self.console)
                    self._stage("warmup", "finished")
                    self._drive(resolved, deployed)
                    self._collect()
                    status = STATUS_COMPLETED
                except KeyboardInterrupt:
                    status = STATUS_INTERRUPTED
                    self.console.warn("interrupted: collecting what was measured and tearing down")
                    self._collect_best_effort()
                except HpabenchError as exc:
                    error = str(exc)
                    run.events.emit("run_failed", error=error)
                    self.console.warn(f"run failed: {_one_line(error)}")
                    self.console.warn(f"(the full message is in {run.path / 'manifest.json'})")
                    self._collect_best_effort()
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
        reported = self._analyze_and_report()
        if reported is None:
            status = STATUS_INTERRUPTED
            self.flags.append(FLAG_REPORT_INTERRUPTED)
        self._warn_harness_faults()
        run.close()
        exit_code = {STATUS_COMPLETED: EXIT_OK, STATUS_INTERRUPTED: RunInterrupted.exit_code}.get(
            status, EXIT_TOOL_ERROR
        )
        if exit_code == EXIT_OK and not reported:
            # A completed run without its report is not what the user asked for (CI gates on this).
            exit_code = EXIT_TOOL_ERROR
        if exit_code == EXIT_OK and FLAG_LOAD_INVALID in self.flags:
            exit_code = EXIT_LOAD_INVALID  # the load that ran is not the load planned: never a silent result
        return RunOutcome(run.path, status, exit_code, tuple(sorted(set(self.flags))), error)

    def _warn_harness_faults(self) -> None:
        from hpabench.analysis.faults import harness_faults

        broken = harness_faults(self.flags)
        if broken:
            self.console.warn(
                f"the harness broke during this run ({', '.join(broken)}): see the fault events; "
                "a gate will not judge it"
            )

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

    def _collect_best_effort(self) -> None:
        assert self.run is not None
        try:
            self._collect()
        except (HpabenchError, OSError, httpx.HTTPError, ValueError) as exc:
            self.run.events.emit("warning", message=f"collection failed: {exc}")
            self.console.warn(f"collection failed: {exc}")

    def _analyze_and_report(self) -> bool | None:
        """Analyze and report: True when written, False when that failed (with a console line),
        None if interrupted (then the manifest — and a summary already written — say
        `interrupted` with the flag `report_interrupted`, so nothing claims a finished run whose
        report is missing)."""
        assert self.run is not None
        try:
            report_path = self.reporter(self.run.path, self.console)
            self.console.info(f"report: {report_path}")
            return True
        except (HpabenchError, OSError, ValueError, KeyError) as exc:
            self.console.warn(f"analysis/report failed ({exc}); re-run `hpabench report {self.run.path}`")
            return False
        except KeyboardInterrupt:
            mark_report_interrupted(self.run)
            self.console.warn(f"interrupted during analysis/report; rebuild it with `hpabench report {self.run.path}`")
            return None


def finish_report(run_path: Path, console: Console | None = None, plotlyjs: str = "embed") -> Path:
    """Analyze a run directory (summary.json) and render report.html; works offline on any run.
    `plotlyjs`: "embed" plotly.js in the page, or "shared": one copy in the run's parent folder."""
    from hpabench.analysis.report import write_run_report
    from hpabench.analysis.runcheck import check_run_dir
    from hpabench.analysis.summary import analyze_run

    check = check_run_dir(run_path)  # refuse before writing anything into a directory that is not a run
    for warning in check.warnings():
        (console or Console()).warn(warning)
    if console:
        console.stage("analyze")
    fault_point("analyze.started")
    analyze_run(run_path)
    if console:
        console.stage("report")
    fault_point("report.started")
    return write_run_report(run_path, plotlyjs=plotlyjs)


def dry_run(options: RunOptions, target_factory: TargetFactory | None = None) -> str:
    """Every check `run` performs before creating its run directory, then the plan as text;
    raises SpecError (exit 2) like `run` would. Starts nothing, writes nothing."""
    resolved = resolve_inputs(options, target_factory)
    return preflight.describe_plan(options, resolved.scenario, resolved.variant, resolved.objects, options.target)


def run_benchmark(
    options: RunOptions,
    console: Console | None = None,
    *,
    target_factory: TargetFactory | None = None,
    driver: LoadDriver | None = None,
    reporter: Callable[[Path, Console | None], Path] | None = None,
    collector: Callable[..., Any] | None = None,
) -> RunOutcome:
    """Run one benchmark end to end (see module docstring)."""
    # SIGTERM is an interrupt for the whole run, analysis and report included, not only its stages.
    with _sigterm_as_interrupt():
        return Pipeline(options, console or Console(), target_factory, driver, reporter, collector).execute()
