"""How steadily the HPA moved: scale events, reversals, flaps and oscillation."""

from __future__ import annotations

from hpabench.analysis.catalogue import KpiDefinition, register
from hpabench.analysis.facts import RunFacts, Window


def _events(facts: RunFacts, window: Window) -> int | None:
    return facts.stability.scale_events if facts.has_hpa else None


def _reversals(facts: RunFacts, window: Window) -> int | None:
    return facts.stability.reversals if facts.has_hpa else None


def _flaps(facts: RunFacts, window: Window) -> int | None:
    # Without a planned curve no load change is known, so a reversal cannot be called a flap.
    return facts.stability.flaps if facts.has_hpa and facts.planned_known else None


def _oscillation(facts: RunFacts, window: Window) -> float | None:
    return facts.stability.oscillation_index


def _max_desired(facts: RunFacts, window: Window) -> float | None:
    return facts.stability.max_desired


register(
    KpiDefinition("scale_events", "events", "desired-replica changes", _events),
    KpiDefinition("scale_reversals", "events", "scale direction reversals", _reversals),
    KpiDefinition("scale_flaps", "events", "reversals without a load change", _flaps, "lower", headline=8),
    KpiDefinition("oscillation_index", "ratio", "replica movement / least needed (1 = clean)", _oscillation, "lower"),
    KpiDefinition("max_desired_replicas", "replicas", "max desired replicas", _max_desired),
)
