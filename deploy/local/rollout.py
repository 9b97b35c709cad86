"""Rolling updates on the local target: the deployment controller's arithmetic, and a watcher.

`rolling_step(...)` is pure: given the desired replicas, the strategy and the pods of the new
and the old templates, it says how many new pods to create and which old pods to delete now,
following the deployment controller (kubernetes/pkg/controller/deployment/rolling.go):

* scale up the new ReplicaSet while all non-terminating pods ≤ replicas + maxSurge;
* scale down old pods while the *available* pods (ready for `minReadySeconds`, not terminating)
  stay ≥ replicas − maxUnavailable, minus the new pods that are not available yet — unhealthy
  old pods go first (cleanupUnhealthyReplicas), then old pods the ReplicaSet would pick;
* terminating pods count against neither limit (as in Kubernetes: they left their ReplicaSet),
  but a Recreate strategy waits until every old pod is gone before creating a new one.

When the HPA scales the Deployment during a rollout, the next step uses the new replica count:
extra pods come from the new template, surplus ones from the old (Kubernetes spreads a scale
proportionally over both ReplicaSets; this is the simplification, stated).

`RolloutWatch` drives one rollout: it reconciles the deployment every `tick_s` until the rollout
is complete (no old pod left, `replicas` new pods available) or its progress deadline passes,
sampling the pod counts so the limits and the lowest ready capacity can be checked afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hpabench.deploy.local.pods import PodInfo
from hpabench.deploy.strategy import RolloutStrategy


def available(pod: PodInfo, min_ready_s: float, now: float) -> bool:
    """Ready for at least `min_ready_s` and not terminating (Kubernetes' "available")."""
    return pod.ready and not pod.deleting and pod.ready_ts is not None and now - pod.ready_ts >= min_ready_s


def _rank(pod: PodInfo) -> tuple[bool, float, float]:
    # Not ready first, then the most recently ready, then the newest (the ReplicaSet's order).
    ready_since = pod.ready_ts if pod.ready and pod.ready_ts is not None else 0.0
    return (pod.ready, -ready_since, -pod.created_ts)


@dataclass(frozen=True)
class Step:
    """What to do now: create `create` new pods, delete the old pods named in `delete`."""

    create: int
    delete: tuple[str, ...]


def rolling_step(replicas: int, strategy: RolloutStrategy, new: list[PodInfo], old: list[PodInfo], now: float) -> Step:
    """One reconcile of a rollout (pure; see the module docstring). Terminating pods are ignored
    except by Recreate, which waits for them."""
    new_active = [p for p in new if not p.deleting]
    old_active = [p for p in old if not p.deleting]
    surge, unavailable = strategy.limits(replicas)
    if strategy.kind == "Recreate":
        if old_active:
            return Step(0, tuple(p.name for p in old_active))
        if any(p.deleting for p in old):
            return Step(0, ())
        return Step(max(0, replicas - len(new_active)), ())
    total = len(new_active) + len(old_active)
    create = max(0, min(replicas + surge - total, replicas - len(new_active)))
    min_available = max(0, replicas - unavailable)
    new_unavailable = sum(1 for p in new_active if not available(p, strategy.min_ready_s, now))
    # The pods being created now are not available either.
    new_unavailable += create
    total += create
    budget = total - min_available - new_unavailable
    victims: list[str] = []
    if budget > 0:
        unhealthy = sorted((p for p in old_active if not available(p, strategy.min_ready_s, now)), key=_rank)
        victims += [p.name for p in unhealthy[:budget]]
    available_count = sum(1 for p in new_active + old_active if available(p, strategy.min_ready_s, now))
    can_remove = min(available_count - min_available, total - len(victims) - min_available - new_unavailable)
    healthy = sorted((p for p in old_active if p.name not in victims), key=_rank)
    if can_remove > 0:
        victims += [p.name for p in healthy[:can_remove]]
    # Scaled down below what the new template already provides (the HPA scaled in): old pods go.
    surplus = len(new_active) + len(old_active) - len(victims) - (replicas + surge)
    if surplus > 0:
        rest = [p.name for p in sorted(old_active, key=_rank) if p.name not in victims]
        victims += rest[:surplus]
    return Step(create, tuple(victims))


def rollout_complete(
    replicas: int, strategy: RolloutStrategy, new: list[PodInfo], old: list[PodInfo], now: float
) -> bool:
    """No old pod left running and `replicas` new pods available."""
    if any(not p.deleting for p in old):
        return False
    new_available = sum(1 for p in new if available(p, strategy.min_ready_s, now))
    return new_available >= replicas


@dataclass(frozen=True)
class RolloutSample:
    """Pod counts at `ts`: desired, non-terminating, available, terminating, ready (new + old)."""

    ts: float
    replicas: int
    active: int
    available: int
    terminating: int
    ready: int
    new_active: int


@dataclass
class RolloutOutcome:
    """How a rollout went. Times are unix seconds; `complete` False means the deadline passed."""

    started_ts: float
    ended_ts: float
    complete: bool
    from_hash: str
    to_hash: str
    samples: list[RolloutSample] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.ended_ts - self.started_ts

    def max_surge_seen(self) -> int:
        return max((s.active - s.replicas for s in self.samples), default=0)

    def max_unavailable_seen(self) -> int:
        return max((s.replicas - s.available for s in self.samples), default=0)

    def min_ready(self) -> int | None:
        return min((s.ready for s in self.samples), default=None)


class RolloutWatch:
    """Reconcile `reconcile()` until `state()` reports completion (see module docstring).

    `state()` returns (replicas, new pods, old pods); `reconcile()` applies one `rolling_step`.
    """

    def __init__(
        self,
        state: Callable[[], tuple[int, list[PodInfo], list[PodInfo]]],
        reconcile: Callable[[], None],
        strategy: RolloutStrategy,
        tick_s: float = 0.05,
    ) -> None:
        self.state = state
        self.reconcile = reconcile
        self.strategy = strategy
        self.tick_s = tick_s

    def run(self, from_hash: str, to_hash: str, deadline_s: float, stop: Callable[[], bool]) -> RolloutOutcome:
        started = time.time()
        outcome = RolloutOutcome(started, started, False, from_hash, to_hash)
        while True:
            self.reconcile()
            now = time.time()
            replicas, new, old = self.state()
            pods = new + old
            outcome.samples.append(
                RolloutSample(
                    ts=now,
                    replicas=replicas,
                    active=sum(1 for p in pods if not p.deleting),
                    available=sum(1 for p in pods if available(p, self.strategy.min_ready_s, now)),
                    terminating=sum(1 for p in pods if p.deleting),
                    ready=sum(1 for p in pods if p.ready and not p.deleting),
                    new_active=sum(1 for p in new if not p.deleting),
                )
            )
            if rollout_complete(replicas, self.strategy, new, old, now):
                outcome.complete = True
                break
            if now - started > deadline_s or stop():
                break
            time.sleep(self.tick_s)
        outcome.ended_ts = time.time()
        return outcome
