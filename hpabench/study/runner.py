"""Running a study unattended: the planned order, a time limit per run, a cool-down between
runs, progress for the whole study, resume after an interruption, and the report at the end.

Contract of `run_study(ref, ...)`:
- Everything is validated first (the spec, every variant rendered and admitted by the target
  through `resolve_inputs`), so a broken variant stops the study before its first run (exit 2).
- Runs go through `run_one(options)` (default: `hpabench.pipeline.run_benchmark`), one per
  planned cell not yet recorded in the study directory; each finished run is recorded at once.
- A run that breaks a hard bound, exceeds `run_time_limit_s`, or does not complete is a
  *failed trial*: recorded with its reasons and its KPI values, never retried.
- Ctrl-C (or SIGTERM) stops the study after the current run's teardown; that run is not
  recorded, so `hpabench study run FILE` again resumes with it. Returns `StudyOutcome`.
"""

from __future__ import annotations

import argparse
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from hpabench.console import Console
from hpabench.errors import EXIT_OK, RunInterrupted, SpecError, SpecIssue
from hpabench.pipeline import DEFAULT_REPORTS_DIR, RunOptions, RunOutcome, resolve_inputs, run_benchmark
from hpabench.rundir import MANIFEST, SUMMARY
from hpabench.study.plan import PlannedRun, plan_runs
from hpabench.study.spec import RUN_OVERHEAD_S, StudySpec, VariantEntry, load_study
from hpabench.study.state import StudyState

RunOne = Callable[[RunOptions], RunOutcome]
HEADLINE_KPIS = ("p95_ms", "error_rate", "slo_violation_pct", "replica_seconds", "cpu_request_core_seconds")


@dataclass(frozen=True)
class ResolvedVariant:
    name: str
    path: Path | None
    overrides: tuple[str, ...]
    resolved: dict[str, Any]  # the variant as validated (recorded in study.json)
    sync_period_s: float


@dataclass(frozen=True)
class StudyOutcome:
    path: Path
    done: int
    total: int
    failed_trials: int
    interrupted: bool
    report: Path | None

    @property
    def exit_code(self) -> int:
        return RunInterrupted.exit_code if self.interrupted else EXIT_OK


def _variant_file(entry: VariantEntry, beside: Path) -> Path | None:
    from hpabench.deploy.variant_catalogue import variant_ref

    ref = entry.variant or entry.name
    relative = beside / ref
    return relative if relative.is_file() else variant_ref(ref)


def resolve_variants(spec: StudySpec, spec_path: Path, time_scale: float) -> dict[str, ResolvedVariant]:
    """Every variant loaded, rendered and admitted by the target, for every scenario (no run yet)."""
    resolved: dict[str, ResolvedVariant] = {}
    issues: list[SpecIssue] = []
    for entry in spec.variant_entries():
        try:
            path = _variant_file(entry, spec_path.parent)
            for scenario in spec.scenarios:
                options = _options(
                    spec, scenario_ref(spec_path, scenario), path, tuple(entry.set), time_scale, Path(".")
                )
                inputs = resolve_inputs(options)
            resolved[entry.name] = ResolvedVariant(
                entry.name,
                path,
                tuple(entry.set),
                inputs.variant.model_dump(mode="json"),
                float(inputs.hpa_settings.sync_period_s),
            )
        except SpecError as exc:
            issues += [
                SpecIssue(issue.file, issue.path, f"[variant {entry.name}] {issue.message}") for issue in exc.issues
            ]
    if issues:
        raise SpecError(issues, headline=f"study {spec.name!r}: variants that cannot run:")
    return resolved


def scenario_ref(spec_path: Path, scenario: str) -> str:
    """A scenario path relative to the study file becomes absolute; catalogue names stay."""
    beside = spec_path.parent / scenario
    return str(beside.absolute()) if scenario.endswith((".yaml", ".yml")) and beside.is_file() else scenario


def _options(
    spec: StudySpec,
    scenario: str,
    variant: Path | None,
    overrides: tuple[str, ...],
    time_scale: float,
    reports_dir: Path,
    label: str | None = None,
    sync_phase: float | None = None,
) -> RunOptions:
    return RunOptions(
        scenario=scenario,
        variant=variant,
        variant_overrides=overrides,
        target=spec.target,
        time_scale=time_scale,
        reports_dir=reports_dir,
        scrape_interval_s=spec.scrape_interval_s,
        hpa_overrides=dict(spec.controller),
        label=label,
        hpa_sync_phase=sync_phase,
    )


def planned_run_s(spec: StudySpec, scenario: str, time_scale: float) -> float:
    """Planned load seconds of `scenario` (a name or an absolute path)."""
    from hpabench.scenarios.catalogue import load_scenario
    from hpabench.scenarios.shapes import total_duration_s

    return float(total_duration_s(load_scenario(scenario), time_scale))


def time_limit_s(spec: StudySpec, scenario: str, time_scale: float) -> float:
    """The per-run limit: the spec's, else 3 x the planned load + the run overhead."""
    return spec.run_time_limit_s or 3.0 * planned_run_s(spec, scenario, time_scale) + RUN_OVERHEAD_S


class _TimeLimit:
    """SIGALRM after `limit_s` raises KeyboardInterrupt in the main thread, which the pipeline
    handles like Ctrl-C (collect what was measured, tear down); `fired` tells the two apart."""

    def __init__(self) -> None:
        self.fired = False

    @contextmanager
    def arm(self, limit_s: float) -> Iterator[None]:
        self.fired = False

        def handler(signum: int, frame: FrameType | None) -> None:
            self.fired = True
            raise KeyboardInterrupt("run time limit")

        try:
            previous = signal.signal(signal.SIGALRM, handler)
        except ValueError:  # not the main thread: no limit can be enforced here
            yield
            return
        signal.setitimer(signal.ITIMER_REAL, limit_s)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def evaluate(run_path: Path, spec: StudySpec, status: str, timed_out: bool) -> tuple[bool, list[str], dict[str, Any]]:
    """(failed, reasons, kpis) of a finished run: hard bounds, time limit and status."""
    import json

    kpis: dict[str, Any] = {}
    summary_file = run_path / SUMMARY
    if summary_file.is_file():
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        kpis = {name: (entry or {}).get("value") for name, entry in (summary.get("kpis") or {}).items()}
    reasons = []
    if timed_out:
        reasons.append("exceeded the per-run time limit")
    if status != "completed":
        reasons.append(f"run status {status}")
    for name, bound in spec.hard_bounds.model_dump(exclude_none=True).items():
        value = kpis.get(name)
        if value is None:
            continue
        if value > bound:
            reasons.append(f"{name} {value:.4g} > hard bound {bound:g}")
    return bool(reasons), reasons, kpis


def measured_sync_phase_s(run_path: Path) -> float | None:
    """Seconds from the load start to the HPA's first sync after it (None without an HPA)."""
    import json

    import pandas as pd

    hpa_file = run_path / "data" / "hpa.parquet"
    manifest_file = run_path / MANIFEST
    if not hpa_file.is_file() or not manifest_file.is_file():
        return None
    start = json.loads(manifest_file.read_text(encoding="utf-8")).get("load_started_at")
    if start is None:
        return None
    ts = pd.read_parquet(hpa_file, columns=["ts"])["ts"]
    after = ts[ts >= start]
    return float(after.min() - start) if len(after) else None


def execute_run(
    state: StudyState,
    spec: StudySpec,
    options: RunOptions,
    limit_s: float,
    limit: _TimeLimit,
    run_one: RunOne,
    fields: dict[str, Any],
) -> dict[str, Any] | None:
    """One run under the time limit, evaluated and recorded with `fields` (key, cell, phase);
    None when the user interrupted it (not recorded, redone on resume)."""
    began = time.monotonic()
    try:
        with limit.arm(limit_s):
            outcome = run_one(options)
    except KeyboardInterrupt:
        if not limit.fired:
            return None
        # The limit struck outside the pipeline's own handling: still a failed trial.
        outcome = RunOutcome(state.runs_dir, "interrupted", RunInterrupted.exit_code)
    if outcome.status == "interrupted" and not limit.fired:
        return None
    failed, reasons, kpis = evaluate(outcome.run_path, spec, outcome.status, limit.fired)
    record = {
        **fields,
        "run_path": str(outcome.run_path),
        "status": outcome.status,
        "failed": failed,
        "reasons": reasons,
        "kpis": kpis,
        "sync_phase_measured_s": measured_sync_phase_s(outcome.run_path),
        "duration_s": time.monotonic() - began,
    }
    state.record(record)
    return record


def study_header(
    spec: StudySpec, plan: list[PlannedRun], variants: dict[str, ResolvedVariant], time_scale: float
) -> dict[str, Any]:
    return {
        "spec": spec.model_dump(mode="json"),
        "time_scale": time_scale,
        "seed": spec.seed,
        "plan": [{"key": r.key, "sync_phase": r.sync_phase} for r in plan],
        "variants": {name: v.resolved for name, v in variants.items()},
    }


def _eta(
    remaining: list[PlannedRun], spent_s: list[float], spec: StudySpec, time_scale: float, spec_path: Path
) -> float:
    """Seconds left: the mean of this session's runs so far, else planned load + ~40 s per run."""
    if spent_s:
        return len(remaining) * sum(spent_s) / len(spent_s)
    return sum(
        planned_run_s(spec, scenario_ref(spec_path, r.scenario), time_scale) + spec.cooldown_s + 40.0 for r in remaining
    )


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
    )


def run_study(
    ref: str | Path,
    *,
    out: Path | None = None,
    reports_dir: Path = DEFAULT_REPORTS_DIR,
    time_scale: float | None = None,
    console: Console | None = None,
    run_one: RunOne | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> StudyOutcome:
    """See the module docstring."""
    console = console or Console()
    spec, spec_path = load_study(ref)
    scale = time_scale if time_scale is not None else spec.time_scale
    variants = resolve_variants(spec, spec_path, scale)
    plan = plan_runs(spec)
    state = StudyState.open(
        (out or reports_dir / f"study-{spec.name}").absolute(), study_header(spec, plan, variants, scale)
    )
    run_one = run_one or (lambda options: run_benchmark(options, console))
    todo = [run for run in plan if not state.done(run.key)]
    console.info(
        f"study {spec.name}: {len(plan)} runs ({len(spec.scenarios)} scenario(s) x {len(variants)} variants x "
        f"{spec.repetitions} repetitions), seed {spec.seed}; {len(plan) - len(todo)} already done; {state.path}"
    )
    limit = _TimeLimit()
    spent: list[float] = []
    interrupted = False
    for position, planned in enumerate(todo):
        variant = variants[planned.variant]
        eta = _clock(_eta(todo[position:], spent, spec, scale, spec_path))
        console.stage(
            f"study run {len(state.records) + 1}/{len(plan)}",
            f"{planned.scenario} x {planned.variant} (repetition {planned.repetition}); "
            f"{len(todo) - position - 1} left after it, about {eta} to go",
        )
        options = _options(
            spec,
            scenario_ref(spec_path, planned.scenario),
            variant.path,
            variant.overrides,
            scale,
            state.runs_dir,
            label=f"{Path(planned.scenario).stem}-{planned.variant}-r{planned.repetition}",
            sync_phase=planned.sync_phase,
        )
        began = time.monotonic()
        record = execute_run(
            state,
            spec,
            options,
            time_limit_s(spec, scenario_ref(spec_path, planned.scenario), scale),
            limit,
            run_one,
            {
                "key": planned.key,
                "index": planned.index,
                "scenario": planned.scenario,
                "variant": planned.variant,
                "repetition": planned.repetition,
                "sync_phase": planned.sync_phase,
                "sync_period_s": variant.sync_period_s,
            },
        )
        if record is None:
            interrupted = True  # Ctrl-C during the run: not a result; redo it on resume
            break
        failed, reasons = record["failed"], record["reasons"]
        spent.append(time.monotonic() - began + spec.cooldown_s)
        if failed:
            console.warn(f"failed trial {planned.key}: {'; '.join(reasons)} (kept as data)")
        if position < len(todo) - 1 and spec.cooldown_s > 0:
            try:
                sleep(spec.cooldown_s)
            except KeyboardInterrupt:
                interrupted = True
                break
    report = None
    if state.records:
        from hpabench.analysis.report.study_page import write_study_report

        report = write_study_report(state.path)
        console.info(f"study report: {report}")
    failed_count = sum(1 for r in state.records.values() if r.get("failed"))
    if interrupted:
        console.warn(f"study interrupted: {len(state.records)}/{len(plan)} runs done; run the same command to resume")
    return StudyOutcome(state.path, len(state.records), len(plan), failed_count, interrupted, report)


def study_command(args: argparse.Namespace) -> int:
    """`hpabench study run|plan|report FILE`."""
    import json

    if args.action == "report":
        from hpabench.analysis.report.study_page import write_study_report

        spec, _ = load_study(args.file)
        directory = args.out or args.reports_dir / f"study-{spec.name}"
        print(write_study_report(directory.absolute()))
        return EXIT_OK
    if args.search:
        if args.action != "run":
            raise SpecError(SpecIssue("--search", "", "only with `study run`"))
        from hpabench.study.search import run_search

        found = run_search(
            args.file, args.budget, out=args.out, reports_dir=args.reports_dir, time_scale=args.time_scale
        )
        print(json.dumps({"study": str(found.path), "proposals": found.done, "budget": found.total,
                          "failed_trials": found.failed_trials, "report": str(found.report) if found.report else None,
                          "interrupted": found.interrupted}))  # fmt: skip
        return found.exit_code
    if args.action == "plan":
        spec, spec_path = load_study(args.file)
        scale = args.time_scale if args.time_scale is not None else spec.time_scale
        plan = plan_runs(spec)
        total = _eta(plan, [], spec, scale, spec_path)
        for run in plan:
            phase = "free" if run.sync_phase is None else f"{run.sync_phase:.3f}"
            print(f"{run.index + 1:>3}  {run.key:<48} sync phase {phase}")
        print(f"{len(plan)} runs, about {_clock(total)} at time scale {scale:g}")
        return EXIT_OK
    outcome = run_study(args.file, out=args.out, reports_dir=args.reports_dir, time_scale=args.time_scale)
    print(json.dumps({"study": str(outcome.path), "done": outcome.done, "total": outcome.total,
                      "failed_trials": outcome.failed_trials, "report": str(outcome.report) if outcome.report else None,
                      "interrupted": outcome.interrupted}))  # fmt: skip
    return outcome.exit_code
