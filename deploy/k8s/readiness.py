"""Waiting for the rendered workloads to become ready, with progress and errors that say why.

`wait_ready(api, namespace, objects, timeout_s, progress)` polls (1 s) every Deployment and
StatefulSet of `objects` until its controller has observed the current generation and all
replicas are updated and ready, and every PVC of a StatefulSet is Bound. It returns the seconds
waited. On timeout — or at once when a pod cannot start for a reason that will not heal by waiting
(image pull errors, invalid config, crash loop) — it raises `TargetError` naming the object, its
conditions, its pods' waiting reasons and the namespace's recent Warning events, with the fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hpabench.deploy.k8s.api import KubeApi
from hpabench.deploy.k8s.resources import collection_path, ref_of
from hpabench.errors import TargetError

# Waiting reasons a pod does not recover from by itself within a run's patience.
FATAL_WAITING = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "ErrImageNeverPull",
}
CRASH_LOOP = "CrashLoopBackOff"
CRASH_LOOP_FATAL_RESTARTS = 3


def workload_ready(obj: dict[str, Any]) -> tuple[bool, str]:
    """(ready, "ready/wanted") of a Deployment or StatefulSet as the API shows it (pure)."""
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj.get("metadata") or {}
    wanted = int(spec.get("replicas", 1))
    ready = int(status.get("readyReplicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    observed = int(status.get("observedGeneration") or 0)
    current = observed >= int(meta.get("generation") or 0)
    return current and ready >= wanted and updated >= wanted, f"{ready}/{wanted}"


def pod_problems(pods: list[dict[str, Any]]) -> tuple[list[str], bool]:
    """Human lines about pods that are not ready, and whether any cannot recover by waiting (pure)."""
    lines, fatal = [], False
    for pod in pods:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            waiting = (cs.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason")
            if not reason or reason in ("ContainerCreating", "PodInitializing"):
                continue
            restarts = int(cs.get("restartCount") or 0)
            lines.append(
                f"pod {name} container {cs.get('name')}: {reason}: {waiting.get('message', '')} (restarts {restarts})"
            )
            if reason in FATAL_WAITING or (reason == CRASH_LOOP and restarts >= CRASH_LOOP_FATAL_RESTARTS):
                fatal = True
        for cond in status.get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                lines.append(f"pod {name} unschedulable: {cond.get('message')}")
    return lines, fatal


def _selector(obj: dict[str, Any]) -> str:
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def warning_events(api: KubeApi, namespace: str, limit: int = 8) -> list[str]:
    """The namespace's latest Warning events as `Kind/name: Reason: message` lines."""
    items = api.get(collection_path("v1", "Event", namespace), fieldSelector="type=Warning").get("items") or []
    items.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    out = []
    for event in items[-limit:]:
        involved = event.get("involvedObject") or {}
        out.append(f"{involved.get('kind')}/{involved.get('name')}: {event.get('reason')}: {event.get('message')}")
    return out


def _explain(
    api: KubeApi, namespace: str, label: str, obj: dict[str, Any], pod_lines: list[str], why: str
) -> TargetError:
    conditions = [
        f"{c.get('type')}={c.get('status')} ({c.get('reason')}: {c.get('message')})"
        for c in (obj.get("status") or {}).get("conditions") or []
    ]
    lines = [f"{label} in namespace {namespace} {why}"]
    lines += [f"  condition {c}" for c in conditions] + [f"  {p}" for p in pod_lines]
    lines += [f"  event {e}" for e in warning_events(api, namespace)]
    hint = "fix: `kubectl -n {ns} describe {kind}` shows the same; image errors: pass --image or load the image"
    lines.append(hint.format(ns=namespace, kind=label.lower()) + " into the cluster (kind load docker-image IMAGE)")
    return TargetError("\n".join(lines))


def wait_ready(
    api: KubeApi,
    namespace: str,
    objects: list[dict[str, Any]],
    timeout_s: float = 300.0,
    progress: Callable[[str], None] | None = None,
    poll_s: float = 1.0,
) -> float:
    """Block until every workload in `objects` is ready (see module docstring)."""
    started = time.monotonic()
    pending = [ref_of(o, namespace) for o in objects if o.get("kind") in ("Deployment", "StatefulSet")]
    last_state: dict[str, str] = {}
    while pending:
        still = []
        for ref in pending:
            current = api.get(ref.path)
            ready, counts = workload_ready(current)
            if ref.kind == "StatefulSet" and ready:
                ready = _claims_bound(api, namespace, current)
            if ready:
                if progress:
                    progress(f"    ready: {ref} {counts} ({time.monotonic() - started:.0f} s)")
                continue
            still.append(ref)
            pods = api.get(collection_path("v1", "Pod", namespace), labelSelector=_selector(current)).get("items") or []
            lines, fatal = pod_problems(pods)
            if fatal:
                raise _explain(api, namespace, str(ref), current, lines, "cannot become ready")
            if time.monotonic() - started > timeout_s:
                raise _explain(
                    api, namespace, str(ref), current, lines, f"is not ready after {timeout_s:.0f} s ({counts})"
                )
            state = f"{counts} {'; '.join(lines)}"
            if progress and last_state.get(str(ref)) != state:
                last_state[str(ref)] = state
                progress(f"    waiting: {ref} {counts}" + (f" — {lines[0]}" if lines else ""))
        pending = still
        if pending:
            time.sleep(poll_s)
    return time.monotonic() - started


def _claims_bound(api: KubeApi, namespace: str, statefulset: dict[str, Any]) -> bool:
    """Every PVC a StatefulSet's claim templates produced is Bound (its pods' volumes are real)."""
    templates = (statefulset.get("spec") or {}).get("volumeClaimTemplates") or []
    if not templates:
        return True
    claims = api.get(collection_path("v1", "PersistentVolumeClaim", namespace)).get("items") or []
    name = statefulset["metadata"]["name"]
    wanted = {
        f"{t['metadata']['name']}-{name}-{i}"
        for t in templates
        for i in range(int(statefulset["spec"].get("replicas", 1)))
    }
    bound = {c["metadata"]["name"] for c in claims if (c.get("status") or {}).get("phase") == "Bound"}
    return wanted <= bound
