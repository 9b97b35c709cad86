"""Every API request a whole run makes is one the pre-flight asks about and deploy/rbac/ grants."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from hpabench.deploy.k8s.permissions import covers, required_rules
from hpabench.deploy.k8s.resources import Rule, request_rule
from hpabench.deploy.render import render
from hpabench.deploy.variant import default_variant
from hpabench.rundir import RunDir

from .conftest import Emulator, controllers_running, seed_cluster
from .test_events_flow import EVERY_EVENT, perform_every_event
from .test_flow import IMAGE, make_target

EVENT_KINDS = {e.kind_name for e in EVERY_EVENT}

RBAC = Path(__file__).resolve().parents[3] / "deploy" / "rbac" / "hpabench-rbac.yaml"


def granted_rules() -> list[dict]:
    docs = [d for d in yaml.safe_load_all(RBAC.read_text()) if d]
    return [rule for d in docs if d["kind"] in ("ClusterRole", "Role") for rule in d["rules"]]


def _key(rule: Rule) -> tuple[str, str, str]:
    return rule.verb, rule.group, rule.resource_name


@pytest.mark.asyncio
async def test_a_whole_run_stays_within_the_declared_and_shipped_permissions(cluster: Emulator, tmp_path) -> None:
    await seed_cluster(cluster, images=[IMAGE])
    objects = render(default_variant())
    target = make_target(tmp_path, cluster, ready_timeout_s=30, monitors="on")
    run = RunDir.create(tmp_path / "reports", "rbac")
    async with controllers_running(cluster):
        try:
            assert await asyncio.to_thread(target.admit, objects) == []
            assert await asyncio.to_thread(target.admit_events, EVERY_EVENT, objects) == []
            deployed = await asyncio.to_thread(target.start, objects, run, lambda m: None)
            try:
                results = await perform_every_event(cluster, deployed, run)  # every scenario event, too
                failed = [r for r in results if r["state"] == "failed"]
                assert {r["state"] for r in results} == {"started", "finished"}, failed
            finally:
                await asyncio.to_thread(deployed.stop)
        finally:
            run.close()
    ours = [r for r in cluster._requests if str(r.headers.get("User-Agent", "")).startswith("hpabench/")]
    used: set[Rule] = set()
    for request in ours:
        rule = request_rule(
            str(getattr(request.method, "value", request.method)), request.url.path, dict(request.params)
        )
        if rule is None:
            continue
        used.add(rule)
        if "apply-patch" in str(request.headers.get("Content-Type", "")):
            used.add(Rule("create", rule.group, rule.resource, rule.subresource, rule.namespaced))
    assert len(used) > 15  # the replay really exercised the target
    declared = {_key(r) for r in required_rules(objects, True, True, monitors=True, event_kinds=EVENT_KINDS)}
    undeclared = sorted(str(r) for r in used if _key(r) not in declared)
    assert undeclared == [], "requests the pre-flight does not check"
    ungranted = sorted(str(r) for r in used if not covers(granted_rules(), r))
    assert ungranted == [], "requests deploy/rbac does not grant"


def test_every_declared_permission_is_granted() -> None:
    objects = render(default_variant())
    rules = required_rules(objects, True, True, monitors=True, event_kinds=EVENT_KINDS, helm=True)
    missing = [str(r) for r in rules if not covers(granted_rules(), r)]
    assert missing == []


def test_covers_is_exact_about_verbs_groups_and_subresources() -> None:
    granted = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]
    assert covers(granted, Rule("list", "", "pods"))
    assert not covers(granted, Rule("watch", "", "pods"))
    assert not covers(granted, Rule("list", "apps", "pods"))
    assert not covers(granted, Rule("create", "", "pods", "portforward"))
