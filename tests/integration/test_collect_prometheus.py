"""Collection against a real Prometheus server (Debian `prometheus`), scraping exporters we run.

Two "pods" expose the app's series (requests counter, latency histogram) and a third the cluster
state (kube-state-metrics names); Prometheus scrapes them every second on 127.0.0.1 with storage
in a temp dir. Everything is stopped in `finally`, even when an assertion fails.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from hpabench.analysis.collect import collect
from hpabench.analysis.profile import load_profile
from hpabench.errors import MissingDependencyError

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Exporters:
    """Two web pods and the cluster-state exporter, fed by a bounded background thread."""

    def __init__(self) -> None:
        self.ports: dict[str, int] = {}
        self.servers: list[tuple[object, threading.Thread]] = []
        self.stop = threading.Event()
        self.requests: dict[str, Counter] = {}
        self.latency: dict[str, Histogram] = {}
        for pod in ("web-6d9c7b5f4-aaaaa", "web-6d9c7b5f4-bbbbb"):
            registry = CollectorRegistry()
            self.requests[pod] = Counter("http_requests", "requests", ["route", "method", "status"], registry=registry)
            self.latency[pod] = Histogram(
                "http_request_duration_seconds",
                "latency",
                ["route", "method"],
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
                registry=registry,
            )
            self._serve(pod, registry)
        state = CollectorRegistry()
        ready = Gauge("kube_deployment_status_replicas_ready", "ready", ["namespace", "deployment"], registry=state)
        ready.labels("hpabench", "web").set(2)
        desired = Gauge(
            "kube_horizontalpodautoscaler_status_desired_replicas",
            "desired",
            ["namespace", "horizontalpodautoscaler"],
            registry=state,
        )
        desired.labels("hpabench", "web").set(3)
        self._serve("state", state)
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _serve(self, name: str, registry: CollectorRegistry) -> None:
        port = free_port()
        self.servers.append(start_http_server(port, addr="127.0.0.1", registry=registry))
        self.ports[name] = port

    def _feed(self) -> None:
        deadline = time.monotonic() + 60.0  # bounded even if the test forgets to stop it
        pods = list(self.requests)
        while not self.stop.is_set() and time.monotonic() < deadline:
            # pod a: 20 req/s, all 200; pod b: 10 req/s, 1 in 10 a 500
            self.requests[pods[0]].labels("/items/{id}", "GET", "200").inc(1)
            self.latency[pods[0]].labels("/items/{id}", "GET").observe(0.004)
            self.requests[pods[1]].labels("/orders", "POST", "200").inc(0.45)
            self.requests[pods[1]].labels("/orders", "POST", "500").inc(0.05)
            self.latency[pods[1]].labels("/orders", "POST").observe(0.02)
            self.stop.wait(0.05)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for server, thread in self.servers:
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]
            thread.join(timeout=5)


def prometheus_config(exporters: Exporters) -> str:
    pods = [name for name in exporters.ports if name != "state"]
    web_targets = "\n".join(
        f"""      - targets: ["127.0.0.1:{exporters.ports[pod]}"]
        labels: {{namespace: hpabench, pod: {pod}, container: web, deployment: web}}"""
        for pod in pods
    )
    return f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: web
    static_configs:
{web_targets}
  - job_name: hpabench-exporter
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:{exporters.ports["state"]}"]
"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, Exporters]]:
    binary = shutil.which("prometheus")
    if binary is None:
        raise MissingDependencyError("prometheus", "prometheus")
    exporters = Exporters()
    proc: subprocess.Popen[bytes] | None = None
    try:
        config = tmp_path / "prometheus.yml"
        config.write_text(prometheus_config(exporters))
        port = free_port()
        log = tmp_path / "prometheus.log"
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("prometheus did not become ready in 20 s")
        yield url, exporters
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        exporters.close()


def test_collect_default_profile_from_real_prometheus(stack: tuple[str, Exporters], tmp_path: Path) -> None:
    url, _ = stack
    # Prometheus applies discovered targets only every 5 s: wait for the first rate() value.
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        answer = httpx.get(f"{url}/api/v1/query", params={"query": "sum(rate(http_requests_total[3s]))"}).json()
        if answer["data"]["result"]:
            break
        time.sleep(0.25)
    else:
        raise AssertionError("no samples scraped within 30 s")
    start = time.time()
    time.sleep(4.0)
    end = time.time()
    # A 3 s rate window (three 1 s scrapes) instead of the profile's 15 s: tests stay short.
    result = collect(tmp_path / "data", url, start, end, variables={"window": "3s"})

    # Every query of the profile parsed and ran: failures would say "not collected".
    assert not [w for w in result.warnings if "not collected" in w], result.warnings
    assert len(result.paths) == len(load_profile(None).queries) >= 19
    # Series we did not export (HAProxy, cAdvisor...) are honestly empty, not missing files.
    assert "haproxy_backend_queue" in result.empty and "pod_cpu_cores" in result.empty

    pod_rps = pd.read_parquet(result.paths["pod_rps"])
    assert set(pod_rps.columns) == {"ts", "value", "pod"}
    assert set(pod_rps["pod"]) == {"web-6d9c7b5f4-aaaaa", "web-6d9c7b5f4-bbbbb"}
    last = pod_rps.sort_values("ts").groupby("pod")["value"].last()
    # 20 and 10 req/s fed on a shared, noisy machine: generous but failing bounds.
    assert 12.0 < last["web-6d9c7b5f4-aaaaa"] < 24.0
    assert 6.0 < last["web-6d9c7b5f4-bbbbb"] < 12.0
    assert pod_rps["ts"].between(int(start), int(end) + 1).all()
    assert (pod_rps["ts"].diff().dropna() >= 0).all()

    ratio = pd.read_parquet(result.paths["server_error_ratio"]).dropna()
    assert not ratio.empty and 0.01 < ratio["value"].iloc[-1] < 0.06  # 0.5/30 ≈ 1.7 %

    p95 = pd.read_parquet(result.paths["server_p95_ms_by_route"]).dropna()
    by_route = p95.groupby("route")["value"].last()
    assert 2.5 < by_route["/items/{id}"] <= 5.0  # observed 4 ms, bucket (2.5, 5] ms
    assert 10.0 < by_route["/orders"] <= 25.0

    ready = pd.read_parquet(result.paths["ready_replicas"])
    assert list(ready.columns) == ["ts", "value", "deployment"]
    assert set(ready["value"]) == {2.0}
    desired = pd.read_parquet(result.paths["hpa_desired_replicas"])
    assert set(desired["value"]) == {3.0}
