"""Resource metrics like metrics-server serves them, from the pods' cumulative cgroup counters.

metrics-server scrapes every kubelet once per resolution (`metrics_window_s`) and serves, per
pod, the CPU rate between its last two scrapes (timestamp = the newer scrape, window = their
distance) and the memory working set at the newer scrape. A pod needs two scrapes before it has
any metric (so a new pod is "missing" for up to one window — exactly what the HPA's missing-pod
rule exists for), and a counter that went backwards (a container restart) starts over.

`ResourceSampler` is that, without I/O: feed it pod snapshots with `scrape(pods, now)`, read
`cpu()` / `memory()` as `PodMetric`s in milli-units (CPU: millicores rounded up from nanocores,
as `MilliValue()` does; memory: milli-bytes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from hpabench.deploy.hpa.inputs import RUNNING, PodMetric

NANO_PER_MILLI = 1_000_000


class SampledPod(Protocol):
    """What the sampler reads from a pod snapshot (`PodInfo` of the local target satisfies it)."""

    @property
    def name(self) -> str: ...
    @property
    def phase(self) -> str: ...
    @property
    def started_ts(self) -> float | None: ...
    @property
    def cpu_usage_seconds(self) -> float: ...
    @property
    def memory_usage_bytes(self) -> int: ...


@dataclass(frozen=True)
class _Point:
    ts: float
    cpu_s: float
    memory_bytes: int
    started_ts: float | None


def working_set_bytes(pod: SampledPod) -> int:
    """metrics-server reports the working set; fall back to usage when a snapshot lacks it."""
    working_set = getattr(pod, "memory_working_set_bytes", 0)
    return int(working_set) if working_set else int(pod.memory_usage_bytes)


class ResourceSampler:
    """Keeps the last two scrapes per pod; not thread-safe (the controller serialises calls)."""

    def __init__(self) -> None:
        self._points: dict[str, tuple[_Point, ...]] = {}
        self.last_scrape_ts: float | None = None

    def scrape(self, pods: Iterable[SampledPod], now: float) -> None:
        """Record one scrape of `pods` at `now`; pods not Running (or gone) lose their samples."""
        seen: dict[str, tuple[_Point, ...]] = {}
        for pod in pods:
            if pod.phase != RUNNING or pod.cpu_usage_seconds is None:
                continue
            point = _Point(now, float(pod.cpu_usage_seconds), working_set_bytes(pod), pod.started_ts)
            previous = self._points.get(pod.name, ())
            last = previous[-1] if previous else None
            if last is None or point.cpu_s < last.cpu_s or point.started_ts != last.started_ts or now <= last.ts:
                seen[pod.name] = (point,)  # restarted, new, or not a later scrape: start over
            else:
                seen[pod.name] = (last, point)
        self._points = seen
        self.last_scrape_ts = now

    def cpu(self) -> dict[str, PodMetric]:
        """CPU usage rate per pod, millicores rounded up, over the last scrape interval."""
        metrics = {}
        for name, points in self._points.items():
            if len(points) < 2:
                continue
            older, newer = points
            window_s = newer.ts - older.ts
            nanocores = round((newer.cpu_s - older.cpu_s) / window_s * 1e9)
            metrics[name] = PodMetric(-(-nanocores // NANO_PER_MILLI), newer.ts, window_s)
        return metrics

    def memory(self) -> dict[str, PodMetric]:
        """Working set per pod at the last scrape, milli-bytes (only pods that also have CPU)."""
        metrics = {}
        for name, points in self._points.items():
            if len(points) < 2:
                continue
            older, newer = points
            metrics[name] = PodMetric(newer.memory_bytes * 1000, newer.ts, newer.ts - older.ts)
        return metrics
