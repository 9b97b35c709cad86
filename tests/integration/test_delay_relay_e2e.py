"""Added latency between tiers without netem, through the whole pipeline on the local target.

* `db-latency-5ms` on a kernel without `sch_netem` (forced here, so the test means the same on
  any kernel): admitted, the web→postgres link goes through the userspace delay relay, a DB
  transaction (POST /orders, several round trips) is slower by about 2 × 5 ms per round trip than
  with the relay set to 0 ms, the manifest and the summary say which mechanism applied it.
* `add-latency` / `remove-latency` events: the relay's delay goes up and back down while the
  load runs (recorded in events.jsonl), orders are slower in between.
* delay + rate without netem: the relay in front of a tbf namespace link, traffic through both.
* a SIGKILLed relay: a `fault` (flag `delay-relay-postgres_died`), restarted with its delay.
All: teardown leaves no relay (or any other) process behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hpabench.console import Console
from hpabench.deploy.local import netem, netns
from hpabench.deploy.local.cluster import LocalCluster, LocalSettings
from hpabench.deploy.local.delay_relay import RelayControl
from hpabench.deploy.render import render
from hpabench.pipeline import RunOptions, run_benchmark
from hpabench.rundir import RunDir, read_events
from hpabench.scenarios.drive.driver import run_load

from .test_local_support import processes_using, wait_until

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
VARIANTS = HERE.parents[1] / "deploy" / "variants"
ORDER = {"item_id": 1, "quantity": 1}


def order_ms(client: httpx.Client) -> float:
    start = time.perf_counter()
    client.post("/orders", json=ORDER)  # 201 or 409 (out of stock): a DB transaction either way
    return (time.perf_counter() - start) * 1000


def no_netem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        netem, "cached_probe", lambda args: "Specified qdisc kind is unknown." if "netem" in args else None
    )


def test_db_latency_without_netem_slows_db_round_trips_and_says_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_netem(monkeypatch)
    seen: dict[str, Any] = {}

    def driver(config: Any, progress: Any = None) -> Any:
        control = RelayControl(config.data_dir.parent / "tierlinks" / "postgres-delay.sock")
        seen["state"] = control.state()
        with httpx.Client(base_url=config.host, timeout=30) as client:
            for _ in range(5):
                order_ms(client)  # warm: pool connections and prepared statements
            seen["delayed"] = [order_ms(client) for _ in range(25)]
            control.set(delay_ms=0, jitter_ms=0)
            seen["direct"] = [order_ms(client) for _ in range(25)]
            control.set(delay_ms=5, jitter_ms=1)
        return run_load(config, progress)

    outcome = run_benchmark(
        RunOptions(
            scenario=str(HERE / "studies" / "step-short.yaml"),
            variant=VARIANTS / "db-latency-5ms.yaml",
            reports_dir=tmp_path,
            scrape_interval_s=1.0,
        ),
        Console(quiet=True),
        driver=driver,
    )
    assert outcome.status == "completed", outcome.error
    assert seen["state"]["delay_ms"] == 5.0 and seen["state"]["jitter_ms"] == 1.0
    added = statistics.median(seen["delayed"]) - statistics.median(seen["direct"])
    # BEGIN, SELECT … FOR UPDATE, UPDATE, INSERT, COMMIT: ~5 round trips of +10 ms each; at least one.
    assert 8.0 <= added <= 5 * 10.0 + 60.0, (seen["delayed"], seen["direct"])
    manifest = json.loads((outcome.run_path / "manifest.json").read_text())
    (link,) = manifest["tier_links"]
    assert link["service"] == "postgres" and link["mechanism"] == "userspace-relay" and link["qdisc"] is None
    assert link["reason"] == "kernel has no sch_netem" and link["delay_ms"] == 5.0
    assert [e["mechanism"] for e in read_events(outcome.run_path) if e["kind"] == "tier_link"] == ["userspace-relay"]
    summary = json.loads((outcome.run_path / "summary.json").read_text())
    assert any("userspace delay relay" in note and "web→postgres" in note for note in summary["notes"])
    assert processes_using(tmp_path) == []


SCENARIO = {
    "name": "latency-events",
    "description": "A steady load; 40 ms one way added between web and postgres in the middle",
    "stages": [{"name": "steady", "duration_s": 24, "users": 4}],
    "events": [
        {"at_s": 6, "kind": "add-latency", "between": ["web", "postgres"], "delay_ms": 40, "name": "slow-db"},
        {"at_s": 14, "kind": "remove-latency", "between": ["postgres", "web"], "name": "fast-db"},
    ],
}


def test_add_and_remove_latency_events_delay_the_db_link_and_restore_it(tmp_path: Path) -> None:
    scenario = tmp_path / "latency-events.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    samples: list[tuple[float, float]] = []  # (relay delay_ms when sampled, order ms)

    def driver(config: Any, progress: Any = None) -> Any:
        control = RelayControl(config.data_dir.parent / "tierlinks" / "postgres-delay.sock")
        stop = threading.Event()

        def sample() -> None:
            with httpx.Client(base_url=config.host, timeout=30) as client:
                while not stop.is_set():
                    before = control.state()["delay_ms"]
                    took = order_ms(client)
                    if control.state()["delay_ms"] == before:
                        samples.append((before, took))
                    stop.wait(0.2)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            return run_load(config, progress)
        finally:
            stop.set()
            thread.join(30)
            samples.append((control.state()["delay_ms"], -1.0))  # the state at the end of the load

    outcome = run_benchmark(
        RunOptions(scenario=str(scenario), reports_dir=tmp_path / "reports", scrape_interval_s=1.0),
        Console(quiet=True),
        driver=driver,
    )
    assert outcome.status == "completed", outcome.error
    events = read_events(outcome.run_path)
    mine = [e for e in events if e["kind"] == "scenario_event"]
    assert [(e["name"], e["state"]) for e in mine] == [
        ("slow-db", "started"),
        ("slow-db", "finished"),
        ("fast-db", "started"),
        ("fast-db", "finished"),
    ], mine
    added, removed = mine[1]["result"], mine[3]["result"]
    assert added["mechanism"] == "userspace-relay" and added["delay_ms"] == 40.0 and added["link"] == "web-postgres"
    assert removed["delay_ms"] == 0.0 and removed["restored"] is True
    assert any(e["kind"] == "fault" and e.get("event") == "add-latency" for e in events)
    (link,) = json.loads((outcome.run_path / "manifest.json").read_text())["tier_links"]
    assert link["mechanism"] == "none" and link["delay_relay"] is True  # a relay only for the events
    assert samples[-1][0] == 0.0, "the link was not restored by the end of the load"
    slow = [ms for delay, ms in samples if delay == 40.0 and ms > 0]
    fast = [ms for delay, ms in samples if delay == 0.0 and ms > 0]
    assert len(slow) >= 3 and len(fast) >= 3, samples
    assert statistics.median(slow) - statistics.median(fast) >= 60.0, samples  # >= 1 round trip of +80 ms
    assert processes_using(tmp_path) == []


def test_delay_and_rate_without_netem_chain_the_relay_and_tbf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The delay relay in front of a tbf-limited namespace link: DB traffic crosses both."""
    assert os.geteuid() == 0, "a rate limit needs root (tbf in a suite-made namespace)"
    no_netem(monkeypatch)
    seen: dict[str, Any] = {}

    def driver(config: Any, progress: Any = None) -> Any:
        result = run_load(config, progress)
        control = RelayControl(config.data_dir.parent / "tierlinks" / "postgres-delay.sock")
        seen["relay"] = control.state()
        (host_end,) = [name for name in netns.leftovers(os.getpid()) if name.endswith("h")]
        seen["tc"] = subprocess.run(
            ["tc", "-s", "qdisc", "show", "dev", host_end], capture_output=True, text=True
        ).stdout
        return result

    outcome = run_benchmark(
        RunOptions(
            scenario=str(HERE / "studies" / "step-short.yaml"),
            variant_overrides=("networking.netem.web_db={delay_ms: 3, rate_mbit: 200}",),
            reports_dir=tmp_path,
            scrape_interval_s=1.0,
        ),
        Console(quiet=True),
        driver=driver,
    )
    assert outcome.status == "completed", outcome.error
    (link,) = json.loads((outcome.run_path / "manifest.json").read_text())["tier_links"]
    assert link["mechanism"] == "userspace-relay" and link["qdisc"][:3] == ["tbf", "rate", "200mbit"]
    assert seen["relay"]["delay_ms"] == 3.0 and seen["relay"]["chunks"] > 50
    sent = re.search(r"Sent (\d+) bytes (\d+) pkt", seen["tc"])
    assert "tbf" in seen["tc"] and sent is not None and int(sent.group(2)) > 50, seen["tc"]
    assert netns.leftovers(os.getpid()) == []
    assert processes_using(tmp_path) == []


def test_a_killed_delay_relay_is_a_fault_and_comes_back_with_its_delay(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path / "reports", "relay-kill")
    settings = LocalSettings(scrape_interval_s=1.0, autoscale=False, ready_timeout_s=120)
    cluster = LocalCluster.start(render(None), run, settings, delayed_services=("postgres",))
    try:
        relay = cluster.tier_links.delay_relay("postgres")
        relay.set_extra(7.0, 0.0)
        old_pid = relay.pid
        os.kill(old_pid, signal.SIGKILL)
        wait_until(lambda: [e for e in read_events(run.path) if e["kind"] == "server_restarted"], 30, "relay restart")
        (fault,) = [e for e in read_events(run.path) if e["kind"] == "fault"]
        assert fault["flag"] == "delay-relay-postgres_died" and "SIGKILL" in fault["message"]
        assert relay.pid != old_pid and relay.control.state()["delay_ms"] == 7.0  # its delay kept
        with httpx.Client(base_url=cluster.service_url("web"), timeout=30) as client:
            wait_until(lambda: client.post("/orders", json=ORDER).status_code in (201, 409), 30, "orders again")
        stack = json.loads((run.path / "stack.json").read_text())
        assert any(label == "delay-relay-postgres" for _, _, label in stack["groups"]["local"]["processes"])
    finally:
        cluster.stop()
        run.close()
    assert processes_using(tmp_path) == []
