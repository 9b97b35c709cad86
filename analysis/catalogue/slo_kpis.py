"""The SLO: time in violation, error budget, and recovery of p95 after each load change."""

from __future__ import annotations

from hpabench.analysis import slo
from hpabench.analysis.catalogue import PHASE, RUN, KpiDefinition, register
from hpabench.analysis.facts import SLO_WINDOW_S, RunFacts, Window


def _violation_pct(facts: RunFacts, window: Window) -> float | None:
    return facts.slo_windows(window).violation_pct


def _budget_burn(facts: RunFacts, window: Window) -> float | None:
    stats = facts.latency(window)
    return slo.error_budget_burn(stats.requests, stats.failures, facts.slo["error_rate"])


def _worst_recovery_s(facts: RunFacts, window: Window) -> float | None:
    return max((r for r in facts.recoveries_s if r is not None), default=None)


def _unrecovered(facts: RunFacts, window: Window) -> int | None:
    return sum(1 for r in facts.recoveries_s if r is None) if facts.changes else None


register(
    KpiDefinition(
        "slo_violation_pct",
        "%",
        f"time in SLO violation ({SLO_WINDOW_S:g} s windows)",
        _violation_pct,
        "lower",
        frozenset({RUN, PHASE}),
        headline=3,
        phase_column=4,
        key=True,
        threshold="slo_violation_pct <= +5",
        phase_label="time in SLO violation",
    ),
    KpiDefinition("error_budget_burn", "ratio", "error budget consumed (1 = all of it)", _budget_burn, "lower"),
    KpiDefinition(
        "p95_recovery_s", "s", "p95 back within SLO after a load change (worst)", _worst_recovery_s, "lower", headline=4
    ),
    KpiDefinition(
        "p95_unrecovered_changes", "changes", "load changes after which p95 never recovered", _unrecovered, "lower"
    ),
)
