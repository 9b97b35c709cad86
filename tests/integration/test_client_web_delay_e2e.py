"""Added latency on the client→web link, through the whole pipeline on the local target.

`networking.netem.client_web={delay_ms: 20}`: the driver's URL is a delay relay on 127.0.0.1 in
front of HAProxy's web frontend, so every client request and response crosses it (+2 × 20 ms
per round trip), while the web pods' own request times (their request-duration histogram, which
Prometheus scrapes directly) stay low. The manifest and the summary name the relay on client_web;
teardown leaves no relay (or any other) process behind.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from hpabench.console import Console
from hpabench.pipeline import RunOptions, run_benchmark
from hpabench.rundir import read_events
from hpabench.scenarios.drive.driver import run_load

from .test_local_support import processes_using

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
SERVER_P50_QUERY = "1000 * histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))"


def get_ms(client: httpx.Client) -> float:
    start = time.perf_counter()
    assert client.get("/items/1").status_code == 200
    return (time.perf_counter() - start) * 1000


def server_p50_ms(prometheus_url: str, deadline_s: float = 60.0) -> float:
    """The web pods' median request time over the last minute, once Prometheus has it."""
    deadline = time.monotonic() + deadline_s
    while True:
        reply = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": SERVER_P50_QUERY}, timeout=10).json()
        found = [float(r["value"][1]) for r in reply["data"]["result"]]
        if found and found[0] == found[0]:  # not NaN
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no server latency in Prometheus: {reply}")
        time.sleep(1.0)


def test_client_web_delay_slows_every_client_round_trip_but_not_the_pods(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def driver(config: Any, progress: Any = None) -> Any:
        seen["host"] = config.host
        with httpx.Client(base_url=config.host, timeout=30) as client:
            get_ms(client)  # a pooled connection
            seen["client_ms"] = [get_ms(client) for _ in range(20)]
        result = run_load(config, progress)
        stack = json.loads((config.data_dir.parent / "stack.json").read_text())
        seen["server_p50_ms"] = server_p50_ms(stack["urls"]["prometheus"])
        return result

    outcome = run_benchmark(
        RunOptions(
            scenario=str(HERE / "studies" / "step-short.yaml"),
            variant_overrides=("networking.netem.client_web={delay_ms: 20}",),
            reports_dir=tmp_path,
            scrape_interval_s=1.0,
        ),
        Console(quiet=True),
        driver=driver,
    )
    assert outcome.status == "completed", outcome.error
    manifest = json.loads((outcome.run_path / "manifest.json").read_text())
    (link,) = manifest["tier_links"]
    assert link["tier"] == "client_web" and link["service"] == "web", link
    assert link["mechanism"] == "userspace-relay" and link["delay_relay"] and link["delay_ms"] == 20.0
    host = urlsplit(seen["host"])
    assert host.hostname == "127.0.0.1" and host.port == link["delay_relay_port"], (seen["host"], link)
    assert [e["tier"] for e in read_events(outcome.run_path) if e["kind"] == "tier_link"] == ["client_web"]
    # 20 ms one way, in each direction: a round trip takes at least 40 ms (timer slack allowed)
    assert statistics.median(seen["client_ms"]) >= 39.0, seen["client_ms"]
    summary = json.loads((outcome.run_path / "summary.json").read_text())
    assert summary["routes"]["ALL"]["p50_ms"] >= 38.0, summary["routes"]
    assert seen["server_p50_ms"] < 20.0, seen  # the pods themselves stay fast
    assert any("client→web" in note and "userspace delay relay" in note for note in summary["notes"])
    assert processes_using(tmp_path) == []
