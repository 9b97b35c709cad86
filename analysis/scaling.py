"""Autoscaling timing, lag breakdown and stability (pure functions over frames and arrays).

For each load change at `t0` (see `phases.load_changes`), looking only at [t0, t_next) where
`t_next` is the next change or the end of the measured run:

* `reaction_s` = first HPA sync in the window whose `desired_replicas` moves in the change's
  direction (above `current_replicas` for `up`, below for `down`) − t0. None: no such sync.
* `ready_s` (time to ready capacity) = first second ≥ that sync at which ready replicas reach the
  peak (up) / trough (down) desired count of the window − t0. None: never reached.
* `settling_s` = last change of ready replicas in the window − t0, if the window then stays
  unchanged for at least `quiet_s` (default: two HPA sync periods); 0 if ready replicas never
  changed; None if they were still changing when the window ended.
* the lag breakdown, a partition of `ready_s` (all seconds):
  - `sync_wait_s`: from the change to the first HPA sync after it — the controller's cadence;
  - `metrics_s`: from that sync to the first sync whose *raw* recommendation moved — the
    controller ran, but its metrics (stale by `metrics_age_s`, averaged over the metrics window)
    did not show the change yet;
  - `hold_s`: from that raw recommendation to the first sync that actually rescaled —
    stabilization window, scale policies, limits;
  - `pod_start_s`: from the rescale until the ready replicas reached the desired count — pod
    creation, start, readiness probe.
  `metrics_age_s` (the age of the metrics the rescale used, from the HPA timeline) is reported
  beside them.

Stability over the whole run: `scale_events` (desired-replica changes), `reversals` (a rescale
opposite to the previous one), `flaps` (reversals with no load change between the two
rescales), `replica_changes` (Σ|Δ desired|) and `oscillation_index` = Σ|Δ desired| / the least
movement that starts at the first count, visits the lowest and highest counts and ends at the
last one: 1.0 means no extra movement (one clean rise, or rise and fall), more is flapping; None
if the desired count never changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from hpabench.analysis.phases import LoadChange
from hpabench.analysis.rundata import numeric

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ChangeResponse:
    """How the autoscaler answered one load change (seconds since the change; None = not seen)."""

    t_s: float
    phase: str
    direction: Literal["up", "down"]
    before: float
    after: float
    window_s: float
    replicas_before: float | None
    replicas_target: float | None
    reaction_s: float | None
    ready_s: float | None
    settling_s: float | None
    metrics_s: float | None
    sync_wait_s: float | None
    hold_s: float | None
    pod_start_s: float | None
    metrics_age_s: float | None
    capped: bool


@dataclass(frozen=True)
class Stability:
    """Replica stability over a run (see the module docstring)."""

    scale_events: int
    scale_ups: int
    scale_downs: int
    reversals: int
    flaps: int
    replica_changes: float
    oscillation_index: float | None
    max_desired: float | None
    min_desired: float | None


def _moves(direction: str, desired: pd.Series, current: pd.Series) -> pd.Series:
    return desired > current if direction == "up" else desired < current


def respond(
    change: LoadChange,
    window_end_s: float,
    hpa: pd.DataFrame,
    at_s: FloatArray,
    ready: FloatArray,
    quiet_s: float = 30.0,
) -> ChangeResponse:
    """The response to one load change (see the module docstring). `hpa` is the HPA frame
    (`t_s`, `current_replicas`, `desired_replicas`, `raw_recommendation`, `metrics_age_s`,
    `scaling_limited`); `at_s`/`ready` the per-second ready-replica timeline."""
    t0, direction = change.t_s, change.direction
    in_window = (at_s >= t0) & (at_s < window_end_s)
    ready_in = ready[in_window]
    times_in = at_s[in_window]
    before_mask = at_s < t0
    replicas_before = (
        float(ready[before_mask][-1]) if before_mask.any() and np.isfinite(ready[before_mask][-1]) else None
    )
    if replicas_before is None and len(ready_in) and np.isfinite(ready_in[0]):
        replicas_before = float(ready_in[0])

    syncs = hpa[(hpa["t_s"] >= t0) & (hpa["t_s"] < window_end_s)] if not hpa.empty else hpa
    reaction_s = ready_s = metrics_s = sync_wait_s = hold_s = pod_start_s = metrics_age_s = None
    target: float | None = None
    capped = False
    if not syncs.empty and syncs["desired_replicas"].notna().any():
        desired = pd.Series(numeric(syncs, "desired_replicas"), index=syncs.index)
        current = pd.Series(numeric(syncs, "current_replicas"), index=syncs.index)
        moved = _moves(direction, desired, current)
        if "scaling_limited" in syncs:
            capped = bool(syncs["scaling_limited"].fillna(False).astype(bool).any())
        if moved.any():
            rescale = syncs[moved].iloc[0]
            t_rescale = float(rescale["t_s"])
            reaction_s = t_rescale - t0
            target = float(desired.max() if direction == "up" else desired.min())
            age = numeric(syncs[moved].iloc[:1], "metrics_age_s")[0]
            metrics_age_s = float(age) if np.isfinite(age) else None
            t_first_sync = float(syncs["t_s"].iloc[0])
            sync_wait_s = t_first_sync - t0
            raw = pd.Series(numeric(syncs, "raw_recommendation"), index=syncs.index)
            raw_moved = _moves(direction, raw, current) & (syncs["t_s"] <= t_rescale)
            if raw_moved.any():
                t_raw = float(syncs[raw_moved].iloc[0]["t_s"])
                metrics_s = t_raw - t_first_sync
                hold_s = t_rescale - t_raw
            after = (times_in >= t_rescale) & np.isfinite(ready_in)
            reached = ready_in >= target if direction == "up" else ready_in <= target
            hits = np.nonzero(after & reached)[0]
            if len(hits):
                ready_s = float(times_in[hits[0]]) - t0
                pod_start_s = ready_s - reaction_s
    settling_s = _settling(times_in, ready_in, t0, window_end_s, quiet_s)
    return ChangeResponse(
        t_s=t0,
        phase=change.phase,
        direction=direction,
        before=change.before,
        after=change.after,
        window_s=window_end_s - t0,
        replicas_before=replicas_before,
        replicas_target=target,
        reaction_s=reaction_s,
        ready_s=ready_s,
        settling_s=settling_s,
        metrics_s=metrics_s,
        sync_wait_s=sync_wait_s,
        hold_s=hold_s,
        pod_start_s=pod_start_s,
        metrics_age_s=metrics_age_s,
        capped=capped,
    )


def _settling(times: FloatArray, ready: FloatArray, t0: float, window_end_s: float, quiet_s: float) -> float | None:
    finite = np.isfinite(ready)
    times, ready = times[finite], ready[finite]
    if len(ready) < 2:
        return None if len(ready) == 0 else 0.0
    changed = np.nonzero(np.diff(ready) != 0)[0]
    if len(changed) == 0:
        return 0.0
    last_change_s = float(times[changed[-1] + 1])
    if window_end_s - last_change_s < quiet_s:
        return None
    return last_change_s - t0


def responses(
    changes: list[LoadChange],
    run_end_s: float,
    hpa: pd.DataFrame,
    at_s: FloatArray,
    ready: FloatArray,
    quiet_s: float = 30.0,
) -> list[ChangeResponse]:
    """`respond` for every change, each window ending at the next change or `run_end_s`."""
    out = []
    for index, change in enumerate(changes):
        end = changes[index + 1].t_s if index + 1 < len(changes) else run_end_s
        if change.t_s >= run_end_s:
            break
        out.append(respond(change, end, hpa, at_s, ready, quiet_s))
    return out


def stability(hpa: pd.DataFrame, change_times_s: list[float]) -> Stability:
    """Stability of the desired replica count over the run (see the module docstring)."""
    if hpa.empty or hpa["desired_replicas"].notna().sum() == 0:
        return Stability(0, 0, 0, 0, 0, 0.0, None, None, None)
    frame = hpa.dropna(subset=["desired_replicas"]).sort_values("t_s", kind="stable")
    desired = frame["desired_replicas"].to_numpy(dtype=float)
    times = frame["t_s"].to_numpy(dtype=float)
    first_current = pd.to_numeric(frame["current_replicas"], errors="coerce").iloc[0]
    start = float(first_current) if pd.notna(first_current) else desired[0]
    levels = np.concatenate([[start], desired])
    steps = np.diff(levels)
    moved = np.nonzero(steps != 0)[0]
    signs = np.sign(steps[moved])
    move_times = times[moved]
    reversals = flaps = 0
    for i in range(1, len(signs)):
        if signs[i] != signs[i - 1]:
            reversals += 1
            between = [t for t in change_times_s if move_times[i - 1] < t <= move_times[i]]
            if not between:
                flaps += 1
    total = float(np.abs(steps).sum())
    low, high, first, last = float(levels.min()), float(levels.max()), float(levels[0]), float(levels[-1])
    least = (high - low) + min(abs(first - low) + abs(high - last), abs(high - first) + abs(last - low))
    return Stability(
        scale_events=len(moved),
        scale_ups=int((signs > 0).sum()),
        scale_downs=int((signs < 0).sum()),
        reversals=reversals,
        flaps=flaps,
        replica_changes=total,
        oscillation_index=total / least if least > 0 else None,
        max_desired=float(levels.max()),
        min_desired=float(levels.min()),
    )


def mean_of(values: list[float | None]) -> float | None:
    """Mean of the non-None values (None if there are none)."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    return sum(present) / len(present) if present else None
