"""A Deployment or StatefulSet: keeps `spec_replicas` pods, like the ReplicaSet/StatefulSet controllers.

`scale(n, by=...)` records a `scale` event and reconciles at once: missing pods are created,
surplus pods chosen like the ReplicaSet controller (`pick_pods_to_delete`, pure) and deleted
gracefully. StatefulSet pods are named `<name>-<ordinal>` and scaled from the highest ordinal;
Deployment pods `<name>-<template hash>-<5 chars>`. Pods that are gone are forgotten, their
pods handed to `on_gone` (for their pods.jsonl row).

`start_rollout(spec, make_pod)` switches a Deployment to a new pod template; from then on every
`reconcile` is a rolling-update step (`deploy/local/rollout.py`) until no pod of an older
template is left, honouring the strategy's maxSurge / maxUnavailable / minReadySeconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from hpabench.deploy.local.pods import Pod, PodInfo
from hpabench.deploy.local.rollout import rolling_step
from hpabench.deploy.local.workloads import WorkloadSpec, random_suffix
from hpabench.rundir import EventLog

SCALERS = ("hpa", "user", "pipeline")


def _rank(pod: PodInfo) -> tuple[Any, ...]:
    """Sort key: smaller = deleted first (ReplicaSet controller's ActivePodsWithRanks order)."""
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(pod.phase, 0)
    ready_since = pod.ready_ts if pod.ready and pod.ready_ts is not None else 0.0
    return (
        phase_rank,  # Pending < Unknown < Running
        pod.ready,  # not ready < ready
        -ready_since,  # ready for a shorter time first
        -pod.restarts,  # more restarts first
        -pod.created_ts,  # newer first
    )


def pick_pods_to_delete(pods: list[PodInfo], count: int) -> list[str]:
    """Names of the `count` pods a ReplicaSet would delete first (deleting pods are skipped)."""
    candidates = [p for p in pods if not p.deleting]
    return [p.name for p in sorted(candidates, key=_rank)[: max(0, count)]]


class LocalDeployment:
    """One workload's pods. Thread-safe: the HPA controller scales from its own thread."""

    def __init__(
        self,
        spec: WorkloadSpec,
        make_pod: Callable[[str], Pod],
        events: EventLog,
        on_gone: Callable[[Pod], None],
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.kind = spec.kind
        self._make_pod = make_pod
        self._events = events
        self._on_gone = on_gone
        self._lock = threading.RLock()
        self._replicas: int = spec.replicas
        self._pods: list[Pod] = []
        self._pod_hash: dict[str, str] = {}  # pod name → the template hash it was created from
        self._stopped = False

    @property
    def spec_replicas(self) -> int:
        return self._replicas

    @property
    def container(self) -> str:
        return str(self.spec.main.name)

    def scale(self, replicas: int, by: str = "user") -> None:
        """Set the desired replica count and reconcile. `by`: hpa | user | pipeline."""
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise ValueError(f"replicas must be a non-negative integer, not {replicas!r}")
        if by not in SCALERS:
            raise ValueError(f"by must be one of {', '.join(SCALERS)}")
        with self._lock:
            if self._stopped:
                return
            before = self._replicas
            self._replicas = replicas
            if before != replicas:
                self._events.emit("scale", deployment=self.name, by=by, **{"from": before, "to": replicas})
            self.reconcile()

    def pods(self) -> list[PodInfo]:
        """Snapshots of the pods that exist (including terminating ones), oldest first."""
        with self._lock:
            pods = list(self._pods)
        return [p.info() for p in pods if not p.gone]

    def live_pods(self) -> list[Pod]:
        with self._lock:
            return [p for p in self._pods if not p.gone]

    def pod(self, name: str) -> Pod:
        with self._lock:
            for pod in self._pods:
                if pod.name == name:
                    return pod
        raise KeyError(name)

    def _new_name(self) -> str:
        taken = {p.name for p in self._pods}
        if self.kind == "StatefulSet":
            ordinal = 0
            while f"{self.name}-{ordinal}" in taken:
                ordinal += 1
            return f"{self.name}-{ordinal}"
        while True:
            name = f"{self.name}-{self.spec.template_hash}-{random_suffix()}"
            if name not in taken:
                return name

    @property
    def template_hash(self) -> str:
        return self.spec.template_hash

    def start_rollout(self, spec: WorkloadSpec, make_pod: Callable[[str], Pod]) -> bool:
        """Switch to a new pod template (False if it is the current one) and take a first step."""
        if self.kind != "Deployment":
            raise ValueError(f"{self.kind} {self.name}: only a Deployment rolls out here")
        with self._lock:
            if spec.template_hash == self.spec.template_hash:
                return False
            before = self.spec.template_hash
            self.spec, self._make_pod = spec, make_pod
            self._events.emit("rollout_started", deployment=self.name, **{"from": before, "to": spec.template_hash})
            self.reconcile()
        return True

    def rollout_state(self) -> tuple[int, list[PodInfo], list[PodInfo]]:
        """(desired replicas, pods of the current template, pods of older ones), gone pods excluded."""
        with self._lock:
            pods = [p for p in self._pods if not p.gone]
            current = self.spec.template_hash
            new = [p.info() for p in pods if self._pod_hash.get(p.name) == current]
            old = [p.info() for p in pods if self._pod_hash.get(p.name) != current]
            return self._replicas, new, old

    def _create(self, count: int) -> None:
        for _ in range(count):
            pod = self._make_pod(self._new_name())
            self._pod_hash[pod.name] = self.spec.template_hash
            self._pods.append(pod)
            pod.start()

    def reconcile(self) -> None:
        """Create or delete pods so that `spec_replicas` are not terminating (a rolling-update
        step while pods of an older template exist)."""
        with self._lock:
            if self._stopped:
                return
            replicas, new, old = self.rollout_state()
            if self.kind == "Deployment" and old:
                step = rolling_step(replicas, self.spec.strategy, new, old, time.time())
                self._create(step.create)
                for pod in self._pods:
                    if pod.name in step.delete:
                        pod.delete()
                return
            active = [p for p in self._pods if not p.deleting and not p.gone]
            missing = self._replicas - len(active)
            self._create(missing)
            if missing < 0:
                if self.kind == "StatefulSet":
                    victims = sorted(active, key=lambda p: int(p.name.rsplit("-", 1)[1]), reverse=True)[:-missing]
                    names = {p.name for p in victims}
                else:
                    names = set(pick_pods_to_delete([p.info() for p in active], -missing))
                for pod in active:
                    if pod.name in names:
                        pod.delete()

    def forget_gone(self) -> None:
        """Drop pods whose supervisor finished, reporting their pods.jsonl rows."""
        with self._lock:
            gone = [p for p in self._pods if p.gone]
            self._pods = [p for p in self._pods if not p.gone]
            for pod in gone:
                self._pod_hash.pop(pod.name, None)
        for pod in gone:
            self._on_gone(pod)

    def ready_count(self) -> int:
        return sum(1 for p in self.live_pods() if p.ready and not p.deleting)

    def stop(self, timeout_s: float) -> list[Pod]:
        """Delete every pod and wait for them; returns pods still not gone after `timeout_s`."""
        with self._lock:
            self._stopped = True
            pods = list(self._pods)
        for pod in pods:
            pod.delete()
        deadline = time.monotonic() + timeout_s
        for pod in pods:
            pod.wait_gone(max(0.0, deadline - time.monotonic()))
        self.forget_gone()
        return [p for p in pods if not p.gone]
