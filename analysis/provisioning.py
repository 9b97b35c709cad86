"""Provisioning: cost, and under/over-provisioning against the replicas actually needed.

Cost (over the load window [0, duration_s), 1 s grid):
* `replica_seconds` = Σ existing web pods × 1 s (pods cost from creation to deletion);
* `cpu_request_core_seconds` = Σ over pods of existence seconds × CPU request (cores).

Demand. The replicas needed at time t are `d(t) = max(1, ceil(load(t) / capacity_rps_per_pod))`
where `load` is the *planned* rate when the scenario plans requests/s (what was asked for, free of
measurement noise), else the achieved rate smoothed over 5 s (closed model: users, not a rate),
and `capacity_rps_per_pod` is the per-pod throughput at which the SLO still holds. It comes from:
1. `manifest["capacity"]["rps_per_pod"]` — a calibration step measured it (preferred), or an
   explicit argument;
2. otherwise it is estimated from the run itself: over seconds with ≥ 1 ready pod in which the
   client p95 and error ratio met the SLO and ready replicas did not change, the 95th percentile
   of achieved_rps / ready replicas. That is a lower bound of the true capacity (pods are not
   necessarily saturated), so demand — and under-provisioning — can be overstated; the summary
   says which source was used.

SPEC Research elasticity metrics (Herbst et al., "Ready for Rain? A View from SPEC Research on the
Future of Cloud Metrics", 2016; supply s(t) = ready replicas, demand d(t), T = Σ Δt):
* accuracy_U = 100/T · Σ (d − s)⁺ / d · Δt   [% — average relative shortfall]
* accuracy_O = 100/T · Σ (s − d)⁺ / d · Δt   [% — average relative excess]
* timeshare_U = 100/T · Σ 1[s < d] · Δt      [% of time under-provisioned]
* timeshare_O = 100/T · Σ 1[s > d] · Δt      [% of time over-provisioned]
* instability = 100/(T−1) · Σ 1[sgn Δs ≠ sgn Δd] [% of steps where supply and demand move apart]
plus the amounts `under_replica_seconds` = Σ (d − s)⁺ and `over_replica_seconds` = Σ (s − d)⁺.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Capacity:
    """Per-pod capacity at the SLO (requests/s) and where it came from."""

    rps_per_pod: float | None
    source: str  # "manifest", "argument", "estimated", "unknown"
    samples: int = 0


@dataclass(frozen=True)
class Cost:
    """`replica_seconds` (pod·s), `cpu_request_core_seconds` (core·s), `mean_replicas`,
    `max_replicas` (existing pods), None when unknown."""

    replica_seconds: float | None
    cpu_request_core_seconds: float | None
    mean_replicas: float | None
    max_replicas: float | None


@dataclass(frozen=True)
class Elasticity:
    """SPEC RG elasticity metrics and amounts (see the module docstring); None when unknown."""

    under_accuracy_pct: float | None
    over_accuracy_pct: float | None
    under_timeshare_pct: float | None
    over_timeshare_pct: float | None
    instability_pct: float | None
    under_replica_seconds: float | None
    over_replica_seconds: float | None
    seconds: int


def estimate_capacity(
    achieved_rps: FloatArray,
    ready: FloatArray,
    p95_ms: FloatArray,
    error_ratio: FloatArray,
    slo_p95_ms: float,
    slo_error_rate: float,
    quantile: float = 0.95,
) -> Capacity:
    """Capacity estimated from the run (method 2 of the module docstring); per-second arrays."""
    stable = np.concatenate([[False], np.diff(ready) == 0]) if len(ready) else np.zeros(0, dtype=bool)
    ok = (
        np.isfinite(achieved_rps)
        & np.isfinite(ready)
        & (ready >= 1)
        & stable
        & np.isfinite(p95_ms)
        & (p95_ms <= slo_p95_ms)
        & (np.nan_to_num(error_ratio, nan=0.0) <= slo_error_rate)
        & (achieved_rps > 0)
    )
    if ok.sum() < 5:
        return Capacity(None, "unknown", int(ok.sum()))
    per_pod = achieved_rps[ok] / ready[ok]
    return Capacity(float(np.quantile(per_pod, quantile)), "estimated", int(ok.sum()))


def demand(load_rps: FloatArray, capacity_rps_per_pod: float | None) -> FloatArray:
    """Replicas needed per second: max(1, ceil(load / capacity)); NaN where load is unknown."""
    if capacity_rps_per_pod is None or not capacity_rps_per_pod > 0:
        return np.full(len(load_rps), np.nan)
    needed = np.ceil(np.asarray(load_rps, dtype=float) / capacity_rps_per_pod - 1e-9)
    return np.where(np.isfinite(needed), np.maximum(needed, 1.0), np.nan)


def cost(pods: FloatArray, cpu_request_cores: FloatArray | None = None, step_s: float = 1.0) -> Cost:
    """Cost of the per-second pod counts `pods` (and CPU requests in cores per second, if known)."""
    finite = np.isfinite(pods)
    if not finite.any():
        return Cost(None, None, None, None)
    core_seconds = None
    if cpu_request_cores is not None and np.isfinite(cpu_request_cores).any():
        core_seconds = float(np.nansum(cpu_request_cores) * step_s)
    return Cost(
        replica_seconds=float(pods[finite].sum() * step_s),
        cpu_request_core_seconds=core_seconds,
        mean_replicas=float(pods[finite].mean()),
        max_replicas=float(pods[finite].max()),
    )


def elasticity(supply: FloatArray, need: FloatArray, step_s: float = 1.0) -> Elasticity:
    """SPEC RG metrics over the seconds where both supply and demand are known."""
    both = np.isfinite(supply) & np.isfinite(need) & (need > 0)
    n = int(both.sum())
    if n == 0:
        return Elasticity(None, None, None, None, None, None, None, 0)
    s, d = supply[both], need[both]
    short = np.clip(d - s, 0, None)
    excess = np.clip(s - d, 0, None)
    instability = None
    if n > 1:
        apart = np.sign(np.diff(s)) != np.sign(np.diff(d))
        instability = 100.0 * float(apart.sum()) / (n - 1)
    return Elasticity(
        under_accuracy_pct=100.0 * float((short / d).mean()),
        over_accuracy_pct=100.0 * float((excess / d).mean()),
        under_timeshare_pct=100.0 * float((s < d).mean()),
        over_timeshare_pct=100.0 * float((s > d).mean()),
        instability_pct=instability,
        under_replica_seconds=float(short.sum() * step_s),
        over_replica_seconds=float(excess.sum() * step_s),
        seconds=n,
    )


def rolling_mean(values: FloatArray, window: int) -> FloatArray:
    """Trailing mean over `window` points ignoring NaN (NaN where the window has no value)."""
    if window <= 1 or len(values) == 0:
        return np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    sums = np.convolve(np.where(finite, values, 0.0), np.ones(window), mode="full")[: len(values)]
    counts = np.convolve(finite.astype(float), np.ones(window), mode="full")[: len(values)]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sums / counts
    return np.where(counts > 0, out, math.nan)
