"""Per-second timelines of a run (pure functions over RunData frames), on the grid
`t_s = 0, 1, …, ceil(duration_s) - 1` (seconds since the load started).

Sources, best first (each function documents its fallbacks):

* ready replicas — web `pod_ready`/`pod_unready`/`pod_crashed`/`pod_deleted` events (exact), else
  the pods frame (`ready_ts` → `deleted_ts`), else Prometheus `ready_replicas` (sampled at the
  scrape interval), else the HPA's `ready_pods`;
* existing pods (cost) — the pods frame (`created_ts` → `deleted_ts`), else `pod_created` /
  `pod_deleted` events, else ready replicas;
* desired replicas — the HPA frame (a step function from each sync), else Prometheus
  `hpa_desired_replicas`, else `hpa_rescale` events;
* offered load — `intended_rps` (open model), else `achieved_rps`.

A value a source cannot tell is NaN; callers turn NaN into null KPIs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from hpabench.analysis.latency import ClientHistograms, route_rows
from hpabench.analysis.phases import planned_level
from hpabench.analysis.rundata import RunData, prom_frame

FloatArray = npt.NDArray[np.float64]

READY_KINDS = {"pod_ready": 1, "pod_unready": 0, "pod_crashed": 0, "pod_deleted": 0}


def grid(duration_s: float) -> FloatArray:
    """0, 1, … up to (not including) `duration_s` (at least empty)."""
    return np.arange(0.0, max(math.ceil(duration_s - 1e-9), 0), 1.0)


def step_values(
    t_s: Iterable[float], values: Iterable[float], at_s: FloatArray, before: float = math.nan
) -> FloatArray:
    """A step function sampled at `at_s`: the last value whose time is ≤ each point (`before`
    before the first). `t_s` need not be sorted."""
    times = np.asarray(list(t_s), dtype=float)
    vals = np.asarray(list(values), dtype=float)
    keep = np.isfinite(times)
    times, vals = times[keep], vals[keep]
    order = np.argsort(times, kind="stable")
    times, vals = times[order], vals[order]
    index = np.searchsorted(times, at_s, side="right") - 1
    out = np.where(index >= 0, vals[np.clip(index, 0, None)] if len(vals) else before, before)
    return np.asarray(out, dtype=float)


def interval_count(starts: FloatArray, ends: FloatArray, at_s: FloatArray) -> FloatArray:
    """How many [start, end) intervals contain each point (NaN start: never; NaN end: open)."""
    starts = np.asarray(starts, dtype=float)
    ends = np.where(np.isnan(ends), np.inf, np.asarray(ends, dtype=float))
    valid = ~np.isnan(starts)
    starts, ends = np.sort(starts[valid]), np.sort(ends[valid])
    opened = np.searchsorted(starts, at_s, side="right")
    closed = np.searchsorted(ends, at_s, side="right")
    return (opened - closed).astype(float)


def _web_pod_events(run: RunData) -> list[dict[str, Any]]:
    web = run.web_deployment()
    out = []
    for event in run.events:
        if event.get("kind") in READY_KINDS or event.get("kind") == "pod_created":
            deployment = event.get("deployment")
            pod = str(event.get("pod", ""))
            if deployment == web or (deployment is None and pod.startswith(f"{web}-")):
                out.append(event)
    return out


def ready_replicas(run: RunData, at_s: FloatArray) -> FloatArray:
    """Ready web replicas at each point (see the module docstring for the sources)."""
    events = [e for e in _web_pod_events(run) if e.get("kind") in READY_KINDS]
    if any(e.get("kind") == "pod_ready" for e in events):
        state: dict[str, int] = {}
        times, totals = [], []
        for event in sorted(events, key=lambda e: float(e["t_s"])):
            state[str(event.get("pod"))] = READY_KINDS[str(event["kind"])]
            times.append(float(event["t_s"]))
            totals.append(float(sum(state.values())))
        return step_values(times, totals, at_s, before=0.0)
    pods = run.web_pods()
    if not pods.empty and pods["ready_t_s"].notna().any():
        return interval_count(pods["ready_t_s"].to_numpy(float), pods["deleted_t_s"].to_numpy(float), at_s)
    prom = prom_frame(run, "ready_replicas")
    if not prom.empty:
        return step_values(prom["t_s"], prom["value"], at_s)
    hpa = run.web_hpa()
    if not hpa.empty and hpa["ready_pods"].notna().any():
        return step_values(hpa["t_s"], hpa["ready_pods"], at_s)
    return np.full(len(at_s), np.nan)


def existing_pods(run: RunData, at_s: FloatArray) -> FloatArray:
    """Web pods that exist (created, not yet deleted) at each point: what the run pays for."""
    pods = run.web_pods()
    if not pods.empty and pods["created_t_s"].notna().any():
        return interval_count(pods["created_t_s"].to_numpy(float), pods["deleted_t_s"].to_numpy(float), at_s)
    events = _web_pod_events(run)
    created = {str(e.get("pod")): float(e["t_s"]) for e in events if e["kind"] == "pod_created"}
    if created:
        deleted = {str(e.get("pod")): float(e["t_s"]) for e in events if e["kind"] == "pod_deleted"}
        starts = np.array(list(created.values()))
        ends = np.array([deleted.get(pod, math.nan) for pod in created])
        return interval_count(starts, ends, at_s)
    return ready_replicas(run, at_s)


def desired_replicas(run: RunData, at_s: FloatArray) -> FloatArray:
    """The HPA's desired replicas at each point (NaN before the first known value)."""
    hpa = run.web_hpa()
    if not hpa.empty and hpa["desired_replicas"].notna().any():
        hpa = hpa.dropna(subset=["desired_replicas"])
        first = hpa.iloc[0]
        before = float(first["current_replicas"]) if pd.notna(first["current_replicas"]) else math.nan
        return step_values(hpa["t_s"], hpa["desired_replicas"], at_s, before=before)
    prom = prom_frame(run, "hpa_desired_replicas")
    if not prom.empty:
        return step_values(prom["t_s"], prom["value"], at_s)
    rescales = [e for e in run.events if e.get("kind") == "hpa_rescale"]
    if rescales:
        first_from = float(rescales[0].get("from", math.nan))
        return step_values(
            [e["t_s"] for e in rescales], [float(e.get("to", math.nan)) for e in rescales], at_s, first_from
        )
    return np.full(len(at_s), np.nan)


def _per_second(frame: pd.DataFrame, column: str, at_s: FloatArray) -> FloatArray:
    """`column` of `frame` placed on the grid by floor(t_s) (mean if several rows share a second)."""
    if frame.empty or column not in frame:
        return np.full(len(at_s), np.nan)
    values = pd.to_numeric(frame[column], errors="coerce")
    seconds = np.floor(frame["t_s"].to_numpy(dtype=float))
    series = pd.Series(values.to_numpy(dtype=float)).groupby(seconds).mean()
    return series.reindex(at_s).to_numpy(dtype=float)


def offered_rps(run: RunData, at_s: FloatArray) -> FloatArray:
    """Intended requests/s per second (open model), else achieved (closed model)."""
    intended = _per_second(run.load, "intended_rps", at_s)
    if np.isfinite(intended).any():
        return intended
    return _per_second(run.load, "achieved_rps", at_s)


def planned_on_grid(run: RunData, at_s: FloatArray) -> tuple[FloatArray, str | None]:
    """The planned level (rps or users) at each point, and its unit."""
    if run.planned.empty:
        return np.full(len(at_s), np.nan), None
    level, unit = planned_level(run.planned)
    return step_values(run.planned["t_s"], level, at_s), unit


def client_per_second(run: RunData, at_s: FloatArray) -> pd.DataFrame:
    """Client-side per-second `requests`, `failures`, `error_ratio`, `p50_ms`, `p95_ms`, `p99_ms`
    of the ALL route (per-second percentiles as the driver wrote them — for drawing only)."""
    rows = route_rows(run.client)
    out = pd.DataFrame({"t_s": at_s})
    for column in ("requests", "failures", "p50_ms", "p95_ms", "p99_ms"):
        out[column] = _per_second(rows, column, at_s) if not rows.empty else np.nan
    requests = out["requests"].where(out["requests"] > 0)
    out["error_ratio"] = out["failures"] / requests
    return out


def run_timeline(run: RunData) -> pd.DataFrame:
    """One row per second of load: `t_s`, `planned`, `planned_unit` (attrs), `intended_rps`,
    `achieved_rps`, `p50_ms`, `p95_ms`, `p99_ms`, `error_ratio`, `ready_replicas`,
    `desired_replicas`, `pods` — the compact frame comparisons overlay."""
    at_s = grid(run.load_duration_s)
    planned, unit = planned_on_grid(run, at_s)
    client = client_per_second(run, at_s)
    frame = pd.DataFrame(
        {
            "t_s": at_s,
            "planned": planned,
            "intended_rps": _per_second(run.load, "intended_rps", at_s),
            "achieved_rps": _per_second(run.load, "achieved_rps", at_s),
            "p50_ms": client["p50_ms"].to_numpy(),
            "p95_ms": client["p95_ms"].to_numpy(),
            "p99_ms": client["p99_ms"].to_numpy(),
            "error_ratio": client["error_ratio"].to_numpy(),
            "ready_replicas": ready_replicas(run, at_s),
            "desired_replicas": desired_replicas(run, at_s),
            "pods": existing_pods(run, at_s),
        }
    )
    frame.attrs["planned_unit"] = unit
    return frame


def client_histograms(run: RunData) -> ClientHistograms:
    """The ALL-route histograms of the run, decoded once."""
    return ClientHistograms(route_rows(run.client))
