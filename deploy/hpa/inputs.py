"""What the decision core reads on one sync: pod states and metric readings (plain data).

Units: timestamps are unix seconds (float); metric values are integer milli-units like the
upstream controller's `MilliValue()` (CPU millicores, memory milli-bytes, custom metrics in
thousandths). Readings are aligned with `spec.metrics`: `readings[i]` answers metric `i`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

PENDING = "Pending"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
PHASES = (PENDING, RUNNING, SUCCEEDED, FAILED)


@dataclass(frozen=True)
class PodState:
    """One pod as the controller's pod lister sees it.

    - `start_ts`: `status.startTime` (None while the kubelet has not started it).
    - `ready_transition_ts`: `lastTransitionTime` of the Ready condition, None when the pod has
      no Ready condition yet.
    - `requests_milli`: resource name → the pod's summed container request in milli-units; a
      resource absent from the mapping means some container has no request for it.
    """

    name: str
    phase: str
    ready: bool
    deleting: bool = False
    start_ts: float | None = None
    ready_transition_ts: float | None = None
    requests_milli: Mapping[str, int] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Counted in the scale subresource's `status.replicas` (a ReplicaSet's active pods)."""
        return not self.deleting and self.phase not in (SUCCEEDED, FAILED)


@dataclass(frozen=True)
class PodMetric:
    """A pod's metric value averaged over `window_s` seconds ending at `ts` (metrics-server style)."""

    value_milli: int
    ts: float
    window_s: float


@dataclass(frozen=True)
class PodMetrics:
    """Reading for a Resource, ContainerResource or Pods metric: one value per pod name."""

    values: Mapping[str, PodMetric]


@dataclass(frozen=True)
class ObjectValues:
    """Reading for an Object metric (one value) or an External metric (values summed upstream)."""

    values_milli: tuple[int, ...]
    ts: float


@dataclass(frozen=True)
class FetchError:
    """The metrics API (here: the sampler or Prometheus) could not answer."""

    message: str


MetricReading = PodMetrics | ObjectValues | FetchError


@dataclass(frozen=True)
class Observation:
    """Everything one sync reads from the world.

    `spec_replicas` is the scale subresource's `spec.replicas` (the controller's "current"
    replicas); `status_replicas` its `status.replicas`, derived from the active pods unless given.
    """

    spec_replicas: int
    pods: tuple[PodState, ...]
    readings: tuple[MetricReading, ...]
    status_replicas_override: int | None = None

    @property
    def status_replicas(self) -> int:
        if self.status_replicas_override is not None:
            return self.status_replicas_override
        return sum(1 for pod in self.pods if pod.active)
