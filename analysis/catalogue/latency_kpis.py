"""Client-side latency, errors and throughput (from the per-second client histograms)."""

from __future__ import annotations

from hpabench.analysis.catalogue import PHASE, RUN, Compute, KpiDefinition, register
from hpabench.analysis.facts import RunFacts, Window

BOTH = frozenset({RUN, PHASE})


def _stat(attribute: str) -> Compute:
    def compute(facts: RunFacts, window: Window) -> float | int | None:
        value: float | int | None = getattr(facts.latency(window), attribute)
        return value

    return compute


register(
    KpiDefinition("p50_ms", "ms", "client p50 latency", _stat("p50_ms"), "lower", BOTH, phase_column=0),
    KpiDefinition(
        "p95_ms",
        "ms",
        "client p95 latency",
        _stat("p95_ms"),
        "lower",
        BOTH,
        headline=0,
        phase_column=1,
        key=True,
        threshold="p95_ms <= +10%",
    ),
    KpiDefinition(
        "p99_ms",
        "ms",
        "client p99 latency",
        _stat("p99_ms"),
        "lower",
        BOTH,
        headline=1,
        phase_column=2,
        key=True,
        threshold="p99_ms <= +20%",
    ),
    KpiDefinition("p999_ms", "ms", "client p99.9 latency", _stat("p999_ms"), "lower", BOTH),
    KpiDefinition("max_ms", "ms", "client max latency", _stat("max_ms"), "lower", BOTH),
    KpiDefinition("mean_ms", "ms", "client mean latency", _stat("mean_ms"), "lower", BOTH),
    KpiDefinition(
        "error_rate",
        "ratio",
        "failed requests / requests",
        _stat("error_rate"),
        "lower",
        BOTH,
        headline=2,
        phase_column=3,
        key=True,
        threshold="error_rate < 0.01",
    ),
    KpiDefinition("requests", "requests", "requests completed", _stat("requests"), None, BOTH),
    KpiDefinition(
        "throughput_rps", "req/s", "requests completed per second", _stat("throughput_rps"), None, BOTH, phase_column=5
    ),
)
