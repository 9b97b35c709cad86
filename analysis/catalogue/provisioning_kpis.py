"""Supply against demand (elasticity, after SPEC's cloud metrics) and what the replicas cost."""

from __future__ import annotations

import numpy as np

from hpabench.analysis import provisioning as prov
from hpabench.analysis.catalogue import PHASE, RUN, Compute, KpiDefinition, register
from hpabench.analysis.facts import RunFacts, Window

BOTH = frozenset({RUN, PHASE})


def _cost(attribute: str) -> Compute:
    def compute(facts: RunFacts, window: Window) -> float | None:
        value: float | None = getattr(facts.cost, attribute)
        return value

    return compute


def _elastic(attribute: str) -> Compute:
    def compute(facts: RunFacts, window: Window) -> float | None:
        # The whole run reuses the run-wide computation; a phase evaluates its own slice.
        elastic: prov.Elasticity = facts.elastic if window.phase is None else facts.elasticity(window)
        value: float | None = getattr(elastic, attribute)
        return value

    return compute


def _ready_mean(facts: RunFacts, window: Window) -> float | None:
    ready = facts.ready[window.mask(facts.at_s)]
    return float(np.nanmean(ready)) if np.isfinite(ready).any() else None


def _capacity(facts: RunFacts, window: Window) -> float | None:
    return facts.capacity.rps_per_pod


def _capacity_label(facts: RunFacts) -> str:
    return f"per-pod capacity at the SLO ({facts.capacity.source})"


register(
    KpiDefinition(
        "ready_replicas_mean", "replicas", "mean ready replicas", _ready_mean, None, frozenset({PHASE}), phase_column=6
    ),
    KpiDefinition(
        "replica_seconds",
        "pod·s",
        "web pod-seconds (cost)",
        _cost("replica_seconds"),
        "lower",
        headline=9,
        key=True,
        threshold={"kpi": "replica_seconds", "op": "<=", "value": "+15%", "on_missing": "skip"},
    ),
    KpiDefinition(
        "cpu_request_core_seconds", "core·s", "CPU requested × time (cost)", _cost("cpu_request_core_seconds"), "lower"
    ),
    KpiDefinition("mean_replicas", "replicas", "mean web pods", _cost("mean_replicas")),
    KpiDefinition("max_replicas", "replicas", "max web pods", _cost("max_replicas")),
    KpiDefinition("capacity_rps_per_pod", "req/s", "per-pod capacity at the SLO", _capacity, label_of=_capacity_label),
    KpiDefinition(
        "under_provisioning_accuracy_pct",
        "%",
        "mean relative shortfall of ready replicas",
        _elastic("under_accuracy_pct"),
        "lower",
    ),
    KpiDefinition(
        "over_provisioning_accuracy_pct",
        "%",
        "mean relative excess of ready replicas",
        _elastic("over_accuracy_pct"),
        "lower",
    ),
    KpiDefinition(
        "under_provisioning_timeshare_pct",
        "%",
        "time under-provisioned",
        _elastic("under_timeshare_pct"),
        "lower",
        BOTH,
        headline=10,
        phase_column=7,
        key=True,
        threshold={"kpi": "under_provisioning_timeshare_pct", "op": "<=", "value": "+5", "on_missing": "skip"},
    ),
    KpiDefinition(
        "over_provisioning_timeshare_pct",
        "%",
        "time over-provisioned",
        _elastic("over_timeshare_pct"),
        "lower",
        BOTH,
        phase_column=8,
    ),
    KpiDefinition(
        "provisioning_instability_pct", "%", "supply moving against demand", _elastic("instability_pct"), "lower"
    ),
    KpiDefinition(
        "under_provisioned_replica_seconds",
        "pod·s",
        "missing replica-seconds",
        _elastic("under_replica_seconds"),
        "lower",
    ),
    KpiDefinition(
        "over_provisioned_replica_seconds",
        "pod·s",
        "surplus replica-seconds",
        _elastic("over_replica_seconds"),
        "lower",
    ),
)
