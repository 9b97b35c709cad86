"""How evenly the balancer spread traffic over the pods, and how fast a new pod got its share."""

from __future__ import annotations

from hpabench.analysis.catalogue import KpiDefinition, register
from hpabench.analysis.facts import RunFacts, Window


def _jain(facts: RunFacts, window: Window) -> float | None:
    return facts.fairness.jain_index


def _deviation(facts: RunFacts, window: Window) -> float | None:
    return facts.fairness.max_share_deviation


def _time_to_share(facts: RunFacts, window: Window) -> float | None:
    return facts.fairness.mean_time_to_fair_share_s


register(
    KpiDefinition("fairness_jain", "index", "Jain fairness of per-pod traffic (1 = even)", _jain, "higher"),
    KpiDefinition("max_share_deviation", "ratio", "worst pod's |share / fair share − 1|", _deviation, "lower"),
    KpiDefinition("time_to_fair_share_s", "s", "new pod ready → 80 % of fair share", _time_to_share, "lower"),
)
