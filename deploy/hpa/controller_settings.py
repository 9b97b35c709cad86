"""Settings of the local HPA controller (kube-controller-manager flags), with upstream defaults.

A variant sets them under `controller:`; the run manifest records the resolved values.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from hpabench.promqlcheck import promql_problem
from hpabench.specio import StrictModel


class HpaSettings(StrictModel):
    """Controller-wide settings. Names follow the upstream flags, with units in the name.

    - `sync_period_s`: --horizontal-pod-autoscaler-sync-period (15 s).
    - `tolerance`: --horizontal-pod-autoscaler-tolerance (0.1): no scaling while
      |usage ratio - 1| <= tolerance.
    - `downscale_stabilization_s`: --horizontal-pod-autoscaler-downscale-stabilization (300 s);
      used when an HPA has no `behavior.scaleDown.stabilizationWindowSeconds`.
    - `cpu_initialization_period_s`: --horizontal-pod-autoscaler-cpu-initialization-period (300 s).
    - `initial_readiness_delay_s`: --horizontal-pod-autoscaler-initial-readiness-delay (30 s).
    - `metrics_window_s`: the window over which pod CPU usage is averaged, like metrics-server's
      resolution (15 s); also the age of the newest metric sample at worst.
    - `metrics_offset_s`: where the metrics scrapes sit between two syncs. On a cluster
      metrics-server and the HPA are not synchronised, so the metrics a sync reads are between 0
      and one window old; the default (None) puts the scrapes half a window before each sync
      grid point — the average age — instead of right before it (0 = aligned, the freshest).
    - `custom_metrics`: metric name → PromQL, the way prometheus-adapter serves `Pods`, `Object`
      and `External` metrics. For `Pods` metrics the query must return one series per `pod` label.
    """

    sync_period_s: float = Field(default=15.0, gt=0)
    tolerance: float = Field(default=0.1, ge=0, lt=1)
    downscale_stabilization_s: float = Field(default=300.0, ge=0)
    cpu_initialization_period_s: float = Field(default=300.0, ge=0)
    initial_readiness_delay_s: float = Field(default=30.0, ge=0)
    metrics_window_s: float = Field(default=15.0, gt=0)
    metrics_offset_s: float | None = Field(default=None, ge=0)
    custom_metrics: dict[str, str] = Field(default_factory=dict)

    @field_validator("custom_metrics")
    @classmethod
    def _queries_parse(cls, value: dict[str, str]) -> dict[str, str]:
        # Prometheus would refuse the query at every sync; refuse it before the run instead.
        problems = [f"{name}: {problem}" for name, query in value.items() if (problem := promql_problem(query))]
        if problems:
            raise ValueError("; ".join(problems))
        return value
