"""HAProxy and Prometheus configuration generation, the endpoints diff, and `kubectl get pods` rows."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpabench.deploy.local import haproxy, prometheus
from hpabench.deploy.local.daemon import _age, format_status, status_rows
from hpabench.deploy.local.endpoints import BackendBinding, EndpointsController, ScrapeBinding, desired_servers
from hpabench.deploy.local.pods import backoff_delay_s
from hpabench.deploy.local.probes import ProbeSpec, ProbeState, exec_command
from hpabench.deploy.local.procs import RunAs, wrap_command


def test_haproxy_config_has_frontends_backends_and_metrics(tmp_path: Path) -> None:
    config = haproxy.HaproxyConfig(
        backends=(
            haproxy.Backend("web", "web", 41000, "leastconn", 8),
            haproxy.Backend("api", "api", 41001),
        ),
        stats_port=41002,
        admin_socket=tmp_path / "admin.sock",
    )
    text = haproxy.render_config(config)
    assert f"stats socket {tmp_path / 'admin.sock'} mode 600 level admin" in text
    assert "frontend web\n  bind 127.0.0.1:41000\n  default_backend web" in text
    assert "backend web\n  balance leastconn" in text
    assert "backend api\n  balance roundrobin" in text
    assert "bind 127.0.0.1:41002" in text
    assert "http-request use-service prometheus-exporter if { path /metrics }" in text
    assert "0.0.0.0" not in text and "bind *" not in text  # loopback only
    assert haproxy.render_config(config) == text  # deterministic


def test_haproxy_server_args() -> None:
    assert haproxy.server_args("127.0.0.1", 5000, None).startswith("127.0.0.1:5000")
    assert "maxconn 8" in haproxy.server_args("127.0.0.1", 5000, 8)


class FakeHaproxySocket:
    """A unix-socket server answering like HAProxy's CLI, recording the commands (unit-test fake)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.commands: list[str] = []
        self.servers: dict[str, bool] = {}
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _answer(self, line: str) -> str:
        words = line.split()
        if words[:2] == ["add", "server"]:
            self.servers[words[2]] = False
            return "New server registered.\n"
        if words[:2] == ["enable", "server"]:
            self.servers[words[2]] = True
            return "\n"
        if words[:2] == ["disable", "server"]:
            self.servers[words[2]] = False
            return "\n"
        if words[:2] == ["del", "server"]:
            self.servers.pop(words[2], None)
            return "Server deleted.\n"
        if words[:2] == ["shutdown", "sessions"]:
            return "\n"
        return "Unknown command\n"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                line = conn.recv(4096).decode().strip()
                self.commands.append(line)
                conn.sendall(self._answer(line).encode())

    def close(self) -> None:
        self.sock.close()


class FakePod:
    def __init__(self, name: str, port: int, ready: bool = True, deleting: bool = False) -> None:
        self.name = name
        self.workload = "web"
        self.ready = ready
        self.deleting = deleting
        self.gone = False
        self.phase = "Running"
        self.unpublished = False
        self.plan = type("Plan", (), {"ports": {8080: port, "http": port}, "main_port": port})()

    def mark_unpublished(self) -> None:
        self.unpublished = True


def test_runtime_api_errors_are_clear(tmp_path: Path) -> None:
    fake = FakeHaproxySocket(tmp_path / "s")
    try:
        api = haproxy.RuntimeApi(tmp_path / "s")
        api.add_server("web", "p1", "127.0.0.1", 5000)
        with pytest.raises(Exception, match="HAProxy refused"):
            api._expect("bogus", None)
        assert fake.commands[0].startswith("add server web/p1 127.0.0.1:5000")
    finally:
        fake.close()


def test_endpoints_follow_ready_pods(tmp_path: Path) -> None:
    fake = FakeHaproxySocket(tmp_path / "s")
    warnings: list[str] = []
    targets = tmp_path / "web.json"
    controller = EndpointsController(
        haproxy.RuntimeApi(tmp_path / "s"),
        [BackendBinding("web", "web", 8080, max_conn_per_pod=4)],
        [ScrapeBinding("web", "web", targets)],
        "hpabench",
        warn=warnings.append,
    )
    try:
        a, b = FakePod("web-a", 5001), FakePod("web-b", 5002, ready=False)
        assert desired_servers(controller.backends[0], [a, b]) == {"web-a": 5001}  # type: ignore[list-item]
        controller.sync([a, b])  # type: ignore[list-item]
        assert fake.servers == {"web/web-a": True}
        assert any("maxconn 4" in c for c in fake.commands)
        scraped = json.loads(targets.read_text())
        assert {t["labels"]["pod"] for t in scraped} == {"web-a", "web-b"}  # scraped even if unready
        assert scraped[0]["labels"] == {
            "namespace": "hpabench",
            "pod": "web-a",
            "container": "web",
            "deployment": "web",
        }
        b.ready = True
        controller.sync([a, b])  # type: ignore[list-item]
        assert fake.servers == {"web/web-a": True, "web/web-b": True}
        a.ready, a.deleting = False, True
        controller.sync([a, b])  # type: ignore[list-item]
        assert fake.servers["web/web-a"] is False  # terminating: maintenance at once
        assert a.unpublished
        a.gone = True
        controller.sync([a, b])  # type: ignore[list-item]
        assert fake.servers == {"web/web-b": True}
        assert {t["labels"]["pod"] for t in json.loads(targets.read_text())} == {"web-b"}
        assert warnings == []
    finally:
        fake.close()


def test_prometheus_config_jobs_and_labels(tmp_path: Path) -> None:
    config = prometheus.PrometheusConfig(
        port=9090,
        haproxy_stats_port=9100,
        exporter_port=9200,
        scrape_interval_s=2.5,
        pod_jobs=(prometheus.PodJob("web", tmp_path / "web.json", "/metrics"),),
    )
    doc = yaml.safe_load(prometheus.render_config(config))
    assert doc["global"]["scrape_interval"] == "2500ms"
    assert doc["global"]["scrape_timeout"] == "2500ms"
    jobs = {job["job_name"]: job for job in doc["scrape_configs"]}
    assert set(jobs) == {"prometheus", "haproxy", "hpabench-exporter", "web"}
    assert jobs["hpabench-exporter"]["honor_labels"] is True
    assert jobs["hpabench-exporter"]["static_configs"][0]["targets"] == ["127.0.0.1:9200"]
    assert jobs["haproxy"]["static_configs"][0]["labels"] == {"namespace": "hpabench"}
    assert jobs["web"]["file_sd_configs"][0]["files"] == [str(tmp_path / "web.json")]
    default = yaml.safe_load(prometheus.render_config(prometheus.PrometheusConfig(1, 2, 3)))
    assert default["global"]["scrape_interval"] == "5s"


def test_prometheus_targets_file_is_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "web.json"
    prometheus.write_targets(path, [prometheus.PodTarget("web-b", 2, "web", "web")], "ns")
    prometheus.write_targets(
        path, [prometheus.PodTarget("web-b", 2, "web", "web"), prometheus.PodTarget("web-a", 1, "web", "web")], "ns"
    )
    doc = json.loads(path.read_text())
    assert [d["labels"]["pod"] for d in doc] == ["web-a", "web-b"]
    assert doc[0]["targets"] == ["127.0.0.1:1"]
    assert list(tmp_path.iterdir()) == [path]


def test_prometheus_command_binds_loopback(tmp_path: Path) -> None:
    argv = prometheus.command("/usr/bin/prometheus", tmp_path / "p.yml", tmp_path / "data", 9090)
    assert "--web.listen-address=127.0.0.1:9090" in argv
    assert f"--storage.tsdb.path={tmp_path / 'data'}" in argv


def test_backoff_is_kubelet_like() -> None:
    delays = [backoff_delay_s(n, 10.0, 300.0) for n in range(1, 9)]
    assert delays == [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]
    assert backoff_delay_s(3, 0.5, 300.0) == 1.0


def test_probe_thresholds() -> None:
    spec = ProbeSpec.parse({"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 2, "failureThreshold": 2})
    assert (spec.period_s, spec.timeout_s, spec.success_threshold, spec.failure_threshold) == (2.0, 1.0, 1, 2)
    state = ProbeState(spec)
    assert state.result is None
    assert state.record(True) and state.result is True
    assert not state.record(False) and state.result is True  # one failure is tolerated
    assert state.record(False) and state.result is False
    spec3 = ProbeSpec.parse({"tcpSocket": {"port": 1}, "successThreshold": 3})
    state3 = ProbeState(spec3, initial=False)
    state3.record(True)
    state3.record(True)
    assert state3.result is False
    state3.record(True)
    assert state3.result is True


def test_exec_probe_mapping() -> None:
    argv = exec_command(["pg_isready", "-U", "hpabench", "-d", "hpabench"], 5555)
    assert argv[0].endswith("pg_isready")
    assert argv[1:] == ["-h", "127.0.0.1", "-p", "5555", "-U", "hpabench", "-d", "hpabench"]
    assert exec_command(["true"], None) == ["true"]


def test_wrap_command_attaches_then_drops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hpabench.deploy.local.procs.is_root", lambda: True)
    argv = wrap_command(["/bin/app", "x"], [Path("/cg/a/cgroup.procs")], RunAs(10001, 65534))
    assert argv[:2] == ["/bin/sh", "-c"]
    rest = argv[3:]
    assert rest[:3] == ["hpabench-attach", "/cg/a/cgroup.procs", "--"]
    assert rest[3].endswith("setpriv") and "--reuid=10001" in rest and "--regid=65534" in rest
    assert rest[-2:] == ["/bin/app", "x"]
    assert wrap_command(["/bin/app"], [], None) == ["/bin/app"]


def _row(**kw: Any) -> dict[str, Any]:
    base = {
        "name": "web-a",
        "deployment": "web",
        "created_ts": 1000.0,
        "ready": True,
        "status": "Running",
        "phase": "Running",
        "restarts": 0,
    }
    base.update(kw)
    return base


def test_status_rows_and_table() -> None:
    rows = status_rows(
        [_row(), _row(name="postgres-0", deployment="postgres", ready=False, status="CrashLoopBackOff", restarts=3)],
        1075.0,
    )
    assert rows[0] == {"NAME": "postgres-0", "READY": "0/1", "STATUS": "CrashLoopBackOff", "RESTARTS": 3, "AGE": "75s"}
    table = format_status(rows).splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table[2].split() == ["web-a", "1/1", "Running", "0", "75s"]
    assert format_status([]) == "No resources found."
    assert [_age(s) for s in (5, 130, 700, 4000, 4 * 3600, 3 * 86400 + 7200)] == [
        "5s",
        "2m10s",
        "11m",
        "1h6m",
        "4h",
        "3d2h",
    ]
