"""The k8s-side event actions against a fake client (no cluster): what is patched, deleted and watched."""

from __future__ import annotations

from typing import Any

import pytest

from hpabench.deploy.k8s_events import admit, perform, rollout_done
from hpabench.deploy.render import render
from hpabench.errors import TargetError
from hpabench.scenarios.events import AddLatency, KillPod, RestartDb, Rollout, ScaleTo


class FakeCluster:
    """A Deployment whose status advances one step per read after a template change."""

    def __init__(self, steps_to_done: int = 3, stuck: bool = False) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.generation = 1
        self.steps = 0
        self.steps_to_done = steps_to_done
        self.stuck = stuck
        self.postgres_ready_after = 2

    def read_deployment(self, namespace: str, name: str) -> dict[str, Any]:
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
        return {"metadata": {"generation": self.generation}, "spec": {"replicas": 3}, "status": status}

    def replace_deployment_template(self, namespace: str, name: str, template: dict[str, Any]) -> None:
        self.calls.append(("template", (namespace, name, template)))
        self.generation += 1
        self.steps = 0

    def replace_configmap_data(self, namespace: str, name: str, data: dict[str, str]) -> None:
        self.calls.append(("configmap", (namespace, name, data)))

    def list_pods(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        self.calls.append(("list", label_selector))
        ready = {"conditions": [{"type": "Ready", "status": "True"}]}
        if label_selector.endswith("=postgres"):
            self.postgres_ready_after -= 1
            return [{"metadata": {"name": "postgres-0"}, "status": ready if self.postgres_ready_after <= 0 else {}}]
        return [{"metadata": {"name": f"web-{i}"}, "status": ready} for i in range(3)] + [
            {"metadata": {"name": "web-gone", "deletionTimestamp": "x"}, "status": ready}
        ]

    def delete_pod(self, namespace: str, name: str, grace_period_s: int | None) -> None:
        self.calls.append(("delete", (name, grace_period_s)))

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        self.calls.append(("scale", (name, replicas)))


def no_sleep(seconds: float) -> None:
    pass


def test_config_rollout_patches_the_configmap_then_the_template_and_watches() -> None:
    api, emitted = FakeCluster(), []
    objects = render(None)
    event = Rollout(at_s=0, kind="rollout", config={"CACHE_TTL_S": "3"})
    result = perform(api, "run-ns", objects, event, lambda kind, **f: emitted.append(kind), sleep=no_sleep)
    assert [name for name, _ in api.calls] == ["configmap", "template"]
    assert api.calls[0][1][2]["CACHE_TTL_S"] == "3"
    assert "checksum/config" in api.calls[1][1][2]["metadata"]["annotations"]
    assert result["complete"] and emitted == ["rollout_started", "rollout_finished"]


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
    assert result == {"killed": ["web-0", "web-1"]}
    assert ("delete", ("web-0", 0)) in api.calls and ("delete", ("web-gone", 0)) not in api.calls
    restarted = perform(api, "ns", render(None), RestartDb(at_s=0, kind="restart-db"), lambda *a, **k: None, no_sleep)
    assert restarted["pod"] == "postgres-0" and ("delete", ("postgres-0", None)) in api.calls
    assert perform(api, "ns", render(None), ScaleTo(at_s=0, kind="scale-to", replicas=5), lambda *a, **k: None) == {
        "from": 3,
        "to": 5,
    }
    latency = AddLatency(at_s=0, kind="add-latency", between=["web", "redis"], delay_ms=5)
    assert "network chaos" in admit(latency, render(None))[0]
