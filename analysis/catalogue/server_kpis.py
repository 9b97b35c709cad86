"""Server-side series from Prometheus: the app's latency, pod CPU and throttling, the balancer's queue."""

from __future__ import annotations

from hpabench.analysis.catalogue import Compute, KpiDefinition, register
from hpabench.analysis.facts import RunFacts, Window


def _series(name: str, how: str, scale: float = 1.0) -> Compute:
    def compute(facts: RunFacts, window: Window) -> float | None:
        return facts.prom_stat(name, how, scale)

    return compute


register(
    KpiDefinition("server_p95_ms_peak", "ms", "server p95 latency (peak)", _series("server_p95_ms", "max"), "lower"),
    KpiDefinition("cpu_utilization_mean", "ratio", "pod CPU / request (mean)", _series("pod_cpu_utilization", "mean")),
    KpiDefinition(
        "cpu_throttled_pct",
        "%",
        "CFS periods throttled (mean)",
        _series("pod_cpu_throttled_ratio", "mean", 100.0),
        "lower",
    ),
    KpiDefinition(
        "lb_queue_max", "requests", "load-balancer queue (peak)", _series("haproxy_backend_queue", "max"), "lower"
    ),
)
