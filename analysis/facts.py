"""`RunFacts`: the intermediate results every KPI of a run draws on, each computed once, lazily.

KPI definitions (`hpabench.analysis.catalogue`) are small functions of `(facts, window)`; what
several of them share — the per-second grid, the client histograms, ready replicas, the phases,
the scaling responses, demand and cost — lives here as cached properties, so adding a KPI never
means threading a new value through one long function. Pure: a RunData in, numbers out.

Units: `at_s` is the 1 s grid of load time (s since the load started); `ready` and `pods_alive`
are replicas on that grid; `need` is the replicas the load needed at the per-pod capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from hpabench.analysis import fairness as fairness_mod
from hpabench.analysis import generator as generator_mod
from hpabench.analysis import provisioning as prov
from hpabench.analysis import scaling
from hpabench.analysis import slo as slo_math
from hpabench.analysis.kpi import clean
from hpabench.analysis.latency import ClientHistograms, LatencyStats, latency_stats, route_rows
from hpabench.analysis.phases import LoadChange, Phase, detect_phases, load_changes
from hpabench.analysis.rundata import RunData, numeric, prom_frame
from hpabench.analysis.series_grid import (
    client_per_second,
    existing_pods,
    grid,
    interval_count,
    offered_rps,
    planned_on_grid,
    ready_replicas,
)

SLO_WINDOW_S = 10.0
"""SLO compliance is judged on windows of this length (seconds)."""


@dataclass(frozen=True)
class Window:
    """The span a KPI is evaluated over: the whole load phase, or one `phase` of it."""

    start_s: float
    end_s: float
    phase: Phase | None = None

    def mask(self, at_s: np.ndarray) -> np.ndarray:
        return (at_s >= self.start_s) & (at_s < self.end_s)


class RunFacts:
    """See the module docstring. `capacity_rps_per_pod` overrides the per-pod capacity."""

    def __init__(self, run: RunData, capacity_rps_per_pod: float | None = None) -> None:
        self.run = run
        self.capacity_override = capacity_rps_per_pod

    # -- the load phase and its grid -------------------------------------------------------------
    @cached_property
    def duration_s(self) -> float:
        return float(self.run.load_duration_s)

    @property
    def whole(self) -> Window:
        return Window(0.0, self.duration_s)

    @cached_property
    def at_s(self) -> np.ndarray:
        return grid(self.duration_s)

    # -- client side ----------------------------------------------------------------------------
    @cached_property
    def hists(self) -> ClientHistograms:
        return ClientHistograms(route_rows(self.run.client))

    def latency(self, window: Window) -> LatencyStats:
        return self._latency(window.start_s, window.end_s)

    def _latency(self, start_s: float, end_s: float) -> LatencyStats:
        cache: dict[tuple[float, float], LatencyStats] = self.__dict__.setdefault("_latency_cache", {})
        key = (start_s, end_s)
        if key not in cache:
            cache[key] = latency_stats(self.hists, start_s, end_s)
        return cache[key]

    @cached_property
    def slo(self) -> dict[str, Any]:
        """The run's SLO as recorded in its manifest, defaults filled in; `source`: run|default."""
        run_slo = self.run.slo
        known = (*slo_math.DEFAULT_SLO, "p99_ms")
        merged = {**slo_math.DEFAULT_SLO, **{k: v for k, v in run_slo.items() if k in known}}
        return {**merged, "source": "run" if run_slo else "default"}

    def slo_windows(self, window: Window) -> slo_math.SloWindows:
        return slo_math.evaluate_windows(
            self.hists, window.start_s, window.end_s, self.slo["p95_ms"], self.slo["error_rate"], SLO_WINDOW_S
        )

    @cached_property
    def per_second(self) -> pd.DataFrame:
        second = client_per_second(self.run, self.at_s)
        second["achieved_rps"] = self._per_second_achieved(second)
        return second

    def _per_second_achieved(self, second: pd.DataFrame) -> np.ndarray:
        load = self.run.load
        if not load.empty and pd.to_numeric(load["achieved_rps"], errors="coerce").notna().any():
            values = pd.to_numeric(load["achieved_rps"], errors="coerce").to_numpy(dtype=float)
            seconds = np.floor(load["t_s"].to_numpy(dtype=float))
            return pd.Series(values).groupby(seconds).mean().reindex(self.at_s).to_numpy(dtype=float)
        return np.asarray(second["requests"].to_numpy(dtype=float))

    # -- replicas, phases, scaling --------------------------------------------------------------
    @cached_property
    def ready(self) -> np.ndarray:
        return ready_replicas(self.run, self.at_s)

    @cached_property
    def pods_alive(self) -> np.ndarray:
        return existing_pods(self.run, self.at_s)

    @cached_property
    def phases(self) -> list[Phase]:
        return detect_phases(self.run.planned, self.duration_s, self.run.load)

    @cached_property
    def changes(self) -> list[LoadChange]:
        return load_changes(self.phases)

    @cached_property
    def sync_period_s(self) -> float:
        return float((self.run.manifest.get("hpa_settings") or {}).get("sync_period_s", 15.0) or 15.0)

    @cached_property
    def responses(self) -> list[scaling.ChangeResponse]:
        return scaling.responses(
            self.changes, self.duration_s, self.run.web_hpa(), self.at_s, self.ready, quiet_s=2 * self.sync_period_s
        )

    def responses_in(self, direction: str) -> list[scaling.ChangeResponse]:
        return [r for r in self.responses if r.direction == direction]

    @cached_property
    def recoveries_s(self) -> list[float | None]:
        """Per load change: seconds until p95 was back within the SLO (None: never)."""
        out: list[float | None] = []
        for index, change in enumerate(self.changes):
            end = self.changes[index + 1].t_s if index + 1 < len(self.changes) else self.duration_s
            out.append(
                slo_math.p95_recovery_s(self.hists, change.t_s, end, self.slo["p95_ms"])
                if change.t_s < self.duration_s
                else None
            )
        return out

    @cached_property
    def has_hpa(self) -> bool:
        return not self.run.web_hpa().empty

    @cached_property
    def planned_known(self) -> bool:
        return any(p.level is not None for p in self.phases)

    @cached_property
    def stability(self) -> scaling.Stability:
        return scaling.stability(self.run.web_hpa(), [c.t_s for c in self.changes])

    # -- provisioning and cost ------------------------------------------------------------------
    @cached_property
    def capacity(self) -> prov.Capacity:
        if self.capacity_override:
            return prov.Capacity(self.capacity_override, "argument")
        declared = self.run.manifest.get("capacity")
        if isinstance(declared, dict):
            value = clean(declared.get("rps_per_pod"))
            if value is not None and value > 0:
                return prov.Capacity(value, "manifest")
        second = self.per_second
        return prov.estimate_capacity(
            np.asarray(second["achieved_rps"], dtype=float),
            self.ready,
            second["p95_ms"].to_numpy(dtype=float),
            second["error_ratio"].to_numpy(dtype=float),
            float(self.slo["p95_ms"]),
            float(self.slo["error_rate"]),
        )

    @cached_property
    def need(self) -> np.ndarray:
        planned, unit = planned_on_grid(self.run, self.at_s)
        load_for_demand = planned if unit == "rps" else prov.rolling_mean(offered_rps(self.run, self.at_s), 5)
        return prov.demand(load_for_demand, self.capacity.rps_per_pod)

    def elasticity(self, window: Window) -> prov.Elasticity:
        mask = window.mask(self.at_s)
        return prov.elasticity(self.ready[mask], self.need[mask])

    @cached_property
    def elastic(self) -> prov.Elasticity:
        return prov.elasticity(self.ready, self.need)

    @cached_property
    def cost(self) -> prov.Cost:
        return prov.cost(self.pods_alive, self._cpu_request_cores())

    def _cpu_request_cores(self) -> np.ndarray | None:
        pods = self.run.web_pods()
        requests = numeric(pods, "cpu_request_millicores")
        if pods.empty or not np.isfinite(requests).any():
            return None
        created, deleted = numeric(pods, "created_t_s"), numeric(pods, "deleted_t_s")
        total = np.zeros(len(self.at_s))
        for start, end, request in zip(created, deleted, np.nan_to_num(requests), strict=True):
            alive = interval_count(np.array([start]), np.array([end]), self.at_s)
            total += alive * request / 1000.0
        return total

    # -- server side, fairness, the generator ---------------------------------------------------
    def prom_stat(self, name: str, how: str, scale: float = 1.0) -> float | None:
        """Max or mean of a profile series over the load phase (None when it has no samples)."""
        frame = prom_frame(self.run, name)
        if frame.empty:
            return None
        window = frame[(frame["t_s"] >= 0) & (frame["t_s"] < max(self.duration_s, 0.0))]
        values = numeric(window, "value")
        values = values[np.isfinite(values)]
        if len(values) == 0:
            return None
        return clean(float(values.max() if how == "max" else values.mean()) * scale)

    @cached_property
    def fairness(self) -> fairness_mod.Fairness:
        pods = self.run.web_pods()
        ready_at = {str(p): float(t) for p, t in zip(pods["pod"], pods["ready_t_s"], strict=True) if pd.notna(t)}
        return fairness_mod.fairness(prom_frame(self.run, "pod_rps", "pod"), ready_at)

    @cached_property
    def generator(self) -> generator_mod.GeneratorHealth:
        return generator_mod.generator_health(
            self.run.load,
            [str(f) for f in self.run.manifest.get("flags") or []],
            [str(e.get("kind")) for e in self.run.events],
        )
