"""Scenario events on the local target: admission (before the run) and actions (during it).

One action per event kind, registered with `@action(kind)` (a duplicate kind is an error):
`admit(event, objects) -> list[str]` names what the local target cannot do, `perform(cluster,
event, emit) -> dict` does it and returns its result for events.jsonl:

* `rollout` — the changed objects (`deploy/rollout_change.py`) become the web Deployment's new
  template; `deploy/local/rollout.py` rolls it under the Deployment's strategy; the result has
  the duration, the limits and the pod counts seen (max surge, max unavailable, lowest ready).
* `kill-pod` — ready web pods deleted with grace 0 (SIGKILL, no drain: like a lost node);
  waits until the Deployment has its ready pods back.
* `restart-db` / `restart-cache` — the PostgreSQL / Redis container stopped in place (its stop
  signal); the pod supervisor restarts it; waits until it and the web pods are ready again.
* `scale-to` — a manual scale of the web Deployment (`by: user`); the HPA may override it.
* `add-latency` / `remove-latency` — web→postgres or web→redis only: the tier link's userspace
  delay relay (`deploy/local/delay_relay.py`, started for every link an `add-latency` names, see
  `delayed_services`) is set, through its control socket, to the variant's delay + `delay_ms`
  one way per direction (jitters add as variances), then back to the variant's delay. The relay
  is used with or without `sch_netem` (a netem qdisc of the variant stays as it is, the event's
  delay comes on top), so events need no root. The result has the link, the mechanism and the
  relay's delay after the change; a `fault` event marks the start of the added delay.

Events act only on the objects this run deployed (names from docs/contracts.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpabench.deploy.local.rollout import RolloutWatch
from hpabench.deploy.local.workloads import RUNTIME_POSTGRES, RUNTIME_REDIS, parse_objects
from hpabench.deploy.rollout_change import changed_objects
from hpabench.errors import SpecError, TargetError
from hpabench.scenarios.events import AddLatency, BaseEvent, KillPod, RemoveLatency, Rollout, ScaleTo

if TYPE_CHECKING:
    from hpabench.deploy.local.cluster import LocalCluster

WEB = "web"
RESTORE_TIMEOUT_S = 120.0

Emit = Callable[..., Any]


@dataclass(frozen=True)
class Action:
    admit: Callable[[BaseEvent, list[dict[str, Any]]], list[str]]
    perform: Callable[[LocalCluster, BaseEvent, Emit], dict[str, Any]]


ACTIONS: dict[str, Action] = {}


def action(kind: str) -> Callable[[type], type]:
    """Register a class with static `admit` and `perform` as the local action of `kind`."""

    def register(cls: type) -> type:
        if kind in ACTIONS:
            raise ValueError(f"local event action {kind!r} is already registered")
        ACTIONS[kind] = Action(cls.admit, cls.perform)  # type: ignore[attr-defined]
        return cls

    return register


def admit(event: BaseEvent, objects: list[dict[str, Any]]) -> list[str]:
    found = ACTIONS.get(event.kind_name)
    if found is None:
        return [f"the local target cannot perform {event.kind_name!r} events"]
    return found.admit(event, objects)


def perform(cluster: LocalCluster, event: BaseEvent, emit: Emit) -> dict[str, Any]:
    found = ACTIONS.get(event.kind_name)
    if found is None:
        raise TargetError(f"the local target cannot perform {event.kind_name!r} events")
    return found.perform(cluster, event, emit)


def _workloads(objects: list[dict[str, Any]]) -> dict[str, str]:
    """Workload name → runtime of the rendered objects ({} if they do not parse)."""
    try:
        return {w.name: w.runtime for w in parse_objects(objects).workloads}
    except SpecError:
        return {}


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, cluster: LocalCluster) -> float:
    """Seconds until `condition()` held; TargetError naming `what` after `timeout_s` or when the
    cluster is being stopped (teardown after Ctrl-C must not wait for a disruption to heal)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s or cluster.stopped:
            raise TargetError(f"{what} not within {timeout_s:g} s" if not cluster.stopped else f"{what}: stack stopped")
        time.sleep(0.05)
    return time.monotonic() - start


def _web_restored(cluster: LocalCluster) -> bool:
    web = cluster.deployment(WEB)
    return bool(web.ready_count() >= web.spec_replicas)


@action("rollout")
class RolloutAction:
    @staticmethod
    def admit(event: BaseEvent, objects: list[dict[str, Any]]) -> list[str]:
        assert isinstance(event, Rollout)
        try:
            new = changed_objects(objects, event)
            parse_objects(new)
        except ValueError as exc:
            return [str(exc)]
        except SpecError as exc:
            return [f"after the change: {issue}" for issue in exc.issues]
        return []

    @staticmethod
    def perform(cluster: LocalCluster, event: BaseEvent, emit: Emit) -> dict[str, Any]:
        assert isinstance(event, Rollout)
        web = cluster.deployment(WEB)
        new_objects = changed_objects(cluster.objects, event)
        from_hash = web.template_hash
        if not cluster.apply_template(new_objects, WEB):
            raise TargetError("the rollout did not change the web pod template")
        strategy = web.spec.strategy
        replicas = web.spec_replicas
        surge, unavailable = strategy.limits(replicas)
        watch = RolloutWatch(web.rollout_state, web.reconcile, strategy)
        deadline_s = min(event.timeout_s, strategy.progress_deadline_s)
        outcome = watch.run(from_hash, web.template_hash, deadline_s, stop=lambda: cluster.stopped)
        result = {
            "from": outcome.from_hash,
            "to": outcome.to_hash,
            "complete": outcome.complete,
            "started_ts": outcome.started_ts,
            "ended_ts": outcome.ended_ts,
            "duration_s": round(outcome.duration_s, 3),
            "strategy": strategy.kind,
            "replicas_at_start": replicas,
            "max_surge_pods": surge,
            "max_unavailable_pods": unavailable,
            "surge_seen": outcome.max_surge_seen(),
            "unavailable_seen": outcome.max_unavailable_seen(),
            "min_ready": outcome.min_ready(),
            "replicas_at_end": web.spec_replicas,
        }
        emit("rollout_finished", deployment=WEB, **result)
        if not outcome.complete:
            raise TargetError(f"rollout of web not complete after {deadline_s:g} s (progress deadline)")
        return result


class _WebAction:
    """An action on the web Deployment: admissible when the rendered objects have one."""

    @staticmethod
    def admit(event: BaseEvent, objects: list[dict[str, Any]]) -> list[str]:
        kinds = {(o.get("kind"), (o.get("metadata") or {}).get("name")) for o in objects}
        return [] if ("Deployment", WEB) in kinds else ["the rendered objects have no Deployment web"]


@action("kill-pod")
class KillPodAction(_WebAction):
    @staticmethod
    def perform(cluster: LocalCluster, event: BaseEvent, emit: Emit) -> dict[str, Any]:
        assert isinstance(event, KillPod)
        web = cluster.deployment(WEB)
        ready = [p for p in web.live_pods() if p.ready and not p.deleting]
        if not ready:
            raise TargetError("no ready web pod to kill")
        victims = ready[: min(len(ready), event.victims(len(ready)))]
        for pod in victims:
            emit("fault", message=f"kill-pod: {pod.name} killed (SIGKILL, no drain)", pod=pod.name, event="kill-pod")
            pod.delete(grace_s=0)
        web.reconcile()  # the ReplicaSet controller sees the deleted pods and replaces them
        restored_s = wait_until(lambda: _web_restored(cluster), RESTORE_TIMEOUT_S, "web pods replaced", cluster)
        return {"killed": [p.name for p in victims], "ready_before": len(ready), "restored_s": round(restored_s, 3)}


class _RestartAction:
    runtime = ""
    what = ""

    @classmethod
    def admit(cls, event: BaseEvent, objects: list[dict[str, Any]]) -> list[str]:
        if cls.runtime not in _workloads(objects).values():
            return [f"the rendered objects have no {cls.what} workload to restart"]
        return []

    @classmethod
    def perform(cls, cluster: LocalCluster, event: BaseEvent, emit: Emit) -> dict[str, Any]:
        deployment = next(d for d in cluster.deployments() if d.spec.runtime == cls.runtime)
        pod = next((p for p in deployment.live_pods() if not p.deleting), None)
        if pod is None:
            raise TargetError(f"no {cls.what} pod to restart")
        restarts = pod.restarts
        emit("fault", message=f"{event.kind_name}: {cls.what} container of {pod.name} stopped", pod=pod.name)
        exit_code = pod.restart_container()
        wait_until(lambda: pod.restarts > restarts, RESTORE_TIMEOUT_S, f"{cls.what} restarted", cluster)
        down_s = wait_until(lambda: pod.ready, RESTORE_TIMEOUT_S, f"{cls.what} ready again", cluster)
        web_s = wait_until(lambda: _web_restored(cluster), RESTORE_TIMEOUT_S, "web pods ready again", cluster)
        return {
            "pod": pod.name,
            "exit_code": exit_code,
            "ready_after_s": round(down_s, 3),
            "web_ready_s": round(web_s, 3),
        }


@action("restart-db")
class RestartDbAction(_RestartAction):
    runtime, what = RUNTIME_POSTGRES, "PostgreSQL"


@action("restart-cache")
class RestartCacheAction(_RestartAction):
    runtime, what = RUNTIME_REDIS, "Redis"


@action("scale-to")
class ScaleToAction(_WebAction):
    @staticmethod
    def perform(cluster: LocalCluster, event: BaseEvent, emit: Emit) -> dict[str, Any]:
        assert isinstance(event, ScaleTo)
        web = cluster.deployment(WEB)
        before = web.spec_replicas
        web.scale(event.replicas, by="user")
        return {"from": before, "to": event.replicas}


# The tiers a latency event may name, besides web, and the Service whose link it delays.
LINK_SERVICES = {"postgres": "postgres", "redis": "redis"}
RELAY_MECHANISM = "userspace-relay"


def link_service(event: BaseEvent) -> str | None:
    """The Service whose tier link a latency event acts on (None: not a web→db/cache link)."""
    between = set(getattr(event, "between", ()))
    if WEB not in between or len(between) != 2:
        return None
    (other,) = between - {WEB}
    return LINK_SERVICES.get(other)


def delayed_services(events: list[BaseEvent]) -> tuple[str, ...]:
    """The Services whose link an `add-latency` of `events` delays (sorted, no duplicates)."""
    found = {link_service(e) for e in events if isinstance(e, AddLatency)}
    return tuple(sorted(s for s in found if s is not None))


class _LatencyAction:
    @staticmethod
    def admit(event: BaseEvent, objects: list[dict[str, Any]]) -> list[str]:
        service = link_service(event)
        if service is None:
            return [
                "the local target can delay only the web→postgres and web→redis links "
                f"(got between: {list(getattr(event, 'between', []))})"
            ]
        names = {(o.get("kind"), (o.get("metadata") or {}).get("name")) for o in objects}
        if ("Service", service) not in names:
            return [f"the rendered objects have no Service {service} to delay"]
        return []

    @staticmethod
    def relay(cluster: LocalCluster, event: BaseEvent) -> Any:
        service = link_service(event)
        tiers = cluster.tier_links
        relay = tiers.delay_relay(service) if tiers is not None and service is not None else None
        if relay is None:
            raise TargetError(
                f"{event.kind_name}: no delay relay on the web→{service} link (the stack was started without "
                "knowing the scenario's latency events)"
            )
        return relay


@action("add-latency")
class AddLatencyAction(_LatencyAction):
    @staticmethod
    def perform(cluster: LocalCluster, event: BaseEvent, emit: Emit) -> dict[str, Any]:
        assert isinstance(event, AddLatency)
        relay = _LatencyAction.relay(cluster, event)
        try:
            state = relay.set_extra(event.delay_ms, event.jitter_ms)
        except (OSError, ValueError) as exc:
            raise TargetError(f"add-latency: the delay relay for {relay.service} did not take it: {exc}") from None
        link = f"web-{relay.service}"
        emit(
            "fault",
            message=f"add-latency: {link} +{event.delay_ms:g} ms one way (±{event.jitter_ms:g} ms), {RELAY_MECHANISM}",
            event="add-latency",
            link=link,
        )
        return {
            "link": link,
            "mechanism": RELAY_MECHANISM,
            "added_delay_ms": event.delay_ms,
            "added_jitter_ms": event.jitter_ms,
            "delay_ms": state["delay_ms"],
            "jitter_ms": state["jitter_ms"],
            "variant_delay_ms": relay.base_delay_ms,
        }


@action("remove-latency")
class RemoveLatencyAction(_LatencyAction):
    @staticmethod
    def perform(cluster: LocalCluster, event: BaseEvent, emit: Emit) -> dict[str, Any]:
        assert isinstance(event, RemoveLatency)
        relay = _LatencyAction.relay(cluster, event)
        try:
            state = relay.restore()
        except (OSError, ValueError) as exc:
            raise TargetError(f"remove-latency: the delay relay for {relay.service} did not take it: {exc}") from None
        return {
            "link": f"web-{relay.service}",
            "mechanism": RELAY_MECHANISM,
            "delay_ms": state["delay_ms"],
            "jitter_ms": state["jitter_ms"],
            "restored": state["delay_ms"] == relay.base_delay_ms,
        }
