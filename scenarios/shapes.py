"""Load shapes as pure functions of elapsed time (DESIGN.md convention 2): no clock, no I/O.

* `segments(scenario)` — the plan as segments in scenario seconds; `hpabench.scenarios.plan.compile_plan`
  turns them into the run's `Plan` (run seconds, compiled once per run).
* `target_at(scenario, t_s, time_scale=1.0)` — the target at `t_s` seconds into the load phase
  of a run compressed by `time_scale` (0.25 → four times shorter; levels unchanged). Returns a
  `Target(stage, users | rps)` or None once the plan is over.
* `planned_curve(scenario, time_scale, step_s)` — the plan sampled every `step_s` run seconds as a
  DataFrame `t_s, stage, users, rps` (users NaN in open-model stages, rps NaN in closed ones).
* `total_duration_s`, `stage_spans` (stage boundaries), `open_pool_users` (how many Locust users
  the open model needs), `format_planned_table` (the `hpabench scenarios show` table).

Locust's `LoadTestShape.tick()` and the open-model arrival scheduler only ever read a compiled `Plan`.
"""

from __future__ import annotations

import math

import pandas as pd

from hpabench.cliinput import table_issues, time_scale_issues
from hpabench.errors import SpecError
from hpabench.scenarios.plan import StageSpan, Target, compile_plan
from hpabench.scenarios.segments import Curve, Segment
from hpabench.scenarios.shape_kinds import shape_segments
from hpabench.scenarios.spec import WARMUP_STAGE, Scenario, Unit

__all__ = ["Curve", "Segment", "StageSpan", "Target", "planned_curve", "segments", "stage_spans", "target_at"]


def _stage_segments(scenario: Scenario, start_s: float, previous: Segment | None) -> list[Segment]:
    segments: list[Segment] = []
    for stage in scenario.stages:
        level = stage.level
        if stage.transition == "linear":
            begin = previous.level_at(previous.end_s - 1e-9) if previous and previous.unit == stage.unit else 0.0
            ramp_s = stage.ramp_s if stage.ramp_s is not None else stage.duration_s
        else:
            begin, ramp_s = level, 0.0
        segment = Segment(stage.name, start_s, start_s + stage.duration_s, stage.unit, "linear", begin, level, ramp_s)
        segments.append(segment)
        previous, start_s = segment, segment.end_s
    return segments


def segments(scenario: Scenario) -> tuple[Segment, ...]:
    """The plan as consecutive segments in scenario seconds (pure; `compile_plan` scales and keeps them)."""
    result: list[Segment] = []
    start_s = 0.0
    if scenario.warmup is not None:
        warm = scenario.warmup
        unit: Unit = "users" if warm.users is not None else "rps"
        level = float(warm.users if warm.users is not None else warm.rps or 0.0)
        result.append(Segment(WARMUP_STAGE, 0.0, warm.duration_s, unit, "linear", level, level))
        start_s = warm.duration_s
    previous = result[-1] if result else None
    if scenario.shape is not None:
        result += shape_segments(scenario.shape, start_s)
    else:
        result += _stage_segments(scenario, start_s, previous)
    return tuple(result)


def total_duration_s(scenario: Scenario, time_scale: float = 1.0) -> float:
    """Length of the whole plan in run seconds."""
    return segments(scenario)[-1].end_s * time_scale


def target_at(scenario: Scenario, t_s: float, time_scale: float = 1.0) -> Target | None:
    """The target `t_s` run seconds into the load phase; None at and after the end of the plan.
    (A one-off: code that asks every second holds a compiled `Plan` instead.)"""
    return compile_plan(scenario, time_scale).target_at(t_s)


def stage_spans(scenario: Scenario, time_scale: float = 1.0) -> list[StageSpan]:
    """Stage boundaries in run seconds (for `load_stage` events and report phases)."""
    return compile_plan(scenario, time_scale).stage_spans()


def peak_rps(scenario: Scenario) -> float:
    """The highest planned open-model rate (0 if the scenario is closed-model only)."""
    return max((s.peak_level for s in segments(scenario) if s.unit == "rps"), default=0.0)


def open_pool_users(scenario: Scenario) -> int:
    """Users the open model runs (all processes together): sized once for the peak rate.

    ceil(peak_rps · concurrency_s) clamped to [min_users, max_users]; 0 for closed-only plans.
    A constant pool avoids Locust stopping users (and their in-flight requests) as rates move.
    """
    peak = peak_rps(scenario)
    if peak <= 0 and not any(s.unit == "rps" for s in segments(scenario)):
        return 0
    arrivals = scenario.arrivals
    wanted = math.ceil(peak * arrivals.concurrency_s)
    return int(max(arrivals.min_users, min(arrivals.max_users, wanted)))


def planned_curve(scenario: Scenario, time_scale: float = 1.0, step_s: float = 1.0) -> pd.DataFrame:
    """The plan sampled at t_s = 0, step_s, 2·step_s, ... < total (run seconds). See module doc."""
    if time_scale <= 0 or step_s <= 0:
        raise ValueError("time_scale and step_s must be > 0")
    plan = compile_plan(scenario, time_scale)
    count = max(1, math.ceil(plan.duration_s / step_s - 1e-9))
    rows: dict[str, list[float | str]] = {"t_s": [], "stage": [], "users": [], "rps": []}
    for i in range(count):
        t_s = i * step_s
        target = plan.target_at(t_s)
        if target is None:
            break
        rows["t_s"].append(t_s)
        rows["stage"].append(target.stage)
        rows["users"].append(float(target.users) if target.users is not None else math.nan)
        rows["rps"].append(target.rps if target.rps is not None else math.nan)
    frame = pd.DataFrame(rows)
    return frame.astype({"t_s": "float64", "stage": "object", "users": "float64", "rps": "float64"})


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def format_planned_table(scenario: Scenario, time_scale: float = 1.0, step_s: float = 10.0) -> str:
    """A plain-text table of the planned curve with a bar per row (for `hpabench scenarios show`)."""
    issues = time_scale_issues(time_scale)
    if not issues:  # the row count depends on the (valid) time scale
        issues = table_issues(total_duration_s(scenario, time_scale), step_s)
    else:
        issues += table_issues(0.0, step_s)
    if issues:
        raise SpecError(issues)
    curve = planned_curve(scenario, time_scale, step_s)
    total = total_duration_s(scenario, time_scale)
    peak_users = float(curve["users"].max()) if curve["users"].notna().any() else 0.0
    peak = float(curve["rps"].max()) if curve["rps"].notna().any() else 0.0
    lines = [
        f"{scenario.name}: {scenario.description}",
        f"duration {_clock(total)} ({total:g} s at time scale {time_scale:g}); "
        + ", ".join(f"{s.name} {s.start_s:g}-{s.end_s:g} s" for s in stage_spans(scenario, time_scale)),
        "",
        f"{'t':>6} {'t_s':>8}  {'stage':<14} {'users':>7} {'rps':>9}  load",
    ]
    width = 40
    for t_s, stage, users, rps in zip(
        curve["t_s"].tolist(), curve["stage"].tolist(), curve["users"].tolist(), curve["rps"].tolist(), strict=True
    ):
        if not math.isnan(users):
            cells = f"{int(users):>7d} {'-':>9}"
            bar = "#" * (round(width * users / peak_users) if peak_users else 0)
        else:
            cells = f"{'-':>7} {rps:>9.1f}"
            bar = "=" * (round(width * rps / peak) if peak else 0)
        lines.append(f"{_clock(t_s):>6} {t_s:>8.1f}  {stage!s:<14} {cells}  {bar}")
    lines.append(f"{_clock(total):>6} {total:>8.1f}  (end)")
    return "\n".join(lines)
