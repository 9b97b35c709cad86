"""Scenario events: the model (validation, ordering, time scaling), the rollout arithmetic, the
object changes a rollout makes, admission by the local target and the event runner's clock."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpabench.console import Console
from hpabench.deploy.local.pods import PodInfo
from hpabench.deploy.local.rollout import rolling_step, rollout_complete
from hpabench.deploy.local.target import LocalTarget
from hpabench.deploy.render import render
from hpabench.deploy.rollout_change import changed_objects, with_tag
from hpabench.deploy.strategy import CHECKSUM_ANNOTATION, RolloutStrategy, resolve_fenceposts, strategy_of
from hpabench.deploy.variant import Variant
from hpabench.errors import SpecError
from hpabench.events import EventRunner, admit_events
from hpabench.pipeline import RunOptions, run_benchmark
from hpabench.rundir import EventLog, read_events
from hpabench.scenarios.catalogue import load_scenario, load_scenario_file
from hpabench.scenarios.events import KillPod, Rollout, scheduled
from hpabench.target import TargetOptions
from tests.support.fakes import Calls, FakeCollector, FakeDriver, FakeReporter, FakeTarget


def scenario_file(tmp_path: Path, events: list[dict[str, Any]], **extra: Any) -> Path:
    data = {
        "name": "with-events",
        "description": "steady with events",
        "warmup": {"duration_s": 10, "users": 2},
        "stages": [{"name": "steady", "duration_s": 60, "users": 5}],
        "events": events,
        **extra,
    }
    path = tmp_path / "with-events.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


# -- the model -----------------------------------------------------------------------------------


def test_events_are_ordered_by_offset_and_scaled_after_the_warmup(tmp_path: Path) -> None:
    path = scenario_file(
        tmp_path,
        [
            {"at_s": 40, "kind": "scale-to", "replicas": 3},
            {"at_s": 20, "kind": "rollout", "image_tag": "0.2.0", "name": "upgrade"},
            {"at_s": 20, "kind": "kill-pod", "fraction": 0.5},
        ],
    )
    scenario = load_scenario_file(path)
    plan = scheduled(scenario, time_scale=0.5)
    assert [item.name for item in plan] == ["upgrade", "kill-pod-3", "scale-to-1"]  # ties keep file order
    assert [item.t_s for item in plan] == [15.0, 15.0, 25.0]  # (10 s warm-up + at_s) * 0.5
    assert [item.t_s for item in scheduled(scenario)] == [30.0, 30.0, 50.0]
    assert load_scenario("spike").events == []


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"at_s": 5, "kind": "rollout"}, "exactly one of `image_tag`, `config` or `patch`"),
        ({"at_s": 5, "kind": "rollout", "image_tag": "a", "config": {"X": "1"}}, "exactly one of"),
        ({"at_s": 60, "kind": "restart-db"}, "not before the end of the load (60 s)"),
        ({"at_s": 5, "kind": "kill-pod", "count": 1, "fraction": 0.5}, "`count` or `fraction`"),
        ({"at_s": 5, "kind": "add-latency", "between": ["web", "web"], "delay_ms": 5}, "two different tiers"),
        ({"at_s": 5, "kind": "remove-latency", "between": ["web", "redis"]}, "no earlier add-latency"),
        ({"at_s": 5, "kind": "reboot"}, "events.0"),
        ({"at_s": -1, "kind": "restart-cache"}, "events.0.restart-cache.at_s"),
        ({"at_s": 5, "kind": "scale-to", "replicas": 2, "colour": "red"}, "colour"),
    ],
)
def test_invalid_events_name_the_file_and_the_problem(tmp_path: Path, event: dict[str, Any], message: str) -> None:
    path = scenario_file(tmp_path, [event])
    with pytest.raises(SpecError) as caught:
        load_scenario_file(path)
    text = str(caught.value)
    assert str(path) in text and message in text


def test_latency_removed_after_it_was_added_is_valid(tmp_path: Path) -> None:
    path = scenario_file(
        tmp_path,
        [
            {"at_s": 30, "kind": "remove-latency", "between": ["postgres", "web"]},
            {"at_s": 10, "kind": "add-latency", "between": ["web", "postgres"], "delay_ms": 20},
        ],
    )
    assert [e.kind_name for _, e in enumerate(load_scenario_file(path).events)] == ["remove-latency", "add-latency"]


def test_kill_fraction_rounds_up_to_at_least_one_pod() -> None:
    assert KillPod(at_s=0, kind="kill-pod", fraction=0.5).victims(3) == 2
    assert KillPod(at_s=0, kind="kill-pod", fraction=0.1).victims(3) == 1
    assert KillPod(at_s=0, kind="kill-pod").victims(5) == 1


# -- Kubernetes' rollout arithmetic --------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (4, "25%", "25%", (1, 1)),
        (3, "25%", "25%", (1, 0)),  # surge 0.75 rounds up, unavailable 0.75 rounds down
        (10, "25%", "25%", (3, 2)),
        (1, "0%", "10%", (0, 1)),  # both zero: one unavailable pod so the rollout can progress
        (5, 0, 2, (0, 2)),
        (2, "50%", 0, (1, 0)),
    ],
)
def test_fenceposts_round_like_the_deployment_controller(
    replicas: int, surge: Any, unavailable: Any, expected: tuple[int, int]
) -> None:
    assert resolve_fenceposts(replicas, surge, unavailable) == expected


def test_strategy_knobs_render_into_the_deployment() -> None:
    variant = Variant.model_validate(
        {
            "name": "slow-roll",
            "web": {
                "rollout": {
                    "max_surge": "50%",
                    "max_unavailable": 0,
                    "min_ready_s": 3,
                    "termination_grace_s": 20,
                    "pre_stop_delay_s": 5,
                }
            },
        }
    )
    web = next(o for o in render(variant) if o["kind"] == "Deployment" and o["metadata"]["name"] == "web")
    assert web["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": 0},
    }
    assert web["spec"]["minReadySeconds"] == 3
    assert web["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 20
    assert web["spec"]["template"]["spec"]["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}
    strategy, problems = strategy_of(web)
    assert problems == [] and strategy.min_ready_s == 3 and strategy.limits(4) == (2, 0)


@pytest.mark.parametrize(
    ("rollout", "message"),
    [
        ({"max_surge": 0, "max_unavailable": "0%"}, "may not both be 0"),
        ({"max_surge": "150 %"}, "percentage like 25%"),
        ({"pre_stop_delay_s": 30, "termination_grace_s": 10}, "exceeds termination_grace_s"),
    ],
)
def test_invalid_rollout_knobs_are_refused(rollout: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Variant.model_validate({"name": "bad", "web": {"rollout": rollout}})


def _pod(name: str, ready_after: float | None, created: float) -> dict[str, Any]:
    return {"name": name, "ready_after": ready_after, "created": created, "deleting": False}


def _info(pod: dict[str, Any], now: float) -> PodInfo:
    ready = pod["ready_after"] is not None and now >= pod["ready_after"] and not pod["deleting"]
    return PodInfo(
        name=pod["name"], deployment="web", phase="Running", ready=ready, deleting=pod["deleting"],
        created_ts=pod["created"], started_ts=pod["created"], ready_ts=pod["ready_after"] if ready else None,
        restarts=0, pid=None, cpu_request_millicores=None, cpu_limit_millicores=None, memory_request_bytes=None,
        memory_limit_bytes=None, cpu_usage_seconds=0.0, memory_usage_bytes=0, cpu_throttled_periods=0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "min_ready_s"),
    [(3, 1, 0, 0.0), (3, 0, 1, 0.0), (4, "25%", "25%", 2.0), (5, 2, 2, 0.0), (2, "100%", 0, 1.0)],
)
def test_a_simulated_rollout_stays_within_its_limits_and_completes(
    replicas: int, surge: Any, unavailable: Any, min_ready_s: float
) -> None:
    """Pods need 3 s to become ready; each 0.5 s tick applies one rolling step."""
    strategy = RolloutStrategy(max_surge=surge, max_unavailable=unavailable, min_ready_s=min_ready_s)
    max_surge, max_unavailable = strategy.limits(replicas)
    old = [_pod(f"old-{i}", -100.0, -100.0) for i in range(replicas)]
    new: list[dict[str, Any]] = []
    now, seen_surge, seen_unavailable = 0.0, 0, 0
    while not rollout_complete(replicas, strategy, [_info(p, now) for p in new], [_info(p, now) for p in old], now):
        assert now < 300, "the rollout did not complete"
        step = rolling_step(replicas, strategy, [_info(p, now) for p in new], [_info(p, now) for p in old], now)
        new += [_pod(f"new-{len(new) + i}", now + 3.0, now) for i in range(step.create)]
        for pod in old:
            if pod["name"] in step.delete:
                pod["deleting"] = True
        infos = [_info(p, now) for p in new + old]
        active = [p for p in infos if not p.deleting]
        available_now = sum(1 for p in active if p.ready and now - (p.ready_ts or now) >= min_ready_s)
        seen_surge = max(seen_surge, len(active) - replicas)
        seen_unavailable = max(seen_unavailable, replicas - available_now)
        assert len(active) <= replicas + max_surge
        assert replicas - available_now <= max_unavailable
        now += 0.5
    assert len(new) == replicas and all(p["deleting"] for p in old)
    assert seen_surge == max_surge or seen_unavailable == max_unavailable  # the budget was used


def test_recreate_deletes_everything_first_and_waits() -> None:
    strategy = RolloutStrategy(kind="Recreate")
    old = [_info(_pod(f"old-{i}", -10.0, -10.0), 0.0) for i in range(2)]
    assert rolling_step(2, strategy, [], old, 0.0).delete == ("old-0", "old-1")
    terminating = [PodInfo(**{**p.__dict__, "deleting": True}) for p in old]
    assert rolling_step(2, strategy, [], terminating, 0.0).create == 0
    assert rolling_step(2, strategy, [], [], 0.0).create == 2


# -- what a rollout changes ----------------------------------------------------------------------


def _web(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "web")


def test_rollout_changes_image_config_or_patch_on_the_template_only() -> None:
    objects = render(None)
    tagged = changed_objects(objects, Rollout(at_s=0, kind="rollout", image_tag="0.2.0"))
    images = [c["image"] for c in _web(tagged)["spec"]["template"]["spec"]["containers"]]
    assert images == ["hpabench/refapp:0.2.0"] and _web(objects)["spec"]["template"] != _web(tagged)["spec"]["template"]
    configured = changed_objects(objects, Rollout(at_s=0, kind="rollout", config={"CACHE_TTL_S": "9"}))
    config = next(o for o in configured if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "web-config")
    assert config["data"]["CACHE_TTL_S"] == "9"
    checksum = _web(configured)["spec"]["template"]["metadata"]["annotations"][CHECKSUM_ANNOTATION]
    again = changed_objects(objects, Rollout(at_s=0, kind="rollout", config={"CACHE_TTL_S": "10"}))
    assert _web(again)["spec"]["template"]["metadata"]["annotations"][CHECKSUM_ANNOTATION] != checksum
    patched = changed_objects(
        objects,
        Rollout(at_s=0, kind="rollout", patch=[{"op": "add", "path": "/metadata/labels/track", "value": "canary"}]),
    )
    assert _web(patched)["spec"]["template"]["metadata"]["labels"]["track"] == "canary"
    assert with_tag("ghcr.io/x/refapp@sha256:abc", "1") == "ghcr.io/x/refapp:1"
    with pytest.raises(ValueError, match="does not apply"):
        changed_objects(objects, Rollout(at_s=0, kind="rollout", patch=[{"op": "remove", "path": "/spec/nope"}]))
    with pytest.raises(ValueError, match="leaves the web pod template as it is"):
        changed_objects(objects, Rollout(at_s=0, kind="rollout", image_tag="0.1.0"))


# -- admission -----------------------------------------------------------------------------------


def test_local_target_refuses_unroutable_latency_and_broken_rollouts_before_the_run(tmp_path: Path) -> None:
    path = scenario_file(
        tmp_path,
        [
            {"at_s": 5, "kind": "add-latency", "between": ["postgres", "redis"], "delay_ms": 20},
            {"at_s": 6, "kind": "rollout", "patch": [{"op": "replace", "path": "/spec/nothing", "value": 1}]},
            {"at_s": 7, "kind": "kill-pod"},
            {"at_s": 8, "kind": "restart-db"},
            {"at_s": 9, "kind": "add-latency", "between": ["redis", "web"], "delay_ms": 3},
            {"at_s": 10, "kind": "remove-latency", "between": ["web", "redis"]},
        ],
    )
    events = list(load_scenario_file(path).events)
    target = LocalTarget(TargetOptions())
    issues = target.admit_events(events, render(None))
    paths = [issue.path for issue in issues]
    assert paths == ["events.0", "events.1"]
    assert "web→postgres and web→redis" in issues[0].message and "does not apply" in issues[1].message
    assert target.delayed_services == ("redis",)  # the stack gets a delay relay on web→redis
    no_cache = [o for o in render(None) if o["metadata"]["name"] != "redis"]
    refused = LocalTarget(TargetOptions()).admit_events(events[4:], no_cache)
    assert [i.path for i in refused] == ["events.0", "events.1"] and "no Service redis" in refused[0].message
    no_db = [o for o in render(None) if o["metadata"]["name"] != "postgres"]
    assert [i.path for i in LocalTarget(TargetOptions()).admit_events(events[3:], no_db)] == ["events.0"]


def test_a_target_without_events_refuses_them_and_nothing_is_created(tmp_path: Path) -> None:
    calls = Calls()
    target = FakeTarget(calls)
    path = scenario_file(tmp_path, [{"at_s": 5, "kind": "kill-pod"}])
    assert admit_events(target, [], [], "x") == []
    with pytest.raises(SpecError, match="cannot perform scenario events"):
        run_benchmark(
            RunOptions(scenario=str(path), reports_dir=tmp_path / "reports"),
            Console(io.StringIO()),
            target_factory=target.factory,
            driver=FakeDriver(calls),
            reporter=FakeReporter(calls),
            collector=FakeCollector(calls),
        )
    assert not (tmp_path / "reports").exists() and "start" not in calls.names()


# -- the runner ----------------------------------------------------------------------------------


class RecordingDeployed:
    def __init__(self, fail: str | None = None) -> None:
        self.fired: list[tuple[str, float]] = []
        self.fail = fail
        self.lock = threading.Lock()

    def perform_event(self, event: Any, emit: Any) -> dict[str, Any]:
        with self.lock:
            self.fired.append((event.kind_name, time.time()))
        if event.kind_name == self.fail:
            raise ValueError("boom")
        emit("fault", message=f"{event.kind_name} done")
        return {"ok": True}


def test_runner_fires_on_the_load_clock_records_and_skips_the_rest(tmp_path: Path) -> None:
    path = scenario_file(
        tmp_path,
        [
            {"at_s": 0, "kind": "kill-pod"},
            {"at_s": 2, "kind": "scale-to", "replicas": 2},
            {"at_s": 50, "kind": "restart-cache"},
        ],
    )
    plan = scheduled(load_scenario_file(path), time_scale=0.05)  # at 0.5 s, 0.6 s and 3 s
    log = EventLog(tmp_path / "events.jsonl")
    deployed = RecordingDeployed(fail="scale-to")
    t0 = time.time() + 0.3
    clock_known = threading.Event()
    runner = EventRunner(plan, deployed, log, lambda: t0 if clock_known.is_set() else None, fallback_t0=0.0)
    runner.start()
    time.sleep(0.1)
    clock_known.set()
    deadline = time.monotonic() + 30
    while len(deployed.fired) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    runner.stop()
    log.close()
    assert [kind for kind, _ in deployed.fired] == ["kill-pod", "scale-to"]
    assert deployed.fired[0][1] >= t0 + 0.5 - 0.01
    rows = [e for e in read_events(tmp_path) if e["kind"] == "scenario_event"]
    states = [(r["name"], r["state"]) for r in rows]
    assert states == [
        ("kill-pod-1", "started"),
        ("kill-pod-1", "finished"),
        ("scale-to-2", "started"),
        ("scale-to-2", "failed"),
        ("restart-cache-3", "skipped"),
    ]
    assert rows[0]["planned_t_s"] == 0.5 and rows[3]["error"] == "boom" and rows[2]["params"] == {"replicas": 2}


def test_readme_events_examples_are_valid(tmp_path: Path) -> None:
    import re

    from hpabench.deploy.variant import load_variant

    blocks = re.findall(r"```yaml\n(.*?)```", (Path(__file__).resolve().parents[2] / "README.md").read_text(), re.S)
    (scenario_text,) = [b for b in blocks if b.startswith("name: steady-upgrade")]
    (variant_text,) = [b for b in blocks if b.startswith("name: surge-one")]
    (tmp_path / "s.yaml").write_text(scenario_text)
    (tmp_path / "v.yaml").write_text(variant_text)
    scenario = load_scenario_file(tmp_path / "s.yaml")
    assert [e.kind for e in scheduled(scenario)] == ["rollout", "kill-pod", "restart-db", "scale-to"]
    web = _web(render(load_variant(tmp_path / "v.yaml")))
    assert web["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert LocalTarget(TargetOptions()).admit_events(list(scenario.events), render(None)) == []


class EventfulTarget(FakeTarget):
    """The fake target, able to perform events (each one recorded with its load offset)."""

    def admit_events(self, events: list[Any], objects: list[dict[str, Any]]) -> list[Any]:
        self.calls.log.append(("admit_events", [e.kind_name for e in events]))
        return []


class SlowDriver(FakeDriver):
    """Writes the load clock like the real driver, then 'drives' for `load_s`."""

    def __init__(self, calls: Calls, load_s: float) -> None:
        super().__init__(calls)
        self.load_s = load_s

    def __call__(self, config: Any, progress: Any = None) -> Any:
        from hpabench.scenarios.drive.locust_runtime import write_clock

        t0 = time.time()
        write_clock(config.data_dir, t0=t0)
        time.sleep(self.load_s)
        result = super().__call__(config, progress)
        return type(result)(t0, time.time(), False, [])


def test_the_pipeline_fires_events_during_the_load_and_records_them(tmp_path: Path) -> None:
    calls = Calls()
    target = EventfulTarget(calls)
    fired: list[tuple[str, float]] = []

    def perform_event(event: Any, emit: Any) -> dict[str, Any]:
        fired.append((event.kind_name, time.time()))
        return {"done": True}

    target.deployed.perform_event = perform_event  # type: ignore[attr-defined]
    path = scenario_file(tmp_path, [{"at_s": 4, "kind": "scale-to", "replicas": 2}, {"at_s": 55, "kind": "kill-pod"}])
    outcome = run_benchmark(
        RunOptions(scenario=str(path), time_scale=0.05, reports_dir=tmp_path / "reports", scrape_interval_s=0.5),
        Console(io.StringIO()),
        target_factory=target.factory,
        driver=SlowDriver(calls, load_s=1.5),
        reporter=FakeReporter(calls),
        collector=FakeCollector(calls),
    )
    assert outcome.status == "completed"
    assert ("admit_events", ["scale-to", "kill-pod"]) in calls.log
    rows = [e for e in read_events(outcome.run_path) if e["kind"] == "scenario_event"]
    assert [(r["name"], r["state"]) for r in rows] == [
        ("scale-to-1", "started"),
        ("scale-to-1", "finished"),
        ("kill-pod-2", "skipped"),  # at (10 + 55) * 0.05 = 3.25 s, after the 1.5 s of load
    ]
    clock_t0 = json.loads((outcome.run_path / "data" / "locust_clock.json").read_text())["t0"]
    assert [kind for kind, _ in fired] == ["scale-to"]
    assert fired[0][1] - clock_t0 >= (10 + 4) * 0.05 - 0.01
    assert calls.names().index("drive") < calls.names().index("stop")


@pytest.mark.parametrize("scaled_to", [5, 1])
def test_an_hpa_scale_during_a_rollout_is_honoured_with_the_new_count(scaled_to: int) -> None:
    """The HPA changes the replicas mid-rollout: the limits follow the new count and the rollout
    ends with that many new pods (extra pods from the new template, surplus from the old)."""
    strategy = RolloutStrategy(max_surge=1, max_unavailable=0)
    old = [_pod(f"old-{i}", -100.0, -100.0) for i in range(3)]
    new: list[dict[str, Any]] = []
    replicas, now = 3, 0.0
    while True:
        if now == 2.0:
            replicas = scaled_to
        new_infos, old_infos = [_info(p, now) for p in new], [_info(p, now) for p in old]
        if rollout_complete(replicas, strategy, new_infos, old_infos, now):
            break
        assert now < 300, "the rollout did not complete"
        step = rolling_step(replicas, strategy, new_infos, old_infos, now)
        new += [_pod(f"new-{len(new) + i}", now + 3.0, now) for i in range(step.create)]
        for pod in old:
            if pod["name"] in step.delete:
                pod["deleting"] = True
        active = [p for p in new + old if not p["deleting"]]
        assert len(active) <= max(replicas, 3 if now < 2.0 else replicas) + 1
        now += 0.5
    assert sum(1 for p in new if not p["deleting"]) == scaled_to and all(p["deleting"] for p in old)
