"""`hpabench gc`: remove the namespaces that killed runs left behind.

A run's namespace is labelled `app.kubernetes.io/managed-by=hpabench` and annotated with its
creation time (`apply.CREATED_ANNOTATION`, unix seconds; the API's creationTimestamp otherwise).
`collect_garbage(api, older_than_s, dry_run)` deletes (and waits for) every such namespace older
than `older_than_s` — never one without the label, so nothing else on the cluster is touched —
and returns what it found: `[(name, age_s, action)]` with action `deleted`, `would delete`,
`kept (younger)` or `failed: <why>`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hpabench.deploy.k8s.api import KubeApi
from hpabench.deploy.k8s.apply import CREATED_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL, NAMESPACE_PATH, delete_namespace
from hpabench.deploy.k8s.observe import api_time
from hpabench.errors import TargetError

DEFAULT_OLDER_THAN_S = 3600.0


def namespace_age_s(namespace: dict[str, Any], now: float) -> float | None:
    meta = namespace.get("metadata") or {}
    created: float | None
    try:
        created = float((meta.get("annotations") or {})[CREATED_ANNOTATION])
    except (KeyError, ValueError):
        created = api_time(meta.get("creationTimestamp"))
    return None if created is None else now - created


def collect_garbage(
    api: KubeApi,
    older_than_s: float = DEFAULT_OLDER_THAN_S,
    dry_run: bool = False,
    timeout_s: float = 300.0,
    progress: Callable[[str], None] | None = None,
    now: float | None = None,
) -> list[tuple[str, float | None, str]]:
    now = time.time() if now is None else now
    listing = api.get(NAMESPACE_PATH, labelSelector=f"{MANAGED_BY_LABEL}={MANAGED_BY}")
    found: list[tuple[str, float | None, str]] = []
    for namespace in sorted(listing.get("items") or [], key=lambda n: n["metadata"]["name"]):
        name = namespace["metadata"]["name"]
        if (namespace["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY:
            continue  # an emulator or proxy ignoring the selector must not widen what we delete
        age = namespace_age_s(namespace, now)
        if age is not None and age < older_than_s:
            found.append((name, age, "kept (younger)"))
        elif dry_run:
            found.append((name, age, "would delete"))
        else:
            try:
                delete_namespace(api, name, timeout_s, progress=progress)
                found.append((name, age, "deleted"))
            except TargetError as exc:
                found.append((name, age, f"failed: {exc}"))
    return found
