"""The endpoints controller + kube-proxy of the local target.

`EndpointsController.sync(pods)` makes the outside world follow the pods:
* every HAProxy backend of a load-balanced Service holds exactly the ready, non-terminating pods
  of its workload (server name = pod name, address = the pod's local port for the Service's
  target port); a terminating pod is put in maintenance at once and deleted when gone;
* each scraped workload's Prometheus target file lists its pods that are running (scraped
  whether ready or not, like the Kubernetes pod role does).

`desired_servers` and `scrape_targets` are pure; `sync` applies the difference and is idempotent,
so a periodic resync retries whatever failed (e.g. a `del server` that had to wait for draining).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hpabench.deploy.local.haproxy import RuntimeApi
from hpabench.deploy.local.pods import Pod
from hpabench.deploy.local.prometheus import PodTarget, write_targets
from hpabench.errors import TargetError


@dataclass(frozen=True)
class BackendBinding:
    """A HAProxy backend fed by one workload's pods on one container port."""

    backend: str
    workload: str
    target_port: int  # container port number
    max_conn_per_pod: int | None = None


@dataclass(frozen=True)
class ScrapeBinding:
    """A Prometheus file_sd target file fed by one workload's pods."""

    workload: str
    container: str
    targets_file: Path


def desired_servers(binding: BackendBinding, pods: list[Pod]) -> dict[str, int]:
    """Server name → local port for every ready, non-terminating pod of the workload (pure)."""
    servers: dict[str, int] = {}
    for pod in pods:
        if pod.workload != binding.workload or pod.gone or pod.deleting or not pod.ready:
            continue
        port = pod.plan.ports.get(binding.target_port)
        if port is not None:
            servers[pod.name] = port
    return servers


def scrape_targets(binding: ScrapeBinding, pods: list[Pod]) -> list[PodTarget]:
    """Scrape targets for the workload's pods whose container runs (pure)."""
    return [
        PodTarget(pod=p.name, port=p.plan.main_port, container=binding.container, deployment=binding.workload)
        for p in pods
        if p.workload == binding.workload and not p.gone and p.phase == "Running" and p.plan.main_port is not None
    ]


class EndpointsController:
    def __init__(
        self,
        api: RuntimeApi | None,
        backends: list[BackendBinding],
        scrapes: list[ScrapeBinding],
        namespace: str,
        warn: Callable[[str], None],
    ) -> None:
        self.api = api
        self.backends = backends
        self.scrapes = scrapes
        self.namespace = namespace
        self.warn = warn
        self._lock = threading.Lock()
        # backend → server → (port, enabled); what HAProxy holds as far as we know
        self.servers: dict[str, dict[str, tuple[int, bool]]] = {b.backend: {} for b in backends}
        self._targets: dict[str, list[PodTarget]] = {}

    def reset(self) -> None:
        """Forget what HAProxy held (it was restarted with its static config): the next sync re-adds all."""
        with self._lock:
            self.servers = {b.backend: {} for b in self.backends}

    def sync(self, pods: list[Pod]) -> None:
        """Apply the difference between the pods and HAProxy/Prometheus. Never raises."""
        with self._lock:
            for binding in self.backends:
                self._sync_backend(binding, pods)
            for pod in pods:
                if pod.deleting and not self._published(pod.name):
                    pod.mark_unpublished()
            for scrape in self.scrapes:
                targets = scrape_targets(scrape, pods)
                if targets != self._targets.get(scrape.workload):
                    try:
                        write_targets(scrape.targets_file, targets, self.namespace)
                        self._targets[scrape.workload] = targets
                    except OSError as exc:
                        self.warn(f"cannot write Prometheus targets {scrape.targets_file}: {exc}")

    def _published(self, pod: str) -> bool:
        return any(pod in servers and servers[pod][1] for servers in self.servers.values())

    def _sync_backend(self, binding: BackendBinding, pods: list[Pod]) -> None:
        if self.api is None:
            return
        current = self.servers[binding.backend]
        desired = desired_servers(binding, pods)
        existing = {p.name for p in pods if not p.gone}
        try:
            for name, port in desired.items():
                known = current.get(name)
                if known is not None and known[0] != port:
                    self.api.delete_server(binding.backend, name)
                    del current[name]
                    known = None
                if known is None:
                    self.api.add_server(binding.backend, name, "127.0.0.1", port, binding.max_conn_per_pod)
                    current[name] = (port, False)
                if not current[name][1]:
                    self.api.enable_server(binding.backend, name)
                    current[name] = (port, True)
            for name in [n for n in current if n not in desired]:
                port, enabled = current[name]
                if name in existing:
                    # Unready or terminating: no new requests, keep the server for a comeback.
                    if enabled:
                        self.api.disable_server(binding.backend, name)
                        current[name] = (port, False)
                elif self.api.delete_server(binding.backend, name):
                    del current[name]
                else:
                    current[name] = (port, False)
        except (OSError, TargetError) as exc:
            self.warn(f"HAProxy backend {binding.backend}: {exc}")
