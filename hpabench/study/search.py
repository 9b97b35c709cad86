"""`hpabench study run FILE --search optuna --budget N`: proposals within declared ranges.

Contract of `run_search(ref, budget, ...)`: an ask/tell loop (optuna's TPE sampler, seeded with
the study's seed) over `search.knobs`. Each proposal is the `search.variant` with the proposed
values as `--set` overrides, validated (a combination the renderer or the target refuses is a
failed trial, told as FAIL, never run), then run like a study run: time limit, hard bounds (a run
beyond one is a failed trial, told as FAIL and kept as data), recorded at once. The baseline runs
first and again after every `baseline_every` proposals, so the report compares every proposal
with baseline runs spread over the search. The objective is the study's `primary_kpi` (lower is
better; negated for KPIs where higher is better). Resuming replays the recorded proposals into a
new optuna study (`add_trial`), so `budget` counts proposals in total, not per session. The
report is the study report; each proposal is a variant `sNNN` whose settings are listed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hpabench.console import Console
from hpabench.errors import MissingDependencyError, SpecError, SpecIssue
from hpabench.pipeline import DEFAULT_REPORTS_DIR, resolve_inputs, run_benchmark
from hpabench.study.runner import (
    RunOne,
    StudyOutcome,
    _options,
    _TimeLimit,
    execute_run,
    resolve_variants,
    scenario_ref,
    time_limit_s,
)
from hpabench.study.spec import KnobRange, StudySpec, load_study
from hpabench.study.state import StudyState

HIGHER_IS_BETTER = frozenset({"fairness_jain", "load_achieved_ratio"})


def _distributions(knobs: dict[str, KnobRange]) -> dict[str, Any]:
    import optuna

    out: dict[str, Any] = {}
    for path, knob in knobs.items():
        if knob.choices is not None:
            out[path] = optuna.distributions.CategoricalDistribution(knob.choices)
        elif knob.integer:
            step = int(knob.step or 1)
            out[path] = optuna.distributions.IntDistribution(int(knob.low or 0), int(knob.high or 0), step=step)
        else:
            out[path] = optuna.distributions.FloatDistribution(
                float(knob.low or 0), float(knob.high or 0), step=knob.step
            )
    return out


def _objective(record: dict[str, Any], kpi: str) -> float | None:
    value = (record.get("kpis") or {}).get(kpi)
    if record.get("failed") or not isinstance(value, (int, float)):
        return None
    return -float(value) if kpi in HIGHER_IS_BETTER else float(value)


def run_search(
    ref: str | Path,
    budget: int,
    *,
    out: Path | None = None,
    reports_dir: Path = DEFAULT_REPORTS_DIR,
    time_scale: float | None = None,
    console: Console | None = None,
    run_one: RunOne | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> StudyOutcome:
    """See the module docstring."""
    try:
        import optuna
    except ImportError:
        raise MissingDependencyError(
            "the optuna package", "python3-optuna", "or: pip install 'hpabench[search]'"
        ) from None
    console = console or Console()
    spec, spec_path = load_study(ref)
    if spec.search is None:
        raise SpecError(SpecIssue(str(spec_path), "search", "--search needs a search: block (variant, knobs)"))
    if budget < 1:
        raise SpecError(SpecIssue("--budget", "", "must be at least 1 proposal"))
    search = spec.search
    scale = time_scale if time_scale is not None else spec.time_scale
    scenario = search.scenario or spec.scenarios[0]
    base_spec = spec.model_copy(update={"variants": [search.variant], "scenarios": [scenario]})
    variants = resolve_variants(base_spec, spec_path, scale)  # the baseline and the starting variant
    start = variants.get(search.variant) or variants[spec.baseline]
    header = {
        "spec": spec.model_dump(mode="json"),
        "time_scale": scale,
        "seed": spec.seed,
        "mode": "search",
        "plan": [],
        "variants": {name: v.resolved for name, v in variants.items()},
    }
    state = StudyState.open((out or reports_dir / f"study-{spec.name}-search").absolute(), header)
    run_one = run_one or (lambda options: run_benchmark(options, console))
    distributions = _distributions(search.knobs)
    sampler = optuna.samplers.TPESampler(seed=spec.seed)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    proposals = sorted(
        (r for r in state.records.values() if r.get("proposal") is not None), key=lambda r: r["proposal"]
    )
    for record in proposals:  # replay what a previous session measured
        value = _objective(record, spec.primary_kpi)
        study.add_trial(
            optuna.trial.create_trial(
                params=record["params"],
                distributions=distributions,
                value=value,
                state=optuna.trial.TrialState.COMPLETE if value is not None else optuna.trial.TrialState.FAIL,
            )
        )
    limit = _TimeLimit()
    limit_s = time_limit_s(spec, scenario_ref(spec_path, scenario), scale)
    done = len(proposals)
    baselines = sum(1 for r in state.records.values() if r.get("variant") == spec.baseline)
    interrupted = False
    console.info(f"search {spec.name}: {done}/{budget} proposals done, {baselines} baseline runs; {state.path}")

    def run(fields: dict[str, Any], path: Path | None, overrides: tuple[str, ...]) -> dict[str, Any] | None:
        options = _options(
            spec,
            scenario_ref(spec_path, scenario),
            path,
            overrides,
            scale,
            state.runs_dir,
            label=f"{Path(scenario).stem}-{fields['variant']}-r{fields['repetition']}",
        )
        return execute_run(
            state,
            spec,
            options,
            limit_s,
            limit,
            run_one,
            {"scenario": scenario, "sync_phase": None, "sync_period_s": start.sync_period_s, **fields},
        )

    while done < budget and not interrupted:
        if baselines == 0 or (
            done > 0 and done % search.baseline_every == 0 and baselines <= done // search.baseline_every
        ):
            base = variants[spec.baseline]
            fields = {
                "key": f"search/{scenario}/{spec.baseline}/r{baselines + 1}",
                "index": len(state.records),
                "variant": spec.baseline,
                "repetition": baselines + 1,
                "proposal": None,
            }
            console.stage(f"search baseline run {baselines + 1}", f"{done}/{budget} proposals done")
            if run(fields, base.path, base.overrides) is None:
                interrupted = True
                break
            baselines += 1
            continue
        trial = study.ask(fixed_distributions=distributions)
        params = dict(trial.params)
        overrides = (*start.overrides, *(f"{path}={value}" for path, value in params.items()))
        name = f"s{done + 1:03d}"
        fields = {
            "key": f"search/{scenario}/{name}",
            "index": len(state.records),
            "variant": name,
            "repetition": 1,
            "proposal": done + 1,
            "params": params,
            "overrides": list(overrides),
        }
        console.stage(f"search proposal {done + 1}/{budget}", ", ".join(f"{k}={v}" for k, v in params.items()))
        try:
            resolve_inputs(_options(spec, scenario_ref(spec_path, scenario), start.path, overrides, scale, Path(".")))
        except SpecError as exc:
            reason = f"invalid setting: {exc.issues[0].path} {exc.issues[0].message}" if exc.issues else str(exc)
            state.record(
                {
                    **fields,
                    "scenario": scenario,
                    "status": "refused",
                    "failed": True,
                    "reasons": [reason],
                    "kpis": {},
                    "run_path": "",
                }
            )
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            done += 1
            continue
        measured = run(fields, start.path, overrides)
        if measured is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            interrupted = True
            break
        value = _objective(measured, spec.primary_kpi)
        if value is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            console.warn(f"failed trial {name}: {'; '.join(measured['reasons']) or 'not measurable'} (kept as data)")
        else:
            study.tell(trial, value)
        done += 1
        if done < budget and spec.cooldown_s > 0:
            sleep(spec.cooldown_s)
    from hpabench.analysis.report.study_page import write_study_report

    report = write_study_report(state.path) if state.records else None
    if report is not None:
        console.info(f"search report: {report}")
    failed = sum(1 for r in state.records.values() if r.get("failed"))
    return StudyOutcome(state.path, done, budget, failed, interrupted, report)


__all__ = ["StudySpec", "run_search"]
