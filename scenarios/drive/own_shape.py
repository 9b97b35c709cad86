"""A user's own LoadTestShape as the run's plan (parent side; never imports Locust).

When `--locustfile` brings a LoadTestShape, *the shape is the plan*: hpabench does not drive it
through the catalogue scenario, it tabulates it. `probe_locustfile(path, max_duration_s)` runs
`shape_probe.py` in a subprocess (Locust's monkey-patching stays there) and returns a
`ShapePlan` — the shape's user target for every run second until its `tick()` returns None, and
its stage boundaries — or None when the file brings no shape.

The plan then replaces the scenario everywhere a plan is read: `planned.parquet`
(`planned_frame`), the driver's duration, `load_stage` events and progress line (`spans`,
`stage_at`), `load.parquet`'s `stage` / `planned_users` (`apply_to_load`, after the merge), the
manifest's `scenario` entry (`scenario_entry`: the shape and locustfile by name) and
`load_plan`. The run is bounded by the explicit `--max-duration`, not the scenario's length.

`--time-scale` does not apply: the shape runs on its own clock (Locust's `get_run_time()`), so
compressing it would need the user's code to cooperate; a time scale other than 1 is refused.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hpabench.errors import SpecError, SpecIssue
from hpabench.scenarios.shapes import StageSpan

PROBE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ShapePlan:
    """A LoadTestShape tabulated per run second (see the module docstring)."""

    shape: str
    locustfile: str
    duration_s: float
    ends: bool  # the shape ends by itself within the probe's bound
    rows: tuple[dict[str, Any], ...]
    stages: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "source": "locustfile",
            "shape": self.shape,
            "locustfile": self.locustfile,
            "duration_s": self.duration_s,
            "ends": self.ends,
            "stages": list(self.stages),
            "time_scale": "not applied (the shape runs on its own clock)",
        }


def probe_locustfile(locustfile: Path, max_duration_s: float) -> ShapePlan | None:
    """The shape's plan, or None without one; SpecError (exit 2) if the file cannot be probed."""
    with tempfile.TemporaryDirectory(prefix="hpabench-probe-") as folder:
        out = Path(folder) / "plan.json"
        command = [
            sys.executable, "-m", "hpabench.scenarios.drive.shape_probe", "--locustfile", str(locustfile),
            "--max-duration-s", str(max_duration_s), "--out", str(out),
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False, cwd=folder
            )
        except subprocess.TimeoutExpired:
            raise SpecError(SpecIssue(str(locustfile), "", "probing its LoadTestShape took too long")) from None
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise SpecError(SpecIssue(str(locustfile), "", "cannot load its LoadTestShape: " + " | ".join(tail)))
        data = json.loads(out.read_text())
    if not data.get("shape"):
        return None
    return ShapePlan(
        shape=str(data["shape"]),
        locustfile=str(data["locustfile"]),
        duration_s=float(data["duration_s"]),
        ends=bool(data["ends"]),
        rows=tuple(data["rows"]),
        stages=tuple(data["stages"]),
    )


def admit_shape(locustfile: Path, max_duration_s: float | None, time_scale: float, bound_s: float) -> ShapePlan | None:
    """The locustfile's shape plan (None without a shape); SpecError (exit 2) when a shape run
    lacks an explicit `--max-duration` or asks for a `--time-scale` (see the module docstring)."""
    plan = probe_locustfile(locustfile, min(max_duration_s or bound_s, bound_s))
    if plan is None:
        return None
    issues = []
    if max_duration_s is None:
        issues.append(
            SpecIssue("--max-duration", "", f"{locustfile.name} brings its own LoadTestShape ({plan.shape}); "
                      "bound the run with --max-duration SECONDS")
        )  # fmt: skip
    if time_scale != 1.0:
        issues.append(
            SpecIssue("--time-scale", "", f"does not apply to a locustfile's own LoadTestShape ({plan.shape}): "
                      "it runs on its own clock")
        )  # fmt: skip
    if issues:
        raise SpecError(issues, headline="invalid command-line values:")
    return plan


def planned_frame(plan: ShapePlan) -> pd.DataFrame:
    """planned.parquet rows: t_s, stage, users, rps (NaN: a shape plans users)."""
    frame = pd.DataFrame(list(plan.rows), columns=["t_s", "stage", "users"])
    frame["users"] = frame["users"].astype(float)
    frame["rps"] = math.nan
    return frame


def spans(plan: ShapePlan) -> list[StageSpan]:
    """The shape's stages as driver spans (`load_stage` events at their starts)."""
    found = []
    for stage in plan.stages:
        users = [r["users"] for r in plan.rows if stage["start_s"] <= r["t_s"] < stage["end_s"]]
        peak = float(max(users, default=0))
        last = float(users[-1] if users else 0)
        found.append(StageSpan(stage["name"], stage["start_s"], stage["end_s"], "users", peak, last))
    return found


def stage_at(plan: ShapePlan, elapsed_s: float) -> tuple[str, int] | None:
    """(stage, planned users) at `elapsed_s` run seconds, None after the shape's end."""
    index = int(elapsed_s)
    if index < 0 or index >= len(plan.rows):
        return None
    row = plan.rows[index]
    return str(row["stage"]), int(row["users"])


def apply_to_load(data_dir: Path, plan: ShapePlan, t0: float) -> None:
    """Rewrite load.parquet's `stage` / `planned_users` / `planned_rps` from the shape's plan
    (`t0`: the load start, unix s; row k covers [t0 + k, t0 + k + 1))."""
    path = Path(data_dir) / "load.parquet"
    if not path.exists():
        return
    load = pd.read_parquet(path)
    if load.empty or "ts" not in load:
        return
    by_second = {int(r["t_s"]): r for r in plan.rows}
    seconds = (load["ts"] - t0).round().astype(int)
    load["stage"] = [str(by_second[s]["stage"]) if s in by_second else "after-shape" for s in seconds]
    load["planned_users"] = [float(by_second[s]["users"]) if s in by_second else math.nan for s in seconds]
    load["planned_rps"] = math.nan
    load.to_parquet(path, index=False)


def scenario_entry(plan: ShapePlan, scenario: dict[str, Any]) -> dict[str, Any]:
    """The manifest's `scenario` for a shape run: named after the shape and its locustfile."""
    entry = dict(scenario)
    entry.update(
        name=f"{plan.shape} ({Path(plan.locustfile).name})",
        description=f"the LoadTestShape {plan.shape} of {plan.locustfile} (its own plan, {plan.duration_s:g} s)",
        stages=[{"name": s["name"], "duration_s": s["end_s"] - s["start_s"]} for s in plan.stages],
    )
    return entry
