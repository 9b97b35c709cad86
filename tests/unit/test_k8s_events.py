"""The k8s-side event actions against a fake client (no cluster): what is patched, deleted and watched."""

from __future__ import annotations

from typing import Any

import pytest

from hpabench.deploy.k8s_events import Patch, admit, perform, rollout_done, template_patch
from hpabench.deploy.render import render
from hpabench.errors import TargetError
from hpabench.scenarios.events import AddLatency, KillPod, RestartCache, RestartDb, Rollout, ScaleTo


class FakeCluster:
    """A Deployment whose status advances one step per read after a template change."""

    def __init__(self, steps_to_done: int = 3, stuck: bool = False, labels: dict[str, str] | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.generation = 1
        self.steps = 0
        self.steps_to_done = steps_to_done
        self.stuck = stuck
        self.postgres_ready_after = 2
        self.labels = {"app.kubernetes.io/part-of": "hpabench"} if labels is None else labels

    def read(self, namespace: str, kind: str, name: str) -> dict[str, Any]:
        self.calls.append(("read", (kind, name)))
        if kind != "Deployment" or name != "web":
            return {"kind": kind, "metadata": {"name": name, "labels": self.labels}, "spec": {}}
        self.steps += 1
        done = self.steps >= self.steps_to_done and not self.stuck
        status: dict[str, Any] = {
            "observedGeneration": self.generation if self.steps > 1 else self.generation - 1,
            "replicas": 3 if done else 4,
            "updatedReplicas": 3 if done else 1,
            "availableReplicas": 3,
        }
        if self.stuck and self.steps > 2:
            status["conditions"] = [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]
        return {
            "kind": "Deployment",
            "metadata": {"name": "web", "generation": self.generation, "labels": self.labels},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}}},
            "status": status,
        }

    def patch(self, namespace: str, kind: str, name: str, patch: Patch, subresource: str = "") -> None:
        self.calls.append(("patch", (kind, name, subresource, patch.content_type, patch.body)))
        if kind == "Deployment" and not subresource:
            self.generation += 1
            self.steps = 0

    def list_pods(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        self.calls.append(("list", label_selector))
        ready = {"conditions": [{"type": "Ready", "status": "True"}]}
        ours = {"app.kubernetes.io/part-of": "hpabench"}
        if "=postgres" in label_selector:
            self.postgres_ready_after -= 1
            labels = {**ours, "app.kubernetes.io/name": "postgres"}
            status = ready if self.postgres_ready_after <= 0 else {}
            return [{"metadata": {"name": "postgres-0", "labels": labels}, "status": status}]
        labels = {**ours, "app.kubernetes.io/name": "web"}
        owner = [{"kind": "ReplicaSet", "name": "web-5d9f", "controller": True}]
        return [{"metadata": {"name": f"web-{i}", "labels": labels, "ownerReferences": owner}, "status": ready}
                for i in range(3)] + [
            {"metadata": {"name": "web-gone", "labels": labels, "deletionTimestamp": "x"}, "status": ready},
            {"metadata": {"name": "web-other", "labels": labels,
                          "ownerReferences": [{"kind": "ReplicaSet", "name": "webby-1", "controller": True}]},
             "status": ready},
            {"metadata": {"name": "web-unlabelled", "labels": {"app.kubernetes.io/name": "web"}}, "status": ready},
        ]  # fmt: skip

    def delete_pod(self, namespace: str, name: str, grace_period_s: int | None) -> None:
        self.calls.append(("delete", (name, grace_period_s)))


def no_sleep(seconds: float) -> None:
    pass


def patches(api: FakeCluster) -> list[tuple[Any, ...]]:
    return [args for name, args in api.calls if name == "patch"]


def test_config_rollout_patches_the_configmap_then_the_template_and_watches() -> None:
    api, emitted = FakeCluster(), []
    objects = render(None)
    event = Rollout(at_s=0, kind="rollout", config={"CACHE_TTL_S": "3"})
    result = perform(api, "run-ns", objects, event, lambda kind, **f: emitted.append(kind), sleep=no_sleep)
    (cm_kind, cm_name, _, cm_type, cm_body), (kind, name, sub, content_type, body) = patches(api)
    assert (cm_kind, cm_name, cm_type) == ("ConfigMap", "web-config", "application/merge-patch+json")
    assert cm_body["data"]["CACHE_TTL_S"] == "3"
    assert (kind, name, sub, content_type) == ("Deployment", "web", "", "application/strategic-merge-patch+json")
    assert list(body["spec"]["template"]["metadata"]["annotations"]) == ["checksum/config"]
    assert result["complete"] and result["via"] == "api" and emitted == ["rollout_started", "rollout_finished"]
    # the objects as deployed now carry the change
    assert next(o for o in objects if o["kind"] == "ConfigMap")["data"]["CACHE_TTL_S"] == "3"


def test_image_rollout_is_a_strategic_merge_of_the_app_containers_by_name() -> None:
    api = FakeCluster()
    perform(api, "ns", render(None), Rollout(at_s=0, kind="rollout", image_tag="0.2.0"), lambda *a, **k: None, no_sleep)
    ((_, _, _, content_type, body),) = patches(api)
    assert content_type == "application/strategic-merge-patch+json"
    containers = body["spec"]["template"]["spec"]["containers"]
    assert containers == [{"name": "web", "image": "hpabench/refapp:0.2.0"}]


def test_patch_rollout_sends_the_events_operations_rebased_on_the_template() -> None:
    objects = render(None)
    event = Rollout.model_validate(
        {"at_s": 0, "kind": "rollout", "patch": [
            {"op": "add", "path": "/metadata/annotations/x", "value": "1"},
            {"op": "remove", "path": "/spec/containers/0/readinessProbe"},
        ]}
    )  # fmt: skip
    web = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "web")
    patch = template_patch(web["spec"]["template"], {}, event)
    assert patch == Patch(
        "application/json-patch+json",
        [
            {"op": "add", "path": "/spec/template/metadata/annotations/x", "value": "1"},
            {"op": "remove", "path": "/spec/template/spec/containers/0/readinessProbe"},
        ],
    )


def test_a_helm_upgrade_replaces_the_api_patch_when_it_can() -> None:
    api, seen = FakeCluster(), []

    def upgrade(new: list[dict[str, Any]], event: Rollout) -> bool:
        seen.append(event.image_tag)
        return event.image_tag is not None

    image = Rollout(at_s=0, kind="rollout", image_tag="0.2.0")
    assert perform(api, "ns", render(None), image, lambda *a, **k: None, no_sleep, upgrade)["via"] == "helm"
    assert patches(api) == []
    config = Rollout(at_s=0, kind="rollout", config={"CACHE_TTL_S": "3"})
    assert perform(api, "ns", render(None), config, lambda *a, **k: None, no_sleep, upgrade)["via"] == "api"
    assert len(patches(api)) == 2 and seen == ["0.2.0", None]


def test_a_stuck_rollout_fails_with_the_controller_reason() -> None:
    with pytest.raises(TargetError, match="ProgressDeadlineExceeded"):
        perform(
            FakeCluster(stuck=True), "ns", render(None), Rollout(at_s=0, kind="rollout", image_tag="2"),
            lambda *a, **k: None, sleep=no_sleep,
        )  # fmt: skip


def test_rollout_status_needs_the_new_generation_observed() -> None:
    status = {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
    done = {"metadata": {"generation": 2}, "spec": {"replicas": 2}, "status": status}
    assert rollout_done(done) == (True, None)
    assert rollout_done({**done, "status": {**done["status"], "observedGeneration": 1}}) == (False, None)
    assert rollout_done({**done, "status": {**done["status"], "replicas": 3}}) == (False, None)


def test_kill_restart_scale_and_latency() -> None:
    api = FakeCluster()
    result = perform(api, "ns", render(None), KillPod(at_s=0, kind="kill-pod", fraction=0.5), lambda *a, **k: None)
    assert {k: result[k] for k in ("killed", "ready_before")} == {"killed": ["web-0", "web-1"], "ready_before": 3}
    assert result["ready_after_s"] >= 0.0
    deleted = [args[0] for name, args in api.calls if name == "delete"]
    assert deleted == ["web-0", "web-1"]  # never a terminating, foreign-owned or unlabelled pod
    assert ("list", "app.kubernetes.io/name=web,app.kubernetes.io/part-of=hpabench") in api.calls
    restarted = perform(api, "ns", render(None), RestartDb(at_s=0, kind="restart-db"), lambda *a, **k: None, no_sleep)
    assert restarted["pod"] == "postgres-0" and ("delete", ("postgres-0", None)) in api.calls
    assert ("read", ("StatefulSet", "postgres")) in api.calls
    assert perform(api, "ns", render(None), ScaleTo(at_s=0, kind="scale-to", replicas=5), lambda *a, **k: None) == {
        "from": 3,
        "to": 5,
    }
    assert patches(api)[-1] == ("Deployment", "web", "scale", "application/merge-patch+json", {"spec": {"replicas": 5}})
    latency = AddLatency(at_s=0, kind="add-latency", between=["web", "redis"], delay_ms=5)
    assert "network chaos" in admit(latency, render(None))[0]


def test_objects_the_suite_did_not_deploy_are_left_alone() -> None:
    api = FakeCluster(labels={"app.kubernetes.io/name": "web"})
    for event in (
        KillPod(at_s=0, kind="kill-pod"),
        ScaleTo(at_s=0, kind="scale-to", replicas=2),
        Rollout(at_s=0, kind="rollout", image_tag="2"),
        RestartDb(at_s=0, kind="restart-db"),
    ):
        with pytest.raises(TargetError, match="not deployed by hpabench"):
            perform(api, "ns", render(None), event, lambda *a, **k: None, no_sleep)
    assert [name for name, _ in api.calls if name != "read"] == []


def test_admission_needs_the_workload_each_event_acts_on() -> None:
    objects = [o for o in render(None) if o["metadata"]["name"] not in ("postgres", "redis")]
    assert admit(restart_event("restart-db"), objects) == ["the rendered objects have no StatefulSet postgres"]
    assert admit(restart_event("restart-cache"), objects) == ["the rendered objects have no Deployment redis"]
    assert admit(ScaleTo(at_s=0, kind="scale-to", replicas=1), objects) == []
    no_web = [o for o in render(None) if o["metadata"]["name"] != "web"]
    assert admit(KillPod(at_s=0, kind="kill-pod"), no_web) == ["the rendered objects have no Deployment web"]


def restart_event(kind: str) -> Any:
    return RestartDb(at_s=0, kind="restart-db") if kind == "restart-db" else RestartCache(at_s=0, kind=kind)
