"""The node-level servers of the local target: HAProxy (the Services' load balancer) and Prometheus.

Each is built from the cluster spec (config written into the run directory by the pure
generators in haproxy.py / prometheus.py), started as a process with its log beside the config,
polled for readiness and stopped with SIGTERM (SIGKILL after a grace period). Both run as the
caller, bound to 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from hpabench.deploy.local import haproxy, prometheus
from hpabench.deploy.local.binaries import find_binary
from hpabench.deploy.local.endpoints import BackendBinding, ScrapeBinding
from hpabench.deploy.local.ports import PortAllocator, is_port_open
from hpabench.deploy.local.procs import launch, log_tail, stop_process
from hpabench.deploy.local.workloads import ClusterSpec

STOP_GRACE_S = 10.0
SCRAPE_ANNOTATION = "prometheus.io/scrape"
PATH_ANNOTATION = "prometheus.io/path"


def backend_name(service: str, index: int, port_name: str | None) -> str:
    """HAProxy backend of a Service port: the Service name for its first port (pure)."""
    return service if index == 0 else f"{service}-{port_name or index}"


@dataclass
class _Process:
    name: str
    folder: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def death_notice(self) -> str:
        """One line a person can act on (what exited, its last words, where its log is), then the tail."""
        code = self.proc.returncode if self.proc is not None else None
        tail = log_tail(self.log)
        last = next((line.strip() for line in reversed(tail.splitlines()) if line.strip()), "no output")
        return f"{self.name} exited during start-up (exit code {code}): {last[:300]} [log: {self.log}]\n{tail}"

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, STOP_GRACE_S)


class HaproxyServer(_Process):
    """HAProxy with one frontend+backend per load-balanced Service port and a metrics frontend."""

    def __init__(self, folder: Path, config: haproxy.HaproxyConfig, bindings: list[BackendBinding], sockdir: Path):
        super().__init__("haproxy", folder)
        self.config = config
        self.bindings = bindings
        self.sockdir = sockdir
        self.api = haproxy.RuntimeApi(config.admin_socket)

    @classmethod
    def build(
        cls, run_path: Path, spec: ClusterSpec, service_ports: dict[str, list[int]], ports: PortAllocator, maxconn: int
    ) -> HaproxyServer:
        """Write haproxy.cfg; `service_ports` are the local ports of each Service's ports, in order."""
        folder = run_path / "haproxy"
        folder.mkdir(parents=True, exist_ok=True)
        # Unix socket paths are limited to 107 bytes: keep the admin socket in a short temp dir.
        sockdir = Path(tempfile.mkdtemp(prefix="hpabench-hap-"))
        backends: list[haproxy.Backend] = []
        bindings: list[BackendBinding] = []
        for service in spec.services:
            if not service.load_balanced:
                continue
            for index, port in enumerate(service.ports):
                name = backend_name(service.name, index, port.name)
                local = service_ports[service.name][index]
                backends.append(
                    haproxy.Backend(name, service.name, local, service.lb_algorithm, service.max_conn_per_pod)
                )
                bindings.append(BackendBinding(name, service.workload, port.target_port, service.max_conn_per_pod))
        config = haproxy.HaproxyConfig(
            backends=tuple(backends), stats_port=ports.allocate(), admin_socket=sockdir / "admin.sock", maxconn=maxconn
        )
        (folder / "haproxy.cfg").write_text(haproxy.render_config(config))
        return cls(folder, config, bindings, sockdir)

    @property
    def stats_port(self) -> int:
        return int(self.config.stats_port)

    def start(self) -> None:
        argv = [find_binary("haproxy"), "-f", str(self.folder / "haproxy.cfg"), "-db"]
        self.proc = launch(argv, {"PATH": os.environ.get("PATH", "")}, self.log)

    def ready(self) -> bool:
        if not is_port_open(self.stats_port):
            return False
        try:
            self.api.command("show info")
        except OSError:
            return False
        return True

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.sockdir, ignore_errors=True)


class PrometheusServer(_Process):
    """Prometheus scraping itself, HAProxy, the exporter and every annotated workload's pods."""

    def __init__(self, folder: Path, config: prometheus.PrometheusConfig, scrapes: list[ScrapeBinding]) -> None:
        super().__init__("prometheus", folder)
        self.config = config
        self.scrapes = scrapes

    @classmethod
    def build(
        cls,
        run_path: Path,
        spec: ClusterSpec,
        ports: PortAllocator,
        haproxy_stats_port: int,
        exporter_port: int,
        scrape_interval_s: float,
        namespace: str,
    ) -> PrometheusServer:
        """Write prometheus.yml and empty target files (pods are added as they start)."""
        folder = run_path / "prometheus"
        (folder / "targets").mkdir(parents=True, exist_ok=True)
        jobs: list[prometheus.PodJob] = []
        scrapes: list[ScrapeBinding] = []
        for workload in spec.workloads:
            if workload.annotations.get(SCRAPE_ANNOTATION, "").lower() != "true":
                continue
            targets = folder / "targets" / f"{workload.name}.json"
            prometheus.write_targets(targets, [], namespace)
            path = workload.annotations.get(PATH_ANNOTATION, "/metrics")
            jobs.append(prometheus.PodJob(workload.name, targets, path))
            scrapes.append(ScrapeBinding(workload.name, workload.main.name, targets))
        config = prometheus.PrometheusConfig(
            port=ports.allocate(),
            haproxy_stats_port=haproxy_stats_port,
            exporter_port=exporter_port,
            scrape_interval_s=scrape_interval_s,
            namespace=namespace,
            pod_jobs=tuple(jobs),
        )
        (folder / "prometheus.yml").write_text(prometheus.render_config(config))
        return cls(folder, config, scrapes)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    def start(self) -> None:
        argv = prometheus.command(
            find_binary("prometheus"), self.folder / "prometheus.yml", self.folder / "data", self.config.port
        )
        self.proc = launch(argv, {"PATH": os.environ.get("PATH", "")}, self.log, cwd=self.folder)

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False
