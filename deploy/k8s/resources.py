"""REST paths of the kinds the k8s target touches, and the RBAC verb each request needs.

The target talks to the API server through plain REST paths (see `api.KubeApi`), so one table
maps a `kind`/`apiVersion` to its plural and scope. `request_rule` turns a (method, path, query)
into the (verb, group, resource) an authorizer checks: the RBAC coverage test and the pre-flight's
SelfSubjectAccessReviews both derive from it, so neither can drift from what the code does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hpabench.errors import SpecIssue

# kind → (plural, namespaced). Everything `hpabench render` emits, plus what the target itself reads.
KINDS: dict[str, tuple[str, bool]] = {
    "ConfigMap": ("configmaps", True),
    "Secret": ("secrets", True),
    "Service": ("services", True),
    "ServiceAccount": ("serviceaccounts", True),
    "Pod": ("pods", True),
    "Event": ("events", True),
    "PersistentVolumeClaim": ("persistentvolumeclaims", True),
    "Endpoints": ("endpoints", True),
    "Deployment": ("deployments", True),
    "StatefulSet": ("statefulsets", True),
    "ReplicaSet": ("replicasets", True),
    "Job": ("jobs", True),
    "HorizontalPodAutoscaler": ("horizontalpodautoscalers", True),
    "NetworkPolicy": ("networkpolicies", True),
    "PodDisruptionBudget": ("poddisruptionbudgets", True),
    "ServiceMonitor": ("servicemonitors", True),
    "PodMonitor": ("podmonitors", True),
    "Namespace": ("namespaces", False),
    "Node": ("nodes", False),
    "StorageClass": ("storageclasses", False),
}


@dataclass(frozen=True)
class Ref:
    """Where one object lives: its collection path and name."""

    api_version: str
    kind: str
    name: str
    namespace: str | None

    @property
    def collection(self) -> str:
        return collection_path(self.api_version, self.kind, self.namespace)

    @property
    def path(self) -> str:
        return f"{self.collection}/{quote(self.name, safe='')}"

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


def collection_path(api_version: str, kind: str, namespace: str | None) -> str:
    """`/apis/apps/v1/namespaces/ns/deployments` (core group under `/api/v1`). KeyError for an unknown kind."""
    plural, namespaced = KINDS[kind]
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespaced:
        if not namespace:
            raise ValueError(f"{kind} is namespaced: a namespace is required")
        return f"{prefix}/namespaces/{quote(namespace, safe='')}/{plural}"
    return f"{prefix}/{plural}"


def ref_of(obj: dict[str, Any], namespace: str | None) -> Ref:
    kind = str(obj.get("kind"))
    namespaced = KINDS[kind][1]
    return Ref(str(obj.get("apiVersion")), kind, str(obj["metadata"]["name"]), namespace if namespaced else None)


def unknown_kinds(objects: list[dict[str, Any]], source: str) -> list[SpecIssue]:
    """Objects of kinds the target has no REST mapping for (pre-flight refuses them by name)."""
    return [
        SpecIssue(
            source,
            f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}",
            "kind not supported by the k8s target",
        )
        for obj in objects
        if obj.get("kind") not in KINDS
    ]


@dataclass(frozen=True, order=True)
class Rule:
    """One authorization check: verb on group/resource[/subresource], optionally in a namespace."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespaced: bool = True

    @property
    def resource_name(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def __str__(self) -> str:
        group = self.group or "core"
        return f"{self.verb} {self.resource_name}.{group}"


def request_rule(method: str, path: str, query: dict[str, Any] | None = None) -> Rule | None:
    """The RBAC rule a request is authorized against; None for non-resource paths (/version,
    discovery), which every authenticated user may read (system:discovery)."""
    parts = [p for p in path.split("?")[0].strip("/").split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None  # group/version discovery
    namespaced = False
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespaced, rest = True, rest[2:]
    resource, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), "/".join(rest[2:])
    if resource == "namespaces" and not namespaced:
        namespaced = False
    method = method.upper()
    watching = str((query or {}).get("watch", "")).lower() in ("true", "1")
    if method == "GET":
        verb = "watch" if watching else ("get" if name else "list")
    elif method == "POST":
        verb = "create"
    elif method == "PATCH":
        verb = "patch"
    elif method == "PUT":
        verb = "update"
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        return None
    if sub == "portforward":  # a websocket upgrade of a GET, authorized as create
        verb = "create"
    return Rule(verb, group, resource, sub, namespaced)


def apply_rules(ref: Ref) -> list[Rule]:
    """What a server-side apply of `ref` needs: patch, and create when the object is new."""
    plural, namespaced = KINDS[ref.kind]
    group = ref.api_version.split("/")[0] if "/" in ref.api_version else ""
    return [Rule("patch", group, plural, "", namespaced), Rule("create", group, plural, "", namespaced)]
