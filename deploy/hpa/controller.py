"""The local HPA controller: a thin loop around the decision core.

Every `metrics_window_s` it scrapes the target's pods like metrics-server (cumulative cgroup CPU
seconds → a rate over the window, working-set memory); every `sync_period_s` it reads the scale
target and the metrics (custom ones by PromQL), calls `core.decide`, scales the Deployment, and
records the sync: a row in `data/hpa.jsonl`, `hpa_rescale` / `hpa_condition` events, the status
for `status()` and the kube-state-metrics families for `collect()`. `start()` runs the first
scrape and sync synchronously, so the Deployment is within [min, max] when it returns (upstream
does the same on its first sync, without waiting for metrics). `stop()` writes `data/hpa.parquet`.

The cluster is anything with `deployment(name)` (→ `spec_replicas`, `scale(n, by=)`, `pods()`),
`prometheus_url` and `add_collector(fn)`; see `Cluster`. Unit tests drive `scrape()` / `sync()`
with a fake cluster and clock; the thread is only the timer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from prometheus_client.core import Metric

from hpabench.deploy.hpa.admission import parse_hpa
from hpabench.deploy.hpa.api_model import CONTAINER_RESOURCE, EXTERNAL, OBJECT, PODS, RESOURCE, MetricSpec
from hpabench.deploy.hpa.conditions import Condition
from hpabench.deploy.hpa.controller_settings import HpaSettings
from hpabench.deploy.hpa.core import Decision, PriorStatus, decide, rescale_failed, target_unavailable
from hpabench.deploy.hpa.custom import InstantQuery, PrometheusQuery, external_reading, object_reading, pods_reading
from hpabench.deploy.hpa.history import History
from hpabench.deploy.hpa.inputs import PENDING, FetchError, MetricReading, Observation, PodMetrics, PodState
from hpabench.deploy.hpa.sampler import ResourceSampler, SampledPod
from hpabench.deploy.hpa.status import HpaStatus, build_status, ksm_families
from hpabench.deploy.hpa.sync_log import TimelineWriter, timeline_row
from hpabench.rundir import EventLog
from hpabench.specio import validate_data

MAX_WAIT_S = 0.5  # longest sleep of the timer thread, so stop() is prompt
JOIN_TIMEOUT_S = 30.0


class PodSnapshot(SampledPod, Protocol):
    """The pod fields the controller reads (the local target's `PodInfo` satisfies it)."""

    @property
    def ready(self) -> bool: ...
    @property
    def deleting(self) -> bool: ...
    @property
    def created_ts(self) -> float: ...
    @property
    def ready_ts(self) -> float | None: ...
    @property
    def cpu_request_millicores(self) -> int | None: ...
    @property
    def memory_request_bytes(self) -> int | None: ...


class ScaleTarget(Protocol):
    @property
    def spec_replicas(self) -> int: ...
    def scale(self, replicas: int, by: str = ...) -> None: ...
    def pods(self) -> Sequence[PodSnapshot]: ...


class Cluster(Protocol):
    """What the controller uses of the local target (`LocalCluster`)."""

    def deployment(self, name: str) -> ScaleTarget: ...
    def add_collector(self, fn: Callable[[], Iterable[Metric]]) -> None: ...


class _Readiness:
    """Derives each pod's Ready-condition transition time, like the API's lastTransitionTime.

    Prefers the snapshot's own `ready_transition_ts`; otherwise remembers when this controller
    first saw the pod in its current readiness, bounded by `ready_ts` / `started_ts`.
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[bool, float]] = {}

    def state(self, pod: PodSnapshot, now: float) -> PodState:
        started = pod.started_ts
        if started is None and pod.phase != PENDING:
            started = pod.created_ts
        reported = getattr(pod, "ready_transition_ts", None)
        transition: float | None = None
        if started is not None or pod.ready:  # a pod not started has no Ready condition yet
            previous = self._seen.get(pod.name)
            if previous is None or previous[0] != pod.ready:
                if pod.ready:
                    first = pod.ready_ts if pod.ready_ts is not None else now
                elif previous is not None:
                    first = now  # lost readiness while we watched
                else:  # was ready before we looked (lower bound), or Ready=False since its start
                    first = pod.ready_ts if pod.ready_ts is not None else (started if started is not None else now)
                self._seen[pod.name] = (pod.ready, first)
            transition = self._seen[pod.name][1]
        if reported:
            transition = float(reported)
        requests: dict[str, int] = {}
        if pod.cpu_request_millicores:
            requests["cpu"] = int(pod.cpu_request_millicores)
        if pod.memory_request_bytes:
            requests["memory"] = int(pod.memory_request_bytes) * 1000
        return PodState(
            name=pod.name,
            phase=pod.phase,
            ready=pod.ready,
            deleting=pod.deleting,
            start_ts=started,
            ready_transition_ts=transition,
            requests_milli=requests,
        )

    def forget_except(self, names: set[str]) -> None:
        self._seen = {name: value for name, value in self._seen.items() if name in names}


class HpaController:
    """Runs one HorizontalPodAutoscaler against the local target (see the module docstring)."""

    def __init__(
        self,
        hpa: dict[str, Any],
        cluster: Cluster,
        settings: HpaSettings | dict[str, Any] | None,
        events: EventLog,
        data_dir: Path,
        clock: Callable[[], float] = time.time,
        query: InstantQuery | None = None,
        namespace: str | None = None,
    ) -> None:
        if isinstance(settings, dict):  # e.g. a variant's `controller:` block, not yet a model
            settings = validate_data(HpaSettings, settings, "controller settings")
        self.settings = settings or HpaSettings()
        self.spec = parse_hpa(hpa, source=f"HorizontalPodAutoscaler/{hpa.get('metadata', {}).get('name', '?')}",
                              settings=self.settings)  # fmt: skip
        self.name = self.spec.name
        # Series carry the namespace the target labels everything with (the local exporter's),
        # so PromQL joins with the pod series work; the manifest's own namespace otherwise.
        self.namespace = namespace or _cluster_namespace(cluster) or self.spec.namespace
        self._cluster = cluster
        self._events = events
        self._clock = clock
        self._query = query
        self._owned_query: PrometheusQuery | None = None
        self._sampler = ResourceSampler()
        self._readiness = _Readiness()
        self._timeline = TimelineWriter(data_dir)
        self._lock = threading.Lock()  # guards _last / _history / _prior (read by status/collect)
        self._work_lock = threading.Lock()  # serialises scrape/sync
        self._history = History()
        self._prior = PriorStatus()
        self._last: Decision | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False
        self._stopped = False
        self._next_scrape_ts = 0.0
        self._next_sync_ts = 0.0

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self, thread: bool = True) -> None:
        """Register the metrics collector, scrape and sync once now, then run the timer thread
        (`thread=False`: the caller drives `run_due`, e.g. with a fake clock)."""
        if self._started:
            return
        self._started = True
        self._cluster.add_collector(self.collect)
        now = self._clock()
        self.scrape(now)
        self.sync(now)
        self._next_scrape_ts = now + self._first_scrape_delay_s()
        self._next_sync_ts = now + self.settings.sync_period_s
        if thread:
            self._thread = threading.Thread(target=self._run, name=f"hpa-{self.name}", daemon=True)
            self._thread.start()

    def align_sync(self, anchor_ts: float, phase_s: float) -> float:
        """Move the sync grid so a sync falls `phase_s` after `anchor_ts` (e.g. the load start),
        then every period; the scrape grid keeps its offset to it. Returns the next sync time.
        Studies use it to seed, record and hold equal the sync phase relative to a load step."""
        period_s = self.settings.sync_period_s
        with self._work_lock:
            now = self._clock()
            first = anchor_ts + (phase_s % period_s)
            while first - period_s > now:
                first -= period_s
            while first <= now:
                first += period_s
            self._next_sync_ts = first
            self._next_scrape_ts = first - period_s + self._first_scrape_delay_s()
            while self._next_scrape_ts <= now:
                self._next_scrape_ts += self.settings.metrics_window_s
        self._events.emit(
            "hpa_phase", hpa=self.name, anchor_ts=anchor_ts, phase_s=phase_s % period_s, next_sync_ts=first
        )
        return first

    def _first_scrape_delay_s(self) -> float:
        """Delay of the second scrape: the scrape grid is `metrics_offset_s` ahead of the sync
        grid (default: half a window, the average metrics age on a cluster)."""
        window_s = self.settings.metrics_window_s
        offset_s = self.settings.metrics_offset_s
        offset_s = window_s / 2 if offset_s is None else offset_s % window_s
        phase_s = (self.settings.sync_period_s - offset_s) % window_s
        return phase_s if phase_s > 0 else window_s

    def stop(self) -> None:
        """Stop the thread (joined) and write `hpa.parquet`. Idempotent; safe without start()."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=JOIN_TIMEOUT_S)
        with self._work_lock:
            self._timeline.close(write_parquet=True)
            if self._owned_query is not None:
                self._owned_query.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self._clock()
            due = self.run_due(now)
            if due > now:
                self._stop.wait(min(due - now, MAX_WAIT_S))

    def run_due(self, now: float) -> float:
        """Do the scrape and/or sync that are due at `now`; return when the next one is due.

        The timer thread calls this; tests with a fake clock call it directly.
        """
        try:
            if now >= self._next_scrape_ts:
                self.scrape(now)
                self._next_scrape_ts = _next(self._next_scrape_ts, self.settings.metrics_window_s, now)
            if now >= self._next_sync_ts:
                self.sync(now)
                self._next_sync_ts = _next(self._next_sync_ts, self.settings.sync_period_s, now)
        except Exception as exc:  # one bad sync must not end autoscaling for the run
            self._events.emit("warning", ts=now, message=f"HorizontalPodAutoscaler/{self.name}: {exc!r}")
            self._next_sync_ts = max(self._next_sync_ts, now + self.settings.sync_period_s)
            self._next_scrape_ts = max(self._next_scrape_ts, now + self.settings.metrics_window_s)
        return min(self._next_scrape_ts, self._next_sync_ts)

    # ---- one scrape / one sync -------------------------------------------------------------

    def scrape(self, now: float) -> None:
        """metrics-server's scrape of the target's pods (an unreadable target is skipped)."""
        with self._work_lock:
            if self._stopped:
                return
            try:
                pods = list(self._cluster.deployment(self.spec.spec.scale_target_ref.name).pods())
            except Exception:  # reported by the next sync as FailedGetScale
                return
            self._sampler.scrape(pods, now)

    def sync(self, now: float) -> Decision:
        """One reconcile: read, decide, scale, record. Returns the decision."""
        with self._work_lock:
            target_name = self.spec.spec.scale_target_ref.name
            with self._lock:
                history, prior, last = self._history, self._prior, self._last
            try:
                target = self._cluster.deployment(target_name)
                spec_replicas = int(target.spec_replicas)
                snapshots = list(target.pods())
            except Exception as exc:  # any failure to read the target is upstream's FailedGetScale
                decision = target_unavailable(prior, history, str(exc), now, last.current_replicas if last else 0)
                self._commit(decision, last)
                return decision
            pods = tuple(self._readiness.state(pod, now) for pod in snapshots)
            self._readiness.forget_except({pod.name for pod in snapshots})
            readings = tuple(self._reading(metric, pods, now) for metric in self.spec.metrics)
            observation = Observation(spec_replicas=spec_replicas, pods=pods, readings=readings)
            decision = decide(self.spec, self.settings, observation, history, now, prior)
            if decision.rescale:
                try:
                    target.scale(decision.desired_replicas, by="hpa")
                except Exception as exc:  # the scale update failed: keep the history honest
                    decision = rescale_failed(decision, str(exc))
                    self._events.emit(
                        "warning", ts=now, message=f"HorizontalPodAutoscaler/{self.name}: {decision.reason}"
                    )
                else:
                    self._events.emit(
                        "hpa_rescale",
                        ts=now,
                        hpa=self.name,
                        reason=decision.reason,
                        **{"from": decision.current_replicas, "to": decision.desired_replicas},
                    )
            self._commit(decision, last)
            return decision

    def _reading(self, metric: MetricSpec, pods: tuple[PodState, ...], now: float) -> MetricReading:
        names = {pod.name for pod in pods}
        if metric.type in (RESOURCE, CONTAINER_RESOURCE):
            resource = metric.metric_name
            values = self._sampler.cpu() if resource == "cpu" else self._sampler.memory()
            return PodMetrics({name: value for name, value in values.items() if name in names})
        query = self._query_fn()
        promql = self.settings.custom_metrics.get(metric.metric_name, "")
        if query is None:
            return FetchError("no Prometheus to query for custom metrics")
        if metric.type == PODS:
            return pods_reading(query, promql, names, now, self.settings.metrics_window_s)
        if metric.type == OBJECT:
            return object_reading(query, promql, now)
        if metric.type == EXTERNAL:
            return external_reading(query, promql, now)
        return FetchError(f"unknown metric source type {metric.type!r}")

    def _query_fn(self) -> InstantQuery | None:
        if self._query is None:
            url = getattr(self._cluster, "prometheus_url", None)
            if not url:
                return None
            timeout_s = max(0.5, min(5.0, self.settings.sync_period_s / 2))
            self._owned_query = PrometheusQuery(str(url), timeout_s=timeout_s)
            self._query = self._owned_query
        return self._query

    def _commit(self, decision: Decision, last: Decision | None) -> None:
        with self._lock:
            self._history = decision.history
            self._prior = decision.prior()
            self._last = decision
        self._emit_condition_changes(last.conditions if last else (), decision.conditions, decision.ts)
        self._timeline.append(timeline_row(self.name, decision))

    def _emit_condition_changes(self, before: tuple[Condition, ...], after: tuple[Condition, ...], now: float) -> None:
        previous = {c.type: (c.status, c.reason) for c in before}
        for condition in after:
            if previous.get(condition.type) != (condition.status, condition.reason):
                self._events.emit(
                    "hpa_condition",
                    ts=now,
                    hpa=self.name,
                    type=condition.type,
                    status=condition.status,
                    reason=condition.reason,
                    message=condition.message,
                )

    # ---- observation -----------------------------------------------------------------------

    @property
    def last_decision(self) -> Decision | None:
        with self._lock:
            return self._last

    def status(self) -> HpaStatus:
        """The HPA status now, like `kubectl describe hpa` (`.describe()` renders it)."""
        with self._lock:
            last = self._last
        return build_status(self.spec, last, self.namespace)

    def collect(self) -> list[Metric]:
        """kube-state-metrics' `kube_horizontalpodautoscaler_*` families for this HPA."""
        return ksm_families(self.status())


def _cluster_namespace(cluster: object) -> str | None:
    namespace = getattr(cluster, "namespace", None) or getattr(getattr(cluster, "settings", None), "namespace", None)
    return namespace if isinstance(namespace, str) and namespace else None


def _next(scheduled: float, period_s: float, now: float) -> float:
    """The next tick after `now` on the `scheduled + k × period` grid (skips missed ticks)."""
    following = scheduled + period_s
    if following <= now:
        following = now + period_s
    return following
