"""The Kubernetes API emulator (kmock) for the k8s target's flow tests, and the controllers we play.

kmock emulates storage, list, watch, create, merge-patch and delete of objects. What it does not
emulate, and how these tests stand in for it (assertions never rely on more than this):

- Namespaces as a resource: kmock parses `/api/v1/namespaces[/name]` as a namespace prefix, so
  `parse_path` is wrapped to read those two paths as the cluster-scoped `namespaces` resource.
- Server-side apply creating an absent object: `Emulator` stores the applied body as the
  object (a real server would also merge fields by owner; kmock merges dicts naively).
- SelfSubjectAccessReview: answered by `Emulator.allow(rule)` (default: allow all), not stored.
- Apply conflicts: a path in `Emulator.conflict_once` answers its next non-forced apply with 409.
- Strategic merge patches: kmock merges dicts naively and replaces lists; `Emulator` merges lists
  of named items (containers, env, volumes) by `name`, as the real patch strategy does for the
  fields the scenario events patch. JSON patches (RFC 6902) kmock applies itself.
- Controllers: `play_controllers` marks Deployments/StatefulSets ready, creates their pods and
  binds PVCs by patching, as the controller-manager and kubelet would.
- It runs no validation (invalid objects are accepted): schema checks are in test_manifests_schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import aiohttp.web
import kmock
import pytest
import pytest_asyncio
from kmock._internal import parsing

from hpabench.deploy.k8s.resources import KINDS

_original_parse_path = parsing.parse_path


def _parse_path(path: str) -> parsing.ParsedPath:
    parts = [p for p in path.strip("/").split("/") if p]
    if parts[:2] == ["api", "v1"] and parts[2:3] == ["namespaces"] and len(parts) <= 4:
        return parsing.ParsedPath("", "v1", "namespaces", None, parts[3] if len(parts) == 4 else None, None)
    return _original_parse_path(path)


GROUP_VERSIONS = {
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "ServiceAccount": "v1",
    "Pod": "v1",
    "Event": "v1",
    "PersistentVolumeClaim": "v1",
    "Endpoints": "v1",
    "Namespace": "v1",
    "Node": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "NetworkPolicy": "networking.k8s.io/v1",
    "PodDisruptionBudget": "policy/v1",
    "StorageClass": "storage.k8s.io/v1",
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PodMonitor": "monitoring.coreos.com/v1",
}
SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


def strategic_merge(current: Any, patch: Any) -> Any:
    """A strategic merge patch as the fields we patch need it: maps merged (None deletes), lists of
    items with a `name` merged by name, other lists replaced."""
    if isinstance(current, dict) and isinstance(patch, dict):
        merged = dict(current)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = strategic_merge(current.get(key), value)
        return merged
    named = isinstance(patch, list) and all(isinstance(i, dict) and "name" in i for i in patch)
    if named and isinstance(current, list):
        items = list(current)
        for item in patch:
            index = next(
                (i for i, old in enumerate(items) if isinstance(old, dict) and old.get("name") == item["name"]), None
            )
            if index is None:
                items.append(item)
            else:
                items[index] = strategic_merge(items[index], item)
        return items
    return patch


class Emulator(kmock.KubernetesEmulator):
    """kmock plus the gaps above (namespaces, apply-create, access reviews, strategic merge)."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.allow: Callable[[dict[str, Any]], bool] = lambda attributes: True
        self.reviews: list[dict[str, Any]] = []
        # Paths whose next non-forced apply meets a field-manager conflict (409), as when a user
        # `kubectl scale`d or edited an object the run applies.
        self.conflict_once: set[str] = set()

    async def _handle(self, request: Any) -> aiohttp.web.StreamResponse:
        if request.url.path == SSAR_PATH:
            attributes = (request.data.get("spec") or {}).get("resourceAttributes") or {}
            self.reviews.append(attributes)
            allowed = self.allow(attributes)
            return aiohttp.web.json_response({**request.data, "status": {"allowed": allowed, "reason": "emulated"}})
        applying = "apply-patch" in str(request.headers.get("Content-Type", ""))
        if applying and request.url.path in self.conflict_once and request.params.get("force") != "true":
            self.conflict_once.discard(request.url.path)
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "Conflict",
                "code": 409,
                "message": 'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas',
            }
            return aiohttp.web.json_response(status, status=409)
        strategic = "strategic-merge-patch" in str(request.headers.get("Content-Type", ""))
        if strategic and request.action == kmock.action.UPDATE and request.resource is not None:
            key = (request.resource, request.namespace, request.name)
            async with self._lock:
                if key in self._objects and not self._objects[key].deleted:
                    stored = self._objects[key]
                    stored.patch(strategic_merge(stored.raw, request.data))  # fully merged: a naive merge keeps it
                    await self._buses[request.resource].put({"type": "MODIFIED", "object": stored.raw})
                    return aiohttp.web.json_response(stored.raw)
        if request.action == kmock.action.UPDATE and applying and request.resource is not None:
            key = (request.resource, request.namespace, request.name)
            async with self._lock:
                if key not in self._objects or self._objects[key].deleted:
                    if key not in self._objects:
                        self._objects[key] = request.data
                    else:
                        self._objects[key].create(request.data)
                    await self._buses[request.resource].put({"type": "ADDED", "object": self._objects[key].raw})
        return await super()._handle(request)


@pytest_asyncio.fixture()
async def cluster(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Emulator]:
    monkeypatch.setattr(parsing, "parse_path", _parse_path)
    async with Emulator() as emulator, kmock.Server(emulator):
        for kind, (plural, namespaced) in KINDS.items():
            emulator.resources[f"{GROUP_VERSIONS[kind]}/{plural}"] = kmock.ResourceInfo(
                kind=kind, namespaced=namespaced, verbs={"list", "watch", "get", "create", "patch", "delete"}
            )
        emulator.resources["metrics.k8s.io/v1beta1/nodes"] = kmock.ResourceInfo(kind="NodeMetrics", namespaced=False)
        yield emulator


def url_of(emulator: Emulator) -> str:
    return str(emulator.url).rstrip("/")


async def call(emulator: Emulator, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """One request as a controller would make it (merge patches for PATCH)."""
    headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, url_of(emulator) + path, data=json.dumps(body) if body is not None else None, headers=headers
        ) as response,
    ):
        text = await response.text()
        return json.loads(text) if text else {}


async def post_namespace(emulator: Emulator, name: str, **metadata: Any) -> None:
    """A Namespace object as another client (or an earlier run) left it."""
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, **metadata}}
    await call(emulator, "POST", "/api/v1/namespaces", body)


@contextlib.asynccontextmanager
async def controllers_running(emulator: Emulator) -> AsyncIterator[None]:
    """`play_controllers` in the background for the block's duration."""
    stop = asyncio.Event()
    task = asyncio.create_task(play_controllers(emulator, stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def seed_cluster(emulator: Emulator, images: list[str] = ()) -> None:  # type: ignore[assignment]
    """A one-node cluster with a default StorageClass, metrics, and a Prometheus pod."""
    await call(
        emulator,
        "POST",
        "/api/v1/nodes",
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "kind-control-plane", "labels": {"node.kubernetes.io/instance-type": "kind"}},
            "status": {
                "nodeInfo": {"kubeletVersion": "v1.33.1"},
                "allocatable": {"cpu": "2", "memory": "24Gi"},
                "images": [{"names": [f"docker.io/{i}", i]} for i in images],
            },
        },
    )
    await call(
        emulator,
        "POST",
        "/apis/storage.k8s.io/v1/storageclasses",
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path",
        },
    )
    await call(
        emulator,
        "POST",
        "/apis/metrics.k8s.io/v1beta1/nodes",
        {
            "metadata": {"name": "kind-control-plane"},
            "usage": {"cpu": "100m"},
        },
    )
    await call(
        emulator,
        "POST",
        "/api/v1/namespaces/monitoring/pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "prometheus-0",
                "namespace": "monitoring",
                "labels": {"app.kubernetes.io/name": "prometheus"},
            },
            "status": {"phase": "Running"},
        },
    )


def _ready_pod(namespace: str, name: str, labels: dict[str, str], node: str = "kind-control-plane") -> dict[str, Any]:
    now = "2026-12-01T22:00:00Z"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "creationTimestamp": now},
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": labels.get("app.kubernetes.io/name", "c"),
                    "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m"}},
                }
            ],
        },
        "status": {
            "phase": "Running",
            "startTime": now,
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
            "containerStatuses": [{"name": "c", "image": "img", "imageID": "sha256:abc", "restartCount": 0}],
        },
    }


async def play_controllers(emulator: Emulator, stop: asyncio.Event) -> None:
    """Until `stop`: in every namespace, make each Deployment/StatefulSet ready with pods that exist
    and are Ready, and bind StatefulSet claims — what the controllers and kubelet would do."""
    while not stop.is_set():
        namespaces = [
            n["metadata"]["name"] for n in (await call(emulator, "GET", "/api/v1/namespaces")).get("items") or []
        ]
        for namespace, (group, plural) in [
            (n, gp) for n in namespaces for gp in (("apps/v1", "deployments"), ("apps/v1", "statefulsets"))
        ]:
            listing = await call(emulator, "GET", f"/apis/{group}/namespaces/{namespace}/{plural}")
            for obj in listing.get("items") or []:
                name, spec = obj["metadata"]["name"], obj.get("spec") or {}
                wanted = int(spec.get("replicas", 1))
                # a ReplicaSet's pods carry the template's labels (which include the selector's)
                template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
                labels = {**template_labels, **((spec.get("selector") or {}).get("matchLabels") or {})}
                pods = await call(emulator, "GET", f"/api/v1/namespaces/{namespace}/pods")
                have = {p["metadata"]["name"] for p in pods.get("items") or []}
                for i in [i for i in range(wanted) if f"{name}-{i}" not in have]:  # replace deleted pods
                    await call(
                        emulator,
                        "POST",
                        f"/api/v1/namespaces/{namespace}/pods",
                        _ready_pod(namespace, f"{name}-{i}", labels),
                    )
                for claim in spec.get("volumeClaimTemplates") or []:
                    pvc = f"{claim['metadata']['name']}-{name}-0"
                    await call(
                        emulator,
                        "POST",
                        f"/api/v1/namespaces/{namespace}/persistentvolumeclaims",
                        {
                            "apiVersion": "v1",
                            "kind": "PersistentVolumeClaim",
                            "metadata": {"name": pvc, "namespace": namespace},
                            "status": {"phase": "Bound"},
                        },
                    )
                if (obj.get("status") or {}).get("readyReplicas") != wanted:
                    await call(
                        emulator,
                        "PATCH",
                        f"/apis/{group}/namespaces/{namespace}/{plural}/{name}/status",
                        {
                            "status": {
                                "replicas": wanted,
                                "readyReplicas": wanted,
                                "updatedReplicas": wanted,
                                "observedGeneration": 1,
                            }
                        },
                    )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)
