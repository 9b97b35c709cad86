"""Every permission the k8s target uses, derived from what it does (and checked against deploy/rbac/).

`required_rules(objects, discover_prometheus)` = the server-side apply rules of each rendered kind
(patch + create) plus the fixed rules of the target's own work below. The pre-flight asks the
API server a SelfSubjectAccessReview for each; the RBAC test replays a whole run against the
emulator and checks that every request it recorded maps to one of these rules, and that the
shipped ClusterRoles grant them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hpabench.deploy.k8s.resources import KINDS, Rule, apply_rules, ref_of

# The namespace's life, reading what the controllers did, watching, reaching pods.
TARGET_RULES: tuple[Rule, ...] = (
    Rule("create", "", "namespaces", namespaced=False),
    Rule("get", "", "namespaces", namespaced=False),
    Rule("delete", "", "namespaces", namespaced=False),
    Rule("list", "", "namespaces", namespaced=False),  # gc
    Rule("list", "", "nodes", namespaced=False),  # cluster facts, image presence
    Rule("list", "storage.k8s.io", "storageclasses", namespaced=False),
    Rule("create", "authorization.k8s.io", "selfsubjectaccessreviews", namespaced=False),
    Rule("get", "apps", "deployments"),
    Rule("list", "apps", "deployments"),
    Rule("watch", "apps", "deployments"),
    Rule("get", "apps", "statefulsets"),
    Rule("list", "apps", "statefulsets"),
    Rule("watch", "apps", "statefulsets"),
    Rule("list", "autoscaling", "horizontalpodautoscalers"),
    Rule("watch", "autoscaling", "horizontalpodautoscalers"),
    Rule("list", "", "pods"),
    Rule("watch", "", "pods"),
    # A websocket port-forward is a GET upgrade, authorized as `get`; from 1.35 the API server also
    # checks `create` (KEP-4006, gate AuthorizePodWebsocketUpgradeCreatePermission) — need both.
    Rule("create", "", "pods", "portforward"),
    Rule("get", "", "pods", "portforward"),
    Rule("list", "", "events"),
    Rule("watch", "", "events"),
    Rule("list", "", "persistentvolumeclaims"),
)
METRICS_RULES: tuple[Rule, ...] = (Rule("list", "metrics.k8s.io", "nodes", namespaced=False),)
# Discovering a kube-prometheus-stack Prometheus anywhere in the cluster and forwarding to it.
PROMETHEUS_DISCOVERY_RULES: tuple[Rule, ...] = (
    Rule("list", "", "pods", namespaced=False),
    Rule("create", "", "pods", "portforward", namespaced=False),
    Rule("get", "", "pods", "portforward", namespaced=False),
)


MONITOR_RULES: tuple[Rule, ...] = (
    Rule("patch", "monitoring.coreos.com", "podmonitors"),
    Rule("create", "monitoring.coreos.com", "podmonitors"),
)
# In-cluster load (`incluster_driver`): apply and delete the Locust objects, read the worker pods'
# logs, port-forward to the master pod (already in TARGET_RULES).
LOADGEN_RULES: tuple[Rule, ...] = (
    *(
        Rule(verb, group, resource)
        for group, resource in (("", "configmaps"), ("", "services"), ("batch", "jobs"))
        for verb in ("create", "patch", "delete")
    ),
    Rule("get", "", "pods", "log"),
)

# Scenario events (`deploy/k8s_events.py` through `event_client.RestEventApi`), per event kind:
# every action first reads the workload it acts on (the label check) — `get` of Deployments and
# StatefulSets is in TARGET_RULES already.
EVENT_RULES: dict[str, tuple[Rule, ...]] = {
    "rollout": (
        Rule("patch", "apps", "deployments"),
        Rule("get", "", "configmaps"),
        Rule("patch", "", "configmaps"),
    ),
    "kill-pod": (Rule("list", "", "pods"), Rule("delete", "", "pods")),
    "restart-db": (Rule("get", "apps", "statefulsets"), Rule("list", "", "pods"), Rule("delete", "", "pods")),
    "restart-cache": (Rule("get", "apps", "deployments"), Rule("list", "", "pods"), Rule("delete", "", "pods")),
    "scale-to": (Rule("patch", "apps", "deployments", "scale"),),
}


# `--helm` (`helm.py`): helm keeps each release revision in a Secret of the namespace (list, get,
# create, update, delete), reads every chart object before it creates, applies or client-side
# patches it (a rollout's upgrade), and deletes them all on `helm uninstall`.
HELM_RELEASE_RULES: tuple[Rule, ...] = tuple(
    Rule(verb, "", "secrets") for verb in ("list", "get", "create", "update", "delete")
)
HELM_OBJECT_VERBS = ("get", "create", "patch", "delete")


def helm_rules(objects: list[dict[str, Any]]) -> list[Rule]:
    """What `helm upgrade --install` / `upgrade` / `uninstall` of the chart rendering `objects` needs."""
    rules: set[Rule] = set(HELM_RELEASE_RULES)
    for obj in objects:
        if obj.get("kind") in KINDS:
            patch = apply_rules(ref_of(obj, "x"))[0]
            rules.update(Rule(verb, patch.group, patch.resource, "", patch.namespaced) for verb in HELM_OBJECT_VERBS)
    return sorted(rules)


def event_rules(kinds: Iterable[str]) -> list[Rule]:
    """The rules the scenario events of `kinds` need (kinds the target refuses need none)."""
    return sorted({rule for kind in kinds for rule in EVENT_RULES.get(kind, ())})


def required_rules(
    objects: list[dict[str, Any]],
    discover_prometheus: bool,
    needs_metrics: bool,
    monitors: bool = False,
    in_cluster_load: bool = False,
    event_kinds: Iterable[str] = (),
    helm: bool = False,
) -> list[Rule]:
    """Every rule a run of `objects` needs, without duplicates, in a stable order. `monitors`: the
    run may add PodMonitors (`monitors.monitor_objects`); `in_cluster_load`: `--load-from cluster`;
    `event_kinds`: the scenario's event kinds (`EVENT_RULES`); `helm`: `--helm` (`helm_rules`)."""
    rules: set[Rule] = set(TARGET_RULES)
    rules.update(event_rules(event_kinds))
    if helm:
        rules.update(helm_rules(objects))
    if monitors:
        rules.update(MONITOR_RULES)
    if in_cluster_load:
        rules.update(LOADGEN_RULES)
    for obj in objects:
        if obj.get("kind") in KINDS:
            rules.update(apply_rules(ref_of(obj, "x")))
    if discover_prometheus:
        rules.update(PROMETHEUS_DISCOVERY_RULES)
    if needs_metrics:
        rules.update(METRICS_RULES)
    return sorted(rules)


def covers(granted: list[dict[str, Any]], rule: Rule) -> bool:
    """Whether RBAC `rules` (PolicyRule dicts of a Role/ClusterRole) allow `rule` (pure)."""
    for policy in granted:
        groups = policy.get("apiGroups") or []
        resources = policy.get("resources") or []
        verbs = policy.get("verbs") or []
        if (
            (rule.group in groups or "*" in groups)
            and (rule.resource_name in resources or "*" in resources)
            and (rule.verb in verbs or "*" in verbs)
        ):
            return True
    return False
