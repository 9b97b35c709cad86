"""Load phases and load changes, from the planned curve (pure functions).

A *phase* is a maximal run of consecutive planned rows with the same `stage` name, [start_s,
end_s) in load time (seconds since load start). A stage name that comes back later (a sawtooth)
gets a `#2`, `#3`... suffix so phase names stay unique within a run and equal across runs of the
same scenario. Phases are clipped to the measured duration; a phase that starts after it is
dropped and a clipped one is marked `truncated`.

A *load change* happens at a phase boundary whose mean planned level differs from the previous
phase's by more than `min_change_ratio` (default 10 %) of the larger of the two: direction `up`
or `down`. Levels are requests/s for open-model stages and users for closed ones (`unit`).

Without a planned curve, phases come from the `stage` column of the load frame; without either,
the whole run is one phase named `run` and there are no load changes.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from hpabench.analysis.rundata import numeric


@dataclass(frozen=True)
class Phase:
    """One load phase: [start_s, end_s), its mean planned level (None if unknown) and unit."""

    name: str
    stage: str
    start_s: float
    end_s: float
    level: float | None
    unit: str | None
    truncated: bool = False

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class LoadChange:
    """A step in planned load at `t_s` (start of phase `phase`): `before` → `after` levels."""

    t_s: float
    phase: str
    before: float
    after: float
    direction: Literal["up", "down"]

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before else math.inf


def planned_level(planned: pd.DataFrame) -> tuple[pd.Series, str | None]:
    """The planned level per row and its unit: `rps` where any row plans a rate, else `users`."""
    if planned.empty:
        return pd.Series([], dtype=float), None
    rps = pd.Series(numeric(planned, "rps"), index=planned.index) if "rps" in planned else None
    users = pd.Series(numeric(planned, "users"), index=planned.index) if "users" in planned else None
    if rps is not None and rps.notna().any():
        # Mixed scenarios (users stages then rps stages) keep each row's own level.
        if users is not None:
            return rps.fillna(users).astype(float), "rps"
        return rps.astype(float), "rps"
    if users is not None and users.notna().any():
        return users.astype(float), "users"
    return pd.Series(np.nan, index=planned.index, dtype=float), None


def _segments(stages: list[str]) -> list[tuple[str, int, int]]:
    """(stage, first row, last row + 1) for each run of equal consecutive stage names."""
    segments: list[tuple[str, int, int]] = []
    for i, stage in enumerate(stages):
        if segments and segments[-1][0] == stage:
            name, first, _ = segments[-1]
            segments[-1] = (name, first, i + 1)
        else:
            segments.append((stage, i, i + 1))
    return segments


def detect_phases(planned: pd.DataFrame, duration_s: float, load: pd.DataFrame | None = None) -> list[Phase]:
    """The run's phases (see the module docstring). `duration_s` is the measured load duration."""
    if not planned.empty and "stage" in planned and planned["t_s"].notna().any():
        frame = planned.sort_values("t_s", kind="stable").reset_index(drop=True)
        level, unit = planned_level(frame)
        t_s = frame["t_s"].to_numpy(dtype=float)
        step_s = float(np.median(np.diff(t_s))) if len(t_s) > 1 else 1.0
        stages = frame["stage"].astype(str).tolist()
    elif load is not None and not load.empty and "stage" in load:
        frame = load.sort_values("t_s", kind="stable").reset_index(drop=True)
        t_s = frame["t_s"].to_numpy(dtype=float)
        step_s = float(np.median(np.diff(t_s))) if len(t_s) > 1 else 1.0
        stages = frame["stage"].fillna("").astype(str).tolist()
        rps = pd.Series(numeric(frame, "planned_rps"))
        users = pd.Series(numeric(frame, "planned_users"))
        level, unit = (rps, "rps") if rps.notna().any() else (users, "users" if users.notna().any() else None)
    else:
        end = max(duration_s, 0.0)
        return [Phase("run", "run", 0.0, end, None, None)] if end > 0 else []

    seen: dict[str, int] = {}
    phases: list[Phase] = []
    segments = _segments(stages)
    for index, (stage, first, last) in enumerate(segments):
        start_s = float(t_s[first])
        end_s = float(t_s[segments[index + 1][1]]) if index + 1 < len(segments) else float(t_s[last - 1]) + step_s
        if duration_s > 0 and start_s >= duration_s:
            break
        truncated = duration_s > 0 and end_s > duration_s + 1e-9
        seen[stage] = seen.get(stage, 0) + 1
        name = stage if seen[stage] == 1 else f"{stage}#{seen[stage]}"
        values = level.iloc[first:last]
        mean = float(values.mean()) if values.notna().any() else None
        phases.append(
            Phase(name, stage, start_s, min(end_s, duration_s) if truncated else end_s, mean, unit, truncated)
        )
    return phases


def load_changes(phases: list[Phase], min_change_ratio: float = 0.1) -> list[LoadChange]:
    """Changes of planned level between consecutive phases (see the module docstring)."""
    changes: list[LoadChange] = []
    for previous, current in itertools.pairwise(phases):
        if previous.level is None or current.level is None:
            continue
        scale = max(abs(previous.level), abs(current.level))
        if scale == 0 or abs(current.level - previous.level) <= min_change_ratio * scale:
            continue
        direction: Literal["up", "down"] = "up" if current.level > previous.level else "down"
        changes.append(LoadChange(current.start_s, current.name, previous.level, current.level, direction))
    return changes
