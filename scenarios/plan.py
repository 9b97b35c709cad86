"""`Plan`: a scenario compiled once for one run — its segments in *run* seconds, its length, its
stages, the open model's user pool. Pure: no clock, no I/O.

    plan = compile_plan(scenario, time_scale=0.25)
    plan.target_at(12.5)      # Target(stage, users | rps) or None after the end
    plan.duration_s           # run seconds
    plan.per_second()         # the plan of every run second k, sampled at k + 0.5

The pipeline compiles the plan once and hands it to the driver, which writes `planned.parquet`
and the planned columns of `load.parquet` from the same `per_second()` sampling (the middle of
each measured second) and ships it to the Locust processes as plain JSON (`to_json` /
`from_json`): they never rebuild or re-validate the scenario.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import pandas as pd

from hpabench.scenarios.segments import Segment
from hpabench.scenarios.spec import Scenario

SAMPLE_OFFSET_S = 0.5
"""Run second k is planned at k + 0.5: the middle of the second its measurements cover."""


@dataclass(frozen=True)
class Target:
    """What the load should be now: `users` (closed model) or `rps` (open model), never both."""

    stage: str
    users: int | None
    rps: float | None

    @property
    def unit(self) -> str:
        return "users" if self.users is not None else "rps"


@dataclass(frozen=True)
class StageSpan:
    """A named stage on [start_s, end_s) run seconds, with its unit and peak level."""

    name: str
    start_s: float
    end_s: float
    unit: str
    peak: float
    level: float  # the stage's nominal level: where a step/ramp goes, a shape's peak


def _scaled(segment: Segment, time_scale: float) -> Segment:
    return replace(
        segment,
        start_s=segment.start_s * time_scale,
        end_s=segment.end_s * time_scale,
        ramp_s=segment.ramp_s * time_scale,
        interval_s=segment.interval_s * time_scale,
    )


@dataclass(frozen=True)
class Plan:
    """See the module docstring. `segments` are consecutive, in run seconds."""

    scenario_name: str
    time_scale: float
    segments: tuple[Segment, ...]
    pool_users: int

    @property
    def duration_s(self) -> float:
        return self.segments[-1].end_s if self.segments else 0.0

    def target_at(self, t_s: float) -> Target | None:
        """The target `t_s` run seconds into the load phase; None at and after the end."""
        t = max(0.0, t_s)
        for segment in self.segments:
            if t < segment.end_s:
                level = max(0.0, segment.level_at(t))
                if segment.unit == "users":
                    return Target(segment.name, math.floor(level + 0.5), None)
                return Target(segment.name, None, level)
        return None

    def stage_spans(self) -> list[StageSpan]:
        return [
            StageSpan(
                s.name, s.start_s, s.end_s, s.unit, s.peak_level, s.end_level if s.curve == "linear" else s.peak_level
            )
            for s in self.segments
        ]

    def per_second(self) -> pd.DataFrame:
        """`t_s` (= k), `stage`, `users`, `rps` for every run second k of the plan, sampled at
        k + SAMPLE_OFFSET_S (users NaN in open-model seconds, rps NaN in closed ones)."""
        rows: dict[str, list[Any]] = {"t_s": [], "stage": [], "users": [], "rps": []}
        for k in range(max(1, math.ceil(self.duration_s - 1e-9))):
            target = self.target_at(k + SAMPLE_OFFSET_S)
            if target is None:
                break
            rows["t_s"].append(float(k))
            rows["stage"].append(target.stage)
            rows["users"].append(float(target.users) if target.users is not None else math.nan)
            rows["rps"].append(target.rps if target.rps is not None else math.nan)
        frame = pd.DataFrame(rows)
        return frame.astype({"t_s": "float64", "stage": "object", "users": "float64", "rps": "float64"})

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario_name": self.scenario_name,
            "time_scale": self.time_scale,
            "pool_users": self.pool_users,
            "segments": [{**asdict(s), "rates": list(s.rates)} for s in self.segments],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        """Inverse of `to_json`; plain data, no validation (the plan was validated when compiled)."""
        segments = tuple(Segment(**{**s, "rates": tuple(s.get("rates") or ())}) for s in data["segments"])
        return cls(str(data["scenario_name"]), float(data["time_scale"]), segments, int(data["pool_users"]))


def compile_plan(scenario: Scenario, time_scale: float = 1.0) -> Plan:
    """The plan of `scenario` at `time_scale` (< 1 compresses time, never the levels)."""
    from hpabench.scenarios.shapes import open_pool_users, segments

    if not time_scale > 0:
        raise ValueError("time_scale must be > 0")
    return Plan(
        scenario.name,
        time_scale,
        tuple(_scaled(s, time_scale) for s in segments(scenario)),
        open_pool_users(scenario),
    )
