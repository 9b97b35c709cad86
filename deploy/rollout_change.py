"""What a `rollout` event changes in the rendered objects (pure, target-independent).

`changed_objects(objects, rollout)` returns a deep copy of the rendered objects with the change a
user would `helm upgrade` / `kubectl apply`:

* `image_tag` — every app container (init and main) of the web pod template gets the tag
  (`hpabench/refapp:0.1.0` → `hpabench/refapp:<tag>`; digests are dropped);
* `config` — the values are merged into the ConfigMap `web-config`, and the pod template gets
  the new `checksum/config` annotation, which is what makes the pods restart;
* `patch` — RFC 6902 operations applied to the web Deployment's pod *template* (paths such as
  `/spec/containers/0/env/-` or `/metadata/annotations/x`).

Errors (a missing web Deployment/ConfigMap, a patch that does not apply, a change that leaves
the template as it was) raise `ValueError` with a message fit for a SpecIssue.
Only objects the suite rendered are touched: the web Deployment and its ConfigMap.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from hpabench.deploy.strategy import stamp_config_checksum
from hpabench.scenarios.events import Rollout

WEB = "web"
WEB_CONFIG = "web-config"
APP_IMAGE_REPO = "refapp"


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any] | None:
    for obj in objects:
        if obj.get("kind") == kind and (obj.get("metadata") or {}).get("name") == name:
            return obj
    return None


def is_app_image(image: Any) -> bool:
    """`…/refapp:<tag>` (any registry prefix): the reference app's image."""
    if not isinstance(image, str):
        return False
    return image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0] == APP_IMAGE_REPO


def with_tag(image: str, tag: str) -> str:
    """`image` with its tag (and digest) replaced by `tag`."""
    head, _, last = image.rpartition("/")
    repo = last.split("@", 1)[0].split(":", 1)[0]
    return f"{head}/{repo}:{tag}" if head else f"{repo}:{tag}"


def web_template(objects: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = _find(objects, "Deployment", WEB)
    if deployment is None:
        raise ValueError("the rendered objects have no Deployment web to roll out")
    template: dict[str, Any] = deployment["spec"]["template"]
    return template


def changed_objects(objects: list[dict[str, Any]], rollout: Rollout) -> list[dict[str, Any]]:
    """The objects after `rollout` (see the module docstring); the input is not modified."""
    new = copy.deepcopy(objects)
    template = web_template(new)
    before = copy.deepcopy(template)
    if rollout.image_tag is not None:
        pod_spec = template.get("spec") or {}
        containers = list(pod_spec.get("initContainers") or []) + list(pod_spec.get("containers") or [])
        apps = [c for c in containers if is_app_image(c.get("image"))]
        if not apps:
            raise ValueError("no container of Deployment web runs the app image (…/refapp:<tag>)")
        for container in apps:
            container["image"] = with_tag(container["image"], rollout.image_tag)
    elif rollout.config is not None:
        configmap = _find(new, "ConfigMap", WEB_CONFIG)
        if configmap is None:
            raise ValueError(f"the rendered objects have no ConfigMap {WEB_CONFIG}")
        if configmap.get("data") is None:
            configmap["data"] = {}
        configmap["data"].update(rollout.config)
        deployment = _find(new, "Deployment", WEB)
        assert deployment is not None
        stamp_config_checksum(deployment, configmap)
    elif rollout.patch is not None:
        operations = [op.model_dump(exclude_none=False) for op in rollout.patch]
        for op in operations:
            if op["op"] == "remove":
                op.pop("value", None)
        try:
            patched = jsonpatch.apply_patch(template, operations)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise ValueError(f"the patch does not apply to the web pod template: {exc}") from None
        deployment = _find(new, "Deployment", WEB)
        assert deployment is not None
        deployment["spec"]["template"] = template = patched
    if template == before:
        raise ValueError("the change leaves the web pod template as it is (nothing would roll out)")
    return new
