"""Traffic fairness across web pods, from the per-pod request rate series (`pod_rps`).

Input: a long frame `t_s`, `pod`, `value` (requests/s of that pod, as Prometheus computes it
over the profile's rate window) and each pod's `ready_t_s`.

* `jain_index`: Jain's fairness index J = (Σx)² / (n·Σx²) of the per-pod rates at each sample
  time with ≥ 2 pods serving, averaged over those times. 1.0 = perfectly even; 1/n = one pod
  takes everything.
* `max_share_deviation`: max over pods of |actual share / fair share − 1| where, over the
  samples with ≥ 2 pods, a pod's actual share is its Σ rate / Σ all rates and its fair share
  Σ (1/n_t) over the samples it served in. 0 = exactly fair.
* `time_to_fair_share_s`, per pod that became ready after the load started: first sample time
  ≥ ready at which the pod's rate reaches `fair_fraction` (default 80 %) of the mean rate of
  the pods serving then, minus its ready time. It includes the rate window's smoothing (a pod
  at its fair share instantly still shows a rising rate over the window), so compare it across
  runs with the same profile rather than as an absolute. None for a pod that never got there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Fairness:
    """See the module docstring. `per_pod_share` maps pod → actual share of requests (0..1)."""

    jain_index: float | None
    max_share_deviation: float | None
    time_to_fair_share_s: dict[str, float | None] = field(default_factory=dict)
    per_pod_share: dict[str, float] = field(default_factory=dict)

    @property
    def mean_time_to_fair_share_s(self) -> float | None:
        values = [v for v in self.time_to_fair_share_s.values() if v is not None]
        return sum(values) / len(values) if values else None

    @property
    def new_pods_never_fair(self) -> int:
        return sum(1 for v in self.time_to_fair_share_s.values() if v is None)


def fairness(pod_rps: pd.DataFrame, ready_t_s: dict[str, float], fair_fraction: float = 0.8) -> Fairness:
    """Fairness KPIs (see the module docstring). Pods missing from `ready_t_s` still count for
    shares; only pods in it (ready at t ≥ 0) get a time to fair share."""
    if pod_rps.empty or "pod" not in pod_rps:
        return Fairness(None, None)
    frame = pod_rps.dropna(subset=["value"])
    frame = frame[frame["value"] >= 0]
    wide = frame.pivot_table(index="t_s", columns="pod", values="value", aggfunc="mean").sort_index()
    if wide.empty:
        return Fairness(None, None)
    values = wide.to_numpy(dtype=float)
    serving = np.isfinite(values) & (values > 0)
    n_serving = serving.sum(axis=1)
    multi = n_serving >= 2
    jain = None
    max_dev = None
    shares: dict[str, float] = {}
    if multi.any():
        x = np.where(serving, values, 0.0)[multi]
        totals = x.sum(axis=1)
        jain = float(np.mean(totals**2 / (n_serving[multi] * (x**2).sum(axis=1))))
        actual = x.sum(axis=0) / x.sum()
        fair = (serving[multi] / n_serving[multi][:, None]).sum(axis=0) / multi.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            deviation = np.abs(actual / fair - 1.0)
        deviation = deviation[np.isfinite(deviation) & (fair > 0)]
        max_dev = float(deviation.max()) if len(deviation) else None
        shares = {str(pod): float(share) for pod, share in zip(wide.columns, actual, strict=True)}
    times = wide.index.to_numpy(dtype=float)
    mean_rate = np.where(n_serving > 0, np.where(serving, values, 0.0).sum(axis=1) / np.maximum(n_serving, 1), np.nan)
    to_fair: dict[str, float | None] = {}
    for pod, ready in ready_t_s.items():
        if not math.isfinite(ready) or ready < 0 or pod not in wide.columns:
            continue
        column = values[:, list(wide.columns).index(pod)]
        reached = (times >= ready) & np.isfinite(column) & (column >= fair_fraction * mean_rate) & (n_serving >= 2)
        hits = np.nonzero(reached)[0]
        to_fair[pod] = float(times[hits[0]] - ready) if len(hits) else None
    return Fairness(jain, max_dev, to_fair, shares)
