"""The run-validity guard of an in-cluster load run: is the load we meant the load that ran?

Pure: the merged `load.parquet` frame and what the pod watch saw in, reasons (evidence) out. A run
is invalid — flag `load_invalid`, exit code `EXIT_LOAD_INVALID`, a gate refuses to judge it — when

* a worker pod went missing (deleted, failed, never ran) or restarted during the load;
* a generator process used more than `CPU_LIMIT` (90 %) of a core in any planned second
  (`generator_cpu_max`, recorded by every Locust process itself);
* the achieved load is more than `SHORTFALL` (5 %) below the intended one over the planned seconds:
  open model `achieved_rps` vs `intended_rps`, closed model `users` vs `planned_users`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from hpabench.errors import FLAG_LOAD_INVALID

__all__ = ["FLAG_LOAD_INVALID", "validity_reasons", "worker_evidence"]

CPU_LIMIT = 0.9
SHORTFALL = 0.05


def load_shortfall(load: pd.DataFrame) -> str | None:
    """The evidence of a shortfall > SHORTFALL over the planned seconds, or None."""
    planned = load[load["stage"].notna()] if "stage" in load else load
    if planned.empty:
        return "no planned second was recorded"
    intended = planned["intended_rps"].dropna() if "intended_rps" in planned else pd.Series(dtype=float)
    if len(intended) and intended.sum() > 0:
        achieved = float(planned.loc[intended.index, "achieved_rps"].fillna(0).sum())
        ratio = achieved / float(intended.sum())
        what = f"achieved {achieved:.0f} of {float(intended.sum()):.0f} intended requests"
    else:
        wanted = float(planned["planned_users"].fillna(0).sum()) if "planned_users" in planned else 0.0
        if wanted <= 0:
            return None
        had = float(planned["users"].fillna(0).sum())
        ratio = had / wanted
        what = f"ran {had:.0f} of {wanted:.0f} planned user-seconds"
    if ratio < 1 - SHORTFALL:
        return f"load {1 - ratio:.1%} below intended ({what})"
    return None


def generator_overload(load: pd.DataFrame) -> str | None:
    if "generator_cpu_max" not in load or load.empty:
        return None
    planned = load[load["stage"].notna()] if "stage" in load else load
    hot = planned[planned["generator_cpu_max"] > CPU_LIMIT]
    if hot.empty:
        return None
    peak = float(hot["generator_cpu_max"].max())
    return f"a generator above {CPU_LIMIT:.0%} CPU in {len(hot)} planned seconds (peak {peak:.0%} of a core)"


def validity_reasons(load: pd.DataFrame, pod_evidence: list[str]) -> list[str]:
    """Every reason the run is invalid (empty = valid); see the module docstring."""
    reasons = list(pod_evidence)
    for check in (generator_overload, load_shortfall):
        found = check(load)
        if found:
            reasons.append(found)
    return reasons


def worker_evidence(pods: list[dict[str, Any]], expected: int) -> list[str]:
    """What the pod list shows against `expected` worker pods: missing, failed or restarted ones."""
    evidence = []
    alive = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    if len(alive) < expected:
        evidence.append(f"{expected - len(alive)} of {expected} worker pods missing")
    for pod in pods:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
        if restarts:
            evidence.append(f"worker pod {name} restarted {restarts} time(s)")
        if status.get("phase") == "Failed":
            evidence.append(f"worker pod {name} failed ({status.get('reason') or 'no reason given'})")
    return evidence
