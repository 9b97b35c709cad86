"""Scenario events on a Kubernetes cluster, as functions over a small client interface.

The k8s target (`deploy/k8s/target.py`) calls `admit` from its `admit_events` and `perform` from
`K8sDeployed.perform_event`, with `deploy/k8s/event_client.RestEventApi` (plain REST through
`KubeApi`, every request counted for the RBAC coverage test) as the `KubeEventApi`.

* `rollout` — the change (`deploy/rollout_change.py`) is sent as a patch of the web Deployment's
  pod template (`template_patch`): a new `image_tag` as a strategic merge patch naming the
  containers by name (what `kubectl set image` sends), `config` as a merge patch of the ConfigMap
  data first and then a strategic merge patch of the template's `checksum/config` annotation, and
  a `patch` as the event's own RFC 6902 operations rebased onto `/spec/template` (JSON patch).
  With `upgrade` given (a Helm release, `deploy/k8s/helm.py`), a change expressible as chart
  values is made by that instead; the result's `via` says which (`api` or `helm`). The rollout
  is watched like `kubectl rollout status`: done when the controller has observed the new
  generation and updated = available = desired replicas with no old replica left
  (`status.replicas == status.updatedReplicas`), failed on `ProgressDeadlineExceeded` or after
  `timeout_s`.
* `kill-pod` — ready pods of the web Deployment deleted with `gracePeriodSeconds: 0`; waits until
  the Deployment has its ready pods back (or as many as it now asks for), like the local target.
* `restart-db` / `restart-cache` — the pod of the `postgres` StatefulSet / `redis` Deployment is
  deleted (its controller recreates it); waits until a ready pod is back.
* `scale-to` — the web Deployment's `scale` subresource (merge patch of `spec.replicas`).
* `add-latency` / `remove-latency` — refused before the run: a cluster needs network chaos
  tooling this suite does not install.

Only objects in the run's namespace that the suite deployed are touched: every workload is read
first and must carry `app.kubernetes.io/part-of=hpabench` (else `TargetError`, nothing changed);
pods are selected by that workload's own selector plus the same label, and a pod whose
`ownerReferences` name another controller is left alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hpabench.deploy.rollout_change import WEB_CONFIG, changed_objects, is_app_image
from hpabench.errors import TargetError
from hpabench.scenarios.events import BaseEvent, KillPod, Rollout, ScaleTo

WEB = "web"
NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "hpabench"
POLL_S = 1.0
RESTORE_TIMEOUT_S = 300.0
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
# restart-db / restart-cache: (kind, name) of the workload whose pod is deleted
RESTART_WORKLOADS = {"restart-db": ("StatefulSet", "postgres"), "restart-cache": ("Deployment", "redis")}
LATENCY_REFUSED = "needs network chaos tooling on the cluster, which the k8s target does not install"


@dataclass(frozen=True)
class Patch:
    """One PATCH request body and its content type."""

    content_type: str
    body: Any


class KubeEventApi(Protocol):
    def read(self, namespace: str, kind: str, name: str) -> dict[str, Any]:
        """GET one object (Deployment, StatefulSet, ConfigMap) of the namespace, as a dict."""
        ...

    def patch(self, namespace: str, kind: str, name: str, patch: Patch, subresource: str = "") -> None:
        """PATCH one object (or its `subresource`, e.g. `scale`) with `patch`."""
        ...

    def list_pods(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        """The namespace's pods matching `label_selector` (items as dicts)."""
        ...

    def delete_pod(self, namespace: str, name: str, grace_period_s: int | None) -> None:
        """DELETE one pod (`gracePeriodSeconds` when not None)."""
        ...


# `upgrade(new_objects, event)`: the change made another way (helm upgrade); False = not expressible.
Upgrade = Callable[[list[dict[str, Any]], Rollout], bool]


def _has(objects: list[dict[str, Any]], kind: str, name: str) -> bool:
    return any(o.get("kind") == kind and (o.get("metadata") or {}).get("name") == name for o in objects)


def admit(event: BaseEvent, objects: list[dict[str, Any]]) -> list[str]:
    """What a cluster cannot do with `event` on `objects` (pure; nothing is asked of the cluster)."""
    kind = event.kind_name
    if kind in ("add-latency", "remove-latency"):
        return [LATENCY_REFUSED]
    if isinstance(event, Rollout):
        try:
            changed_objects(objects, event)
        except ValueError as exc:
            return [str(exc)]
        return []
    if kind in RESTART_WORKLOADS:
        workload_kind, name = RESTART_WORKLOADS[kind]
        return [] if _has(objects, workload_kind, name) else [f"the rendered objects have no {workload_kind} {name}"]
    if isinstance(event, (KillPod, ScaleTo)):
        return [] if _has(objects, "Deployment", WEB) else [f"the rendered objects have no Deployment {WEB}"]
    return [f"the k8s target cannot perform {kind!r} events"]


def template_patch(old: dict[str, Any], new: dict[str, Any], event: Rollout) -> Patch:
    """The PATCH of the web Deployment that turns pod template `old` into `new` for `event` (pure)."""
    if event.patch is not None:
        operations = []
        for op in event.patch:
            operation: dict[str, Any] = {"op": op.op, "path": f"/spec/template{op.path}"}
            if op.op != "remove":
                operation["value"] = op.value
            operations.append(operation)
        return Patch(JSON_PATCH, operations)
    if event.image_tag is not None:
        spec: dict[str, Any] = {}
        for field in ("initContainers", "containers"):
            changed = [
                {"name": c["name"], "image": c["image"]}
                for c in (new.get("spec") or {}).get(field) or []
                if is_app_image(c.get("image"))
            ]
            if changed:
                spec[field] = changed
        return Patch(STRATEGIC_MERGE_PATCH, {"spec": {"template": {"spec": spec}}})
    annotations = (new.get("metadata") or {}).get("annotations") or {}
    before = (old.get("metadata") or {}).get("annotations") or {}
    changed_annotations = {k: v for k, v in annotations.items() if before.get(k) != v}
    return Patch(STRATEGIC_MERGE_PATCH, {"spec": {"template": {"metadata": {"annotations": changed_annotations}}}})


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


def owned(api: KubeEventApi, namespace: str, kind: str, name: str) -> dict[str, Any]:
    """The live object, if the suite deployed it (label `part-of=hpabench`); TargetError otherwise."""
    obj = api.read(namespace, kind, name)
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if labels.get(PART_OF_LABEL) != PART_OF:
        raise TargetError(
            f"{kind}/{name} in namespace {namespace} is not labelled {PART_OF_LABEL}={PART_OF}: "
            "not deployed by hpabench, left alone"
        )
    return obj


def pods_of(api: KubeEventApi, namespace: str, workload: dict[str, Any]) -> list[dict[str, Any]]:
    """The pods `workload` (a live Deployment/StatefulSet) selects that carry the suite's label and
    are not owned by another controller (a Deployment's pods are owned by its ReplicaSets)."""
    kind, name = workload.get("kind") or "", workload["metadata"]["name"]
    match = dict(((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {NAME_LABEL: name})
    match[PART_OF_LABEL] = PART_OF
    selector = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
    pods = []
    for pod in api.list_pods(namespace, selector):
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if any(labels.get(k) != v for k, v in match.items()):
            continue  # the server filtered already; checked again so no other pod is ever touched
        owners = (pod.get("metadata") or {}).get("ownerReferences") or []
        controller = next((o for o in owners if o.get("controller")), owners[0] if owners else None)
        if controller is not None:
            by_replicaset = controller.get("kind") == "ReplicaSet" and str(controller.get("name", "")).startswith(
                f"{name}-"
            )
            direct = controller.get("kind") == kind and controller.get("name") == name
            if not (by_replicaset if kind == "Deployment" else direct):
                continue
        pods.append(pod)
    return pods


def perform(
    api: KubeEventApi,
    namespace: str,
    objects: list[dict[str, Any]],
    event: BaseEvent,
    emit: Callable[..., Any],
    sleep: Callable[[float], None] = time.sleep,
    upgrade: Upgrade | None = None,
) -> dict[str, Any]:
    """Perform `event` in `namespace` (see the module docstring); returns its result. `objects`
    are the objects as deployed; after a complete rollout they are replaced by the changed ones."""
    if isinstance(event, Rollout):
        return _rollout(api, namespace, objects, event, emit, sleep, upgrade)
    if isinstance(event, KillPod):
        web = owned(api, namespace, "Deployment", WEB)
        pods = [p for p in pods_of(api, namespace, web) if _ready(p)]
        if not pods:
            raise TargetError("no ready web pod to kill")
        victims = [p["metadata"]["name"] for p in pods[: event.victims(len(pods))]]
        for name in victims:
            emit("fault", message=f"kill-pod: {name} deleted with grace 0", pod=name, event="kill-pod")
            api.delete_pod(namespace, name, 0)

        def restored() -> bool:
            # Back to the ready pods it had (terminating ones do not count: pods_of skips them), or
            # to what the Deployment asks for now if the HPA scaled it down meanwhile.
            wanted = min(
                len(pods), int((owned(api, namespace, "Deployment", WEB).get("spec") or {}).get("replicas", 1))
            )
            return sum(_ready(p) for p in pods_of(api, namespace, web)) >= wanted

        ready_s = _wait(restored, RESTORE_TIMEOUT_S, "web ready pods back after kill-pod", sleep)
        return {"killed": victims, "ready_before": len(pods), "ready_after_s": round(ready_s, 3)}
    if event.kind_name in RESTART_WORKLOADS:
        kind, workload_name = RESTART_WORKLOADS[event.kind_name]
        workload = owned(api, namespace, kind, workload_name)
        pods = pods_of(api, namespace, workload)
        if not pods:
            raise TargetError(f"no {workload_name} pod to restart")
        pod = pods[0]["metadata"]
        old_uid = pod.get("uid")
        emit("fault", message=f"{event.kind_name}: {pod['name']} deleted", pod=pod["name"], event=event.kind_name)
        api.delete_pod(namespace, pod["name"], None)

        def back() -> bool:
            return any(
                _ready(p) and (old_uid is None or (p.get("metadata") or {}).get("uid") != old_uid)
                for p in pods_of(api, namespace, workload)
            )

        ready_s = _wait(back, RESTORE_TIMEOUT_S, f"{workload_name} ready again", sleep)
        return {"pod": pod["name"], "ready_after_s": round(ready_s, 3)}
    if isinstance(event, ScaleTo):
        web = owned(api, namespace, "Deployment", WEB)
        before = int((web.get("spec") or {}).get("replicas", 1))
        api.patch(namespace, "Deployment", WEB, Patch(MERGE_PATCH, {"spec": {"replicas": event.replicas}}), "scale")
        return {"from": before, "to": event.replicas}
    raise TargetError(f"the k8s target cannot perform {event.kind_name!r} events")


def _rollout(
    api: KubeEventApi,
    namespace: str,
    objects: list[dict[str, Any]],
    event: Rollout,
    emit: Callable[..., Any],
    sleep: Callable[[float], None],
    upgrade: Upgrade | None,
) -> dict[str, Any]:
    new = changed_objects(objects, event)
    owned(api, namespace, "Deployment", WEB)
    old_web = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == WEB)
    new_web = next(o for o in new if o["kind"] == "Deployment" and o["metadata"]["name"] == WEB)
    started = time.time()
    via = "helm" if upgrade is not None and upgrade(new, event) else "api"
    if via == "api":
        if event.config is not None:
            owned(api, namespace, "ConfigMap", WEB_CONFIG)
            config = next(o for o in new if o["kind"] == "ConfigMap" and o["metadata"]["name"] == WEB_CONFIG)
            api.patch(namespace, "ConfigMap", WEB_CONFIG, Patch(MERGE_PATCH, {"data": dict(config["data"])}))
        patch = template_patch(old_web["spec"]["template"], new_web["spec"]["template"], event)
        api.patch(namespace, "Deployment", WEB, patch)
    emit("rollout_started", deployment=WEB, via=via)
    failure: list[str] = []

    def done() -> bool:
        ok, reason = rollout_done(api.read(namespace, "Deployment", WEB))
        if reason:
            failure.append(reason)
            return True
        return ok

    _wait(done, event.timeout_s, "rollout of web", sleep)
    result = {"complete": not failure, "duration_s": round(time.time() - started, 3), "via": via}
    emit("rollout_finished", deployment=WEB, **result)
    if failure:
        raise TargetError(f"rollout of web failed: {failure[0]}")
    objects[:] = new  # the cluster now runs the changed objects
    return result
