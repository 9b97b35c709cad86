"""Scenario events on a Kubernetes cluster, as functions over a small client interface.

The k8s target (deploy/k8s/, not on this branch) is meant to implement `KubeEventApi` with the
official `kubernetes` client (AppsV1Api / CoreV1Api calls named in each method's docstring) and
call `admit` / `perform` from its `admit_events` / `Deployed.perform_event`. Everything here is
tested against unit fakes only.

* `rollout` — the ConfigMap (for `config`) is replaced first, then the web Deployment's pod
  template; the rollout is watched like `kubectl rollout status`: done when the controller has
  observed the new generation and updated = available = desired replicas with no old replica
  left (`status.replicas == status.updatedReplicas`), failed on `ProgressDeadlineExceeded` or
  after `timeout_s`.
* `kill-pod` — ready web pods deleted with `gracePeriodSeconds: 0`.
* `restart-db` / `restart-cache` — the pod of the `postgres` StatefulSet / `redis` Deployment is
  deleted (its controller recreates it); waits until it is ready again.
* `scale-to` — the web Deployment's scale subresource.
* `add-latency` / `remove-latency` — refused: a cluster needs network chaos tooling this suite
  does not install.
Only objects in the run's namespace with the suite's names are touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from hpabench.deploy.rollout_change import WEB_CONFIG, changed_objects
from hpabench.errors import TargetError
from hpabench.scenarios.events import BaseEvent, KillPod, Rollout, ScaleTo

WEB = "web"
NAME_LABEL = "app.kubernetes.io/name"
POLL_S = 1.0
RESTORE_TIMEOUT_S = 300.0


class KubeEventApi(Protocol):
    def read_deployment(self, namespace: str, name: str) -> dict[str, Any]:
        """AppsV1Api.read_namespaced_deployment (as a dict: metadata, spec, status)."""
        ...

    def replace_deployment_template(self, namespace: str, name: str, template: dict[str, Any]) -> None:
        """AppsV1Api.patch_namespaced_deployment with {"spec": {"template": template}}."""
        ...

    def replace_configmap_data(self, namespace: str, name: str, data: dict[str, str]) -> None:
        """CoreV1Api.patch_namespaced_config_map with {"data": data}."""
        ...

    def list_pods(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        """CoreV1Api.list_namespaced_pod (items as dicts)."""
        ...

    def delete_pod(self, namespace: str, name: str, grace_period_s: int | None) -> None:
        """CoreV1Api.delete_namespaced_pod (grace_period_seconds)."""
        ...

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        """AppsV1Api.patch_namespaced_deployment_scale with {"spec": {"replicas": n}}."""
        ...


def admit(event: BaseEvent, objects: list[dict[str, Any]]) -> list[str]:
    """What a cluster cannot do with `event` on `objects`."""
    if event.kind_name in ("add-latency", "remove-latency"):
        return [f"{event.kind_name} needs network chaos tooling on the cluster, which the k8s target does not install"]
    if isinstance(event, Rollout):
        try:
            changed_objects(objects, event)
        except ValueError as exc:
            return [str(exc)]
    return []


def _ready(pod: dict[str, Any]) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def rollout_done(deployment: dict[str, Any]) -> tuple[bool, str | None]:
    """`kubectl rollout status` for a Deployment dict: (done, failure reason or None)."""
    metadata, spec, status = (
        deployment.get("metadata") or {},
        deployment.get("spec") or {},
        deployment.get("status") or {},
    )
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return False, "ProgressDeadlineExceeded"
    if int(status.get("observedGeneration") or 0) < int(metadata.get("generation") or 0):
        return False, None
    desired = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    return updated >= desired and total == updated and available >= updated, None


def _wait(check: Callable[[], bool], timeout_s: float, what: str, sleep: Callable[[float], None]) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            raise TargetError(f"{what} not within {timeout_s:g} s")
        sleep(POLL_S)
    return time.monotonic() - start


def perform(
    api: KubeEventApi,
    namespace: str,
    objects: list[dict[str, Any]],
    event: BaseEvent,
    emit: Callable[..., Any],
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Perform `event` in `namespace` (see the module docstring); returns its result."""
    if isinstance(event, Rollout):
        new = changed_objects(objects, event)
        if event.config is not None:
            config = next(o for o in new if o["kind"] == "ConfigMap" and o["metadata"]["name"] == WEB_CONFIG)
            api.replace_configmap_data(namespace, WEB_CONFIG, dict(config["data"]))
        web = next(o for o in new if o["kind"] == "Deployment" and o["metadata"]["name"] == WEB)
        started = time.time()
        api.replace_deployment_template(namespace, WEB, web["spec"]["template"])
        emit("rollout_started", deployment=WEB)
        failure: list[str] = []

        def done() -> bool:
            ok, reason = rollout_done(api.read_deployment(namespace, WEB))
            if reason:
                failure.append(reason)
                return True
            return ok

        _wait(done, event.timeout_s, "rollout of web", sleep)
        result = {"complete": not failure, "duration_s": round(time.time() - started, 3)}
        emit("rollout_finished", deployment=WEB, **result)
        if failure:
            raise TargetError(f"rollout of web failed: {failure[0]}")
        objects[:] = new  # the cluster now runs the changed objects
        return result
    if isinstance(event, KillPod):
        pods = [p for p in api.list_pods(namespace, f"{NAME_LABEL}={WEB}") if _ready(p)]
        if not pods:
            raise TargetError("no ready web pod to kill")
        victims = [p["metadata"]["name"] for p in pods[: event.victims(len(pods))]]
        for name in victims:
            emit("fault", message=f"kill-pod: {name} deleted with grace 0", pod=name, event="kill-pod")
            api.delete_pod(namespace, name, 0)
        return {"killed": victims}
    if event.kind_name in ("restart-db", "restart-cache"):
        workload = "postgres" if event.kind_name == "restart-db" else "redis"
        pods = api.list_pods(namespace, f"{NAME_LABEL}={workload}")
        if not pods:
            raise TargetError(f"no {workload} pod to restart")
        name = pods[0]["metadata"]["name"]
        emit("fault", message=f"{event.kind_name}: {name} deleted", pod=name)
        api.delete_pod(namespace, name, None)
        ready_s = _wait(
            lambda: any(_ready(p) for p in api.list_pods(namespace, f"{NAME_LABEL}={workload}")),
            RESTORE_TIMEOUT_S,
            f"{workload} ready again",
            sleep,
        )
        return {"pod": name, "ready_after_s": round(ready_s, 3)}
    if isinstance(event, ScaleTo):
        before = int((api.read_deployment(namespace, WEB).get("spec") or {}).get("replicas", 1))
        api.scale_deployment(namespace, WEB, event.replicas)
        return {"from": before, "to": event.replicas}
    raise TargetError(f"the k8s target cannot perform {event.kind_name!r} events")
