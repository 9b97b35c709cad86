"""`deploy/k8s_events.KubeEventApi` over `KubeApi`: the REST requests scenario events make.

Every request goes through `KubeApi.request`, so it is counted in `KubeApi.calls` (the RBAC
coverage test replays events and checks each one is granted by deploy/rbac/). Paths come from
`resources.collection_path`; the rules these requests need are `permissions.event_rules`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hpabench.deploy.k8s.api import FIELD_MANAGER, KubeApi
from hpabench.deploy.k8s.resources import collection_path
from hpabench.deploy.k8s_events import Patch

API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "ConfigMap": "v1", "Pod": "v1"}


def object_path(kind: str, namespace: str, name: str, subresource: str = "") -> str:
    path = f"{collection_path(API_VERSIONS[kind], kind, namespace)}/{quote(name, safe='')}"
    return f"{path}/{subresource}" if subresource else path


class RestEventApi:
    """The event actions' client of one cluster (thread-safe as `KubeApi` is)."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api

    def read(self, namespace: str, kind: str, name: str) -> dict[str, Any]:
        return self.api.get(object_path(kind, namespace, name))

    def patch(self, namespace: str, kind: str, name: str, patch: Patch, subresource: str = "") -> None:
        self.api.request(
            "PATCH",
            object_path(kind, namespace, name, subresource),
            query={"fieldManager": FIELD_MANAGER},
            body=patch.body,
            content_type=patch.content_type,
        )

    def list_pods(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        items = self.api.get(collection_path("v1", "Pod", namespace), labelSelector=label_selector).get("items")
        return list(items or [])

    def delete_pod(self, namespace: str, name: str, grace_period_s: int | None) -> None:
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_s is not None:
            body["gracePeriodSeconds"] = grace_period_s
        self.api.request("DELETE", object_path("Pod", namespace, name), body=body)
