"""The run pipeline: render → deploy → warm up → drive → collect → tear down → analyze → report.

Each stage writes its artefact into the run directory before the next starts (DESIGN.md), so a
run that stops anywhere keeps what it had and `hpabench report <run>` can finish it offline.

Contract of `run_benchmark`: invalid input (scenario, variant, HPA) raises `SpecError` before
anything is started or any run directory is created. Once the run directory exists, the function
always tears the target down, records an honest status (`completed`, `interrupted`, `failed`) in
manifest.json, tries to analyze and report what was measured, and returns a `RunOutcome`.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import httpx

from hpabench import hostinfo
from hpabench.console import Console
from hpabench.errors import EXIT_OK, EXIT_TOOL_ERROR, HpabenchError, RunInterrupted, SpecError, SpecIssue
from hpabench.rundir import (
    STATUS_COMPLETED,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_RUNNING,
    RunDir,
)
from hpabench.sync_phase import PhaseAligner
from hpabench.target import Deployed, Target, TargetFactory, TargetOptions, get_target

DEFAULT_REPORTS_DIR = Path("reports")
WARMUP_TIMEOUT_S = 20.0
# The web Deployment names the requests that warm it up (pools, caches), so the pipeline does
# not hard-code the reference app's routes: a space-separated list of paths.
WARMUP_ANNOTATION = "hpabench.dev/warmup-paths"
DEFAULT_WARMUP_PATHS = ("/",)
MAX_WORKERS = 64
MIN_TIME_SCALE = 0.01
MAX_TIME_SCALE = 100.0


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "reports_dir", Path(self.reports_dir).absolute())
        for name in ("variant", "locustfile"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value).absolute())

    def issues(self) -> list[SpecIssue]:
        """Problems with the command-line values themselves (exit 2 before anything starts)."""
        found: list[SpecIssue] = []
        if not (math.isfinite(self.time_scale) and MIN_TIME_SCALE <= self.time_scale <= MAX_TIME_SCALE):
            found.append(
                SpecIssue(
                    "--time-scale",
                    "",
                    f"must be a number from {MIN_TIME_SCALE} to {MAX_TIME_SCALE}, not {self.time_scale!r}",
                )
            )
        if isinstance(self.workers, bool) or not 0 <= self.workers <= MAX_WORKERS:
            found.append(SpecIssue("--workers", "", f"must be 0 (standalone) to {MAX_WORKERS}, not {self.workers!r}"))
        if not (math.isfinite(self.scrape_interval_s) and 0.5 <= self.scrape_interval_s <= 60):
            found.append(SpecIssue("--scrape-interval-s", "", f"must be 0.5 to 60 s, not {self.scrape_interval_s!r}"))
        if self.locustfile is not None and not self.locustfile.is_file():
            found.append(SpecIssue(str(self.locustfile), "", "--locustfile is not a readable file"))
        if self.reports_dir.exists() and not self.reports_dir.is_dir():
            found.append(SpecIssue(str(self.reports_dir), "", "--reports-dir exists and is not a directory"))
        return found


@dataclass(frozen=True)
class RunOutcome:
    run_path: Path
    status: str
    exit_code: int
    flags: tuple[str, ...] = ()
    error: str | None = None


class LoadDriver(Protocol):
    """Drives one load phase against a deployed system (`hpabench.scenarios.driver.run_load`)."""

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


def _target_options(options: RunOptions, hpa_settings: Any) -> TargetOptions:
    return TargetOptions(
        scrape_interval_s=options.scrape_interval_s,
        autoscale=options.autoscale,
        hpa_settings=hpa_settings,
        extra=dict(options.target_settings),
    )


def resolve_inputs(options: RunOptions, target_factory: TargetFactory | None = None) -> _Resolved:
    """Load and validate every input, including the target's own admission of the rendered
    objects; raises SpecError (exit 2) listing all problems found. Starts nothing."""
    from hpabench.deploy.render import render
    from hpabench.deploy.variant import resolve_variant
    from hpabench.scenarios.catalogue import load_scenario

    factory = target_factory or get_target(options.target)
    option_issues = options.issues()
    if option_issues:
        raise SpecError(option_issues, headline="invalid command-line values:")
    scenario = load_scenario(options.scenario)
    variant = resolve_variant(options.variant, options.variant_overrides)
    objects = render(variant, image=options.image)
    hpa_settings = variant.controller
    if options.hpa_overrides:
        hpa_settings = hpa_settings.model_copy(update=options.hpa_overrides)
    target = factory(_target_options(options, hpa_settings))
    issues = target.admit(objects)
    if issues:
        source = str(options.variant) if options.variant else "deploy/manifests"
        raise SpecError(issues, headline=f"the {target.name} target cannot run the manifests rendered from {source}:")
    return _Resolved(scenario, variant, objects, hpa_settings, target)


def resolve_slo(scenario: Any, variant: Any) -> dict[str, float]:
    """The run's SLO: the variant's defaults, then what the scenario declares (what its users
    expect), then what the variant file sets explicitly (a deliberate override wins)."""
    slo: dict[str, float] = dict(variant.slo.model_dump())
    if scenario.slo is not None:
        slo.update({k: v for k, v in scenario.slo.model_dump().items() if v is not None})
    if "slo" in variant.model_fields_set:
        slo.update({k: getattr(variant.slo, k) for k in variant.slo.model_fields_set})
    return slo


def _write_rendered(run: RunDir, objects: list[dict[str, Any]]) -> None:
    from hpabench.deploy.render import dump_yaml

    (run.rendered / "all.yaml").write_text(dump_yaml(objects))


def _write_planned(run: RunDir, scenario: Any, time_scale: float) -> float:
    from hpabench.scenarios.shapes import planned_curve

    planned = planned_curve(scenario, time_scale=time_scale, step_s=1.0)
    planned.to_parquet(run.data / "planned.parquet", index=False)
    return float(planned["t_s"].max()) if len(planned) else 0.0


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

    `target_factory` and `driver` are the seams: by default the target registered under
    `options.target` and the Locust driver; tests pass fakes to exercise the orchestration.
    """

    def __init__(
        self,
        options: RunOptions,
        console: Console,
        target_factory: TargetFactory | None = None,
        driver: LoadDriver | None = None,
    ) -> None:
        self.options = options
        self.console = console
        self.target_factory = target_factory
        self.driver = driver
        self.deployed: Deployed | None = None
        self.run: RunDir | None = None
        self.load_window: tuple[float, float] | None = None
        self.flags: list[str] = []

    # -- stages -------------------------------------------------------------------------------
    def _stage(self, name: str, state: str, **extra: Any) -> None:
        assert self.run is not None
        self.run.events.emit("stage", stage=name, state=state, **extra)
        if state == "started":
            self.console.stage(name)

    def _deploy(self, resolved: _Resolved) -> Deployed:
        assert self.run is not None
        self._stage("deploy", "started")
        self.deployed = deployed = resolved.target.start(resolved.objects, self.run, self.console.info)
        self.console.info(f"    service:    {deployed.service_url}")
        self.console.info(f"    prometheus: {deployed.prometheus_url}")
        self._stage("deploy", "finished")
        return deployed

    def _drive(self, resolved: _Resolved, deployed: Deployed) -> Any:
        from hpabench.scenarios.driver import DriverConfig, run_load

        assert self.run is not None
        self._stage("load", "started")

        def status_hint() -> dict[str, Any]:
            view = deployed.replicas("web")
            return {"ready_replicas": view.ready_replicas, "replicas": view.spec_replicas}

        config = DriverConfig(
            scenario=resolved.scenario,
            host=deployed.service_url,
            data_dir=self.run.data,
            time_scale=self.options.time_scale,
            workers=self.options.workers,
            locustfile=self.options.locustfile,
            allow_external_target=self.options.allow_external_target,
            status_hint=status_hint,
            events=self.run.events,
            allowed_hosts=frozenset(deployed.load_hosts),
            keepalive=client_keepalive(resolved.objects),
        )
        driver = self.driver or run_load
        started = time.time()
        aligner = self._align_autoscaler(resolved, deployed, started)
        self.run.update_manifest(load_started_at=started)
        try:
            result = driver(config, progress=self.console.live)
        finally:
            if aligner is not None:
                aligner.stop()
            self.console.close()
            ended = time.time()
            self.load_window = (started, ended)
            self.run.update_manifest(load_ended_at=ended)
        # The driver's own clock is the authority on when load really started and ended.
        self.load_window = (result.started_at, result.ended_at)
        self.run.update_manifest(load_started_at=result.started_at, load_ended_at=result.ended_at)
        self.flags += list(result.flags)
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

    def _collect(self) -> None:
        from hpabench.analysis.collect import collect

        assert self.run is not None
        if self.deployed is None or self.load_window is None:
            return
        self._stage("collect", "started")
        # Let Prometheus take one more scrape so the last seconds of load are in its TSDB.
        time.sleep(self.options.scrape_interval_s + 1.0)
        start, end = self.load_window
        # rate() needs a window spanning several scrapes: 15 s at the default 5 s interval.
        window_s = max(15, round(3 * self.options.scrape_interval_s))
        result = collect(
            self.run.data,
            self.deployed.prometheus_url,
            start - 30.0,
            end + 5.0,
            variables={"window": f"{window_s}s"},
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
        if self.deployed is None:
            return
        assert self.run is not None
        self._stage("teardown", "started")
        try:
            self.deployed.stop()
        finally:
            self.deployed = None
            self._stage("teardown", "finished")

    # -- the whole run ------------------------------------------------------------------------
    def execute(self) -> RunOutcome:
        resolved = resolve_inputs(self.options, self.target_factory)
        label = self.options.label or f"{resolved.scenario.name}-{resolved.variant.name}"
        self.run = run = RunDir.create(self.options.reports_dir, label)
        self.console.info(f"run directory: {run.path}")
        run.update_manifest(
            run_id=run.run_id,
            status=STATUS_RUNNING,
            scenario=resolved.scenario.model_dump(mode="json"),
            variant=resolved.variant.model_dump(mode="json"),
            target=self.options.target,
            time_scale=self.options.time_scale,
            workers=self.options.workers,
            locustfile=str(self.options.locustfile) if self.options.locustfile else None,
            hpa_settings=resolved.hpa_settings.model_dump(mode="json"),
            autoscale=self.options.autoscale,
            scrape_interval_s=self.options.scrape_interval_s,
            slo=resolve_slo(resolved.scenario, resolved.variant),
            versions=hostinfo.software_versions(),
            git_sha=hostinfo.git_sha(),
            host=hostinfo.host_facts(),
            created_at=time.time(),
            flags=[],
        )
        status, error = STATUS_FAILED, None
        try:
            with _sigterm_as_interrupt():
                try:
                    self._stage("render", "started")
                    _write_rendered(run, resolved.objects)
                    planned_s = _write_planned(run, resolved.scenario, self.options.time_scale)
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
            # A second Ctrl-C during collection or teardown: teardown has already been attempted.
            status = STATUS_INTERRUPTED
        finally:
            run.update_manifest(status=status, error=error, finished_at=time.time(), flags=sorted(set(self.flags)))
        self._analyze_and_report()
        run.close()
        exit_code = {STATUS_COMPLETED: EXIT_OK, STATUS_INTERRUPTED: RunInterrupted.exit_code}.get(
            status, EXIT_TOOL_ERROR
        )
        return RunOutcome(run.path, status, exit_code, tuple(sorted(set(self.flags))), error)

    def _collect_best_effort(self) -> None:
        assert self.run is not None
        try:
            self._collect()
        except (HpabenchError, OSError, httpx.HTTPError, ValueError) as exc:
            self.run.events.emit("warning", message=f"collection failed: {exc}")
            self.console.warn(f"collection failed: {exc}")

    def _analyze_and_report(self) -> None:
        assert self.run is not None
        try:
            report_path = finish_report(self.run.path, self.console)
            self.console.info(f"report: {report_path}")
        except (HpabenchError, OSError, ValueError, KeyError) as exc:
            self.console.warn(f"analysis/report failed ({exc}); re-run `hpabench report {self.run.path}`")


def finish_report(run_path: Path, console: Console | None = None) -> Path:
    """Analyze a run directory (summary.json) and render report.html; works offline on any run."""
    from hpabench.analysis.report import write_run_report
    from hpabench.analysis.summary import analyze_run

    if console:
        console.stage("analyze")
    analyze_run(run_path)
    if console:
        console.stage("report")
    return write_run_report(run_path)


def run_benchmark(
    options: RunOptions,
    console: Console | None = None,
    *,
    target_factory: TargetFactory | None = None,
    driver: LoadDriver | None = None,
) -> RunOutcome:
    """Run one benchmark end to end (see module docstring)."""
    return Pipeline(options, console or Console(), target_factory, driver).execute()
