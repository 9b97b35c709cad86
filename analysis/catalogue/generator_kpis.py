"""Whether the load generator kept up: a generator that fell behind makes the run suspect."""

from __future__ import annotations

from hpabench.analysis.catalogue import KpiDefinition, register
from hpabench.analysis.facts import RunFacts, Window


def _achieved(facts: RunFacts, window: Window) -> float | None:
    return facts.generator.achieved_ratio


def _behind(facts: RunFacts, window: Window) -> float | None:
    return facts.generator.behind_s if not facts.run.load.empty else None


def _cpu_max(facts: RunFacts, window: Window) -> float | None:
    return facts.generator.cpu_max


register(
    KpiDefinition(
        "load_achieved_ratio",
        "ratio",
        "achieved / intended load",
        _achieved,
        "higher",
        headline=11,
        threshold={"kpi": "load_achieved_ratio", "op": ">=", "value": 0.95, "on_missing": "skip", "severity": "warn"},
    ),
    KpiDefinition("generator_behind_s", "s", "seconds generator behind", _behind, "lower"),
    KpiDefinition("generator_cpu_max", "cores", "generator CPU (max process)", _cpu_max),
)
