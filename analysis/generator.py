"""Generator health: did the load generator deliver what the scenario asked for?

From the driver's per-second `load` frame:
* `achieved_ratio` = Σ achieved_rps / Σ intended_rps over seconds with an intended rate (open
  model); closed model: Σ users / Σ planned_users. None when nothing was intended.
* `behind_s` = seconds in which the achieved rate, averaged over a trailing 5 s, was below 95 %
  of the intended rate averaged the same way (the driver's `generator_behind` rule).
* `cpu_max` = max of `generator_cpu_max` (fraction of one core); `overloaded_s` = seconds with
  `generator_overloaded` true.
* `flags`: `generator_overloaded` / `generator_behind` when any second was, or the manifest/
  events already say so; the manifest's other flags pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hpabench.analysis.provisioning import rolling_mean
from hpabench.analysis.rundata import numeric

BEHIND_RATIO = 0.95
BEHIND_WINDOW_S = 5


@dataclass(frozen=True)
class GeneratorHealth:
    """See the module docstring."""

    achieved_ratio: float | None
    behind_s: int
    cpu_max: float | None
    overloaded_s: int
    flags: tuple[str, ...]


def generator_health(
    load: pd.DataFrame, known_flags: Iterable[str] = (), event_kinds: Iterable[str] = ()
) -> GeneratorHealth:
    """Health of the generator over the `load` frame (see the module docstring)."""
    flags = set(known_flags)
    kinds = set(event_kinds)
    for kind in ("generator_overloaded", "generator_behind"):
        if kind in kinds:
            flags.add(kind)
    if load.empty:
        return GeneratorHealth(None, 0, None, 0, tuple(sorted(flags)))
    intended = numeric(load, "intended_rps")
    achieved = numeric(load, "achieved_rps")
    ratio = None
    behind_s = 0
    open_model = np.isfinite(intended) & (intended > 0)
    if open_model.any():
        ratio = float(np.nansum(achieved[open_model]) / intended[open_model].sum())
        smooth_intended = rolling_mean(np.where(open_model, intended, np.nan), BEHIND_WINDOW_S)
        smooth_achieved = rolling_mean(np.where(open_model, achieved, np.nan), BEHIND_WINDOW_S)
        behind = open_model & (np.nan_to_num(smooth_achieved) < BEHIND_RATIO * np.nan_to_num(smooth_intended))
        behind_s = int(behind.sum())
    else:
        users = numeric(load, "users")
        planned = numeric(load, "planned_users")
        closed = np.isfinite(planned) & (planned > 0)
        if closed.any():
            ratio = float(np.nansum(users[closed]) / planned[closed].sum())
    cpu = numeric(load, "generator_cpu_max")
    cpu_max = float(np.nanmax(cpu)) if np.isfinite(cpu).any() else None
    overloaded = load.get("generator_overloaded")
    overloaded_s = int(overloaded.fillna(False).astype(bool).sum()) if overloaded is not None else 0
    if overloaded_s:
        flags.add("generator_overloaded")
    if behind_s:
        flags.add("generator_behind")
    return GeneratorHealth(ratio, behind_s, cpu_max, overloaded_s, tuple(sorted(flags)))
