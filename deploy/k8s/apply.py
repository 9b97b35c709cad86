"""The run's namespace and the objects in it: create, server-side apply, delete and wait.

- `create_namespace(api, prefix, run_id)`: a fresh namespace `<prefix>-<suffix>` labelled
  `app.kubernetes.io/managed-by=hpabench` and `hpabench.io/run-id=<run id>` (what `gc` selects on),
  annotated with its creation time (unix seconds) so `gc` can judge age without clocks drifting.
- `apply_objects(api, objects, namespace)`: server-side apply (field manager `hpabench`) of exactly
  the rendered objects, in order, with `fieldValidation=Strict` so a field the server does not know
  is an error, not silently dropped. A 409 conflict (another manager owns a field, e.g. a user's
  `kubectl scale`) is retried once with `force=true`: the run's namespace is ours alone.
- `delete_namespace(api, name, timeout_s)`: delete (foreground) and wait until the API no longer
  returns it; a namespace stuck `Terminating` past the timeout is reported with its conditions
  (which name the finalizer or API group blocking it) rather than waited for forever.
"""

from __future__ import annotations

import copy
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from hpabench.deploy.k8s.api import APPLY_CONTENT_TYPE, FIELD_MANAGER, ApiError, KubeApi
from hpabench.deploy.k8s.resources import ref_of
from hpabench.errors import TargetError

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "hpabench"
RUN_ID_LABEL = "hpabench.io/run-id"
CREATED_ANNOTATION = "hpabench.io/created-at"
NAMESPACE_PATH = "/api/v1/namespaces"
_DNS_LABEL = re.compile(r"[^a-z0-9-]+")


def namespace_name(prefix: str, run_id: str) -> str:
    """`<prefix>-<run id tail>-<4 random hex>`: unique, readable, a valid DNS label (≤ 63 chars)."""
    tail = _DNS_LABEL.sub("-", run_id.lower()).strip("-")
    suffix = secrets.token_hex(2)
    room = 63 - len(prefix) - len(suffix) - 2
    return f"{prefix}-{tail[:room].strip('-')}-{suffix}" if room > 0 else f"{prefix[:58]}-{suffix}"


def label_value(value: str) -> str:
    """A string made a valid label value (≤ 63 chars of [A-Za-z0-9._-], alphanumeric ends)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", value)[:63]
    return cleaned.strip("-._")


def create_namespace(api: KubeApi, prefix: str, run_id: str, now: float | None = None) -> str:
    """Create the run's namespace; a name collision (409) retries with a new random suffix."""
    for _attempt in range(3):
        name = namespace_name(prefix, run_id)
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {MANAGED_BY_LABEL: MANAGED_BY, RUN_ID_LABEL: label_value(run_id)},
                "annotations": {CREATED_ANNOTATION: f"{now if now is not None else time.time():.0f}"},
            },
        }
        try:
            api.request("POST", NAMESPACE_PATH, body=body)
            return name
        except ApiError as exc:
            if exc.status != 409:
                raise TargetError(f"cannot create namespace {name}: {exc}") from None
    raise TargetError(f"cannot create a namespace with prefix {prefix!r}: every name was taken")


def _in_namespace(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    body = copy.deepcopy(obj)
    body.setdefault("metadata", {})["namespace"] = namespace
    return body


def apply_object(api: KubeApi, obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    """Server-side apply of one object into `namespace`; returns the object as the server stored it."""
    ref = ref_of(obj, namespace)
    body = _in_namespace(obj, namespace) if ref.namespace else copy.deepcopy(obj)
    query = {"fieldManager": FIELD_MANAGER, "fieldValidation": "Strict"}
    try:
        return api.request("PATCH", ref.path, query=query, body=body, content_type=APPLY_CONTENT_TYPE)
    except ApiError as exc:
        if exc.status == 409:  # a field owned by another manager: the run's namespace is ours, take it
            return api.request(
                "PATCH", ref.path, query={**query, "force": "true"}, body=body, content_type=APPLY_CONTENT_TYPE
            )
        raise TargetError(f"the API server refused {ref} in namespace {namespace}: {exc.message or exc}") from None


def apply_objects(
    api: KubeApi, objects: list[dict[str, Any]], namespace: str, progress: Callable[[str], None] | None = None
) -> list[dict[str, Any]]:
    """Apply every object in order (config before the workloads that mount it)."""
    stored = []
    for obj in objects:
        stored.append(apply_object(api, obj, namespace))
        if progress:
            progress(f"    applied {ref_of(obj, namespace)}")
    return stored


def delete_namespace(
    api: KubeApi,
    name: str,
    timeout_s: float = 300.0,
    poll_s: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> float:
    """Delete `name` and wait until it is gone; returns the seconds waited. TargetError naming the
    namespace's conditions when it is still Terminating at the timeout. A namespace already gone is fine."""
    started = time.monotonic()
    path = f"{NAMESPACE_PATH}/{name}"
    try:
        api.request(
            "DELETE", path, body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}
        )
    except ApiError as exc:
        if exc.status == 404:
            return 0.0
        # 409: already Terminating (a second delete, or gc racing a teardown) — just wait for it.
        if exc.status != 409:
            raise TargetError(f"cannot delete namespace {name}: {exc}") from None
    last_note = started
    while True:
        try:
            current = api.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return time.monotonic() - started
            raise
        waited = time.monotonic() - started
        if waited > timeout_s:
            conditions = (current.get("status") or {}).get("conditions") or []
            detail = "; ".join(f"{c.get('type')}: {c.get('message')}" for c in conditions if c.get("status") == "True")
            raise TargetError(
                f"namespace {name} is still {current.get('status', {}).get('phase', 'Terminating')} after "
                f"{timeout_s:.0f} s ({detail or 'no condition says why'}); it will be listed by `hpabench gc`. "
                f"fix: check the finalizers (`kubectl get ns {name} -o yaml`) and remove what blocks them"
            )
        if progress and time.monotonic() - last_note >= 10:
            last_note = time.monotonic()
            progress(f"    waiting for namespace {name} to terminate ({waited:.0f} s)")
        time.sleep(poll_s)
