"""The pure readers of API objects, on the shapes a real API server returns (status as the
controllers write it), including the ones the emulator never produces by itself."""

from __future__ import annotations

import json

from hpabench.deploy.k8s.observe import api_time, hpa_metrics_json
from hpabench.deploy.k8s.readiness import pod_problems, workload_ready
from hpabench.deploy.k8s.resources import Rule, request_rule


def test_hpa_metrics_of_every_target_type() -> None:
    hpa = {
        "spec": {
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
                },
                {
                    "type": "Pods",
                    "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "50"}},
                },
                {"type": "Object", "object": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "1k"}}},
            ]
        },
        "status": {
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": 75, "averageValue": "150m"}},
                },
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "current": {"averageValue": "41500m"}}},
            ]
        },
    }
    assert json.loads(hpa_metrics_json(hpa)) == {
        "cpu": {"current": 75.0, "target": 60.0, "type": "utilization"},
        "rps": {"current": 41.5, "target": 50.0, "type": "average"},
        "queue": {"current": None, "target": 1000.0, "type": "value"},  # not measured yet: null, not 0
    }


def test_a_workload_is_ready_only_once_its_controller_saw_the_current_generation() -> None:
    deployment = {"metadata": {"generation": 2}, "spec": {"replicas": 3}}
    stale = {**deployment, "status": {"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 3}}
    rolling = {**deployment, "status": {"observedGeneration": 2, "readyReplicas": 3, "updatedReplicas": 1}}
    done = {**deployment, "status": {"observedGeneration": 2, "readyReplicas": 3, "updatedReplicas": 3}}
    assert [workload_ready(d)[0] for d in (stale, rolling, done)] == [False, False, True]
    assert workload_ready(rolling)[1] == "3/3"


def test_pod_problems_tell_waiting_from_hopeless() -> None:
    def pod(reason: str, restarts: int = 0) -> dict:
        state = {"waiting": {"reason": reason, "message": "m"}}
        return {
            "metadata": {"name": "p"},
            "status": {"containerStatuses": [{"name": "web", "state": state, "restartCount": restarts}]},
        }

    assert pod_problems([pod("ContainerCreating")]) == ([], False)
    assert pod_problems([pod("CrashLoopBackOff", 1)])[1] is False  # may still come up
    assert pod_problems([pod("CrashLoopBackOff", 3)])[1] is True
    assert pod_problems([pod("ErrImagePull")])[1] is True
    unschedulable = {
        "metadata": {"name": "p"},
        "status": {
            "conditions": [
                {"type": "PodScheduled", "status": "False", "message": "0/1 nodes are available: 1 Insufficient cpu."}
            ]
        },
    }
    assert pod_problems([unschedulable]) == (
        ["pod p unschedulable: 0/1 nodes are available: 1 Insufficient cpu."],
        False,
    )


def test_request_rules_follow_the_authorizer() -> None:
    assert request_rule("GET", "/api/v1/namespaces/ns/pods", {"watch": "true"}) == Rule("watch", "", "pods")
    assert request_rule("GET", "/apis/apps/v1/namespaces/ns/deployments/web") == Rule("get", "apps", "deployments")
    assert request_rule("PATCH", "/apis/autoscaling/v2/namespaces/ns/horizontalpodautoscalers/web") == Rule(
        "patch", "autoscaling", "horizontalpodautoscalers"
    )
    assert request_rule("DELETE", "/api/v1/namespaces/ns") == Rule("delete", "", "namespaces", namespaced=False)
    assert request_rule("GET", "/api/v1/namespaces/ns/pods/p/portforward") == Rule("create", "", "pods", "portforward")
    assert request_rule("GET", "/version") is None and request_rule("GET", "/apis/metrics.k8s.io/v1beta1") is None


def test_api_time() -> None:
    assert api_time("1970-01-01T00:01:00Z") == 60.0
    assert api_time(None) is None and api_time("yesterday") is None
