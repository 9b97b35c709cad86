"""`LocalCluster`: the rendered manifests running on 127.0.0.1 (the local target).

    cluster = LocalCluster.start(objects, run, LocalSettings(), progress=print)
    try:
        cluster.service_url("web"); cluster.prometheus_url; cluster.deployment("web").scale(3)
    finally:
        cluster.stop()

`start` validates everything first (SpecError before any process starts), then starts the
exporter, HAProxy and Prometheus, the single-instance servers (PostgreSQL, Redis) and, once they
are ready, the app pods; it returns when every pod is ready and HAProxy routes to them. Any
failure, exception or Ctrl-C during `start` tears down everything started and re-raises.
`stop()` is idempotent and leaves no process, cgroup, port or temp dir behind.

Run directory: `rendered/all.yaml`, `events.jsonl` (pod and scale events), `data/pods.jsonl`
(one row per pod when it is gone; `data/pods.parquet` at stop), `pods/<pod>/` (logs, PostgreSQL data), `haproxy/`,
`prometheus/` (config, targets, TSDB). The manifest's `host` gets `cgroup_version` and
`cgroups_enforced` as actually used.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

from hpabench.deploy.local import haproxy
from hpabench.deploy.local.binaries import check_binaries
from hpabench.deploy.local.cgroups import CgroupDriver, detect_driver
from hpabench.deploy.local.deployment import LocalDeployment
from hpabench.deploy.local.endpoints import EndpointsController
from hpabench.deploy.local.env import ServiceLink
from hpabench.deploy.local.exporter import Exporter, WorkloadState
from hpabench.deploy.local.netem import CLIENT_SERVICE
from hpabench.deploy.local.podlog import PodLog
from hpabench.deploy.local.pods import Pod, PodInfo, PodTimings
from hpabench.deploy.local.ports import PortAllocator
from hpabench.deploy.local.postgres import accessible_to_others
from hpabench.deploy.local.procs import is_root
from hpabench.deploy.local.runtimes import app_runs_unprivileged, plan_pod
from hpabench.deploy.local.servers import HaproxyServer, PrometheusServer
from hpabench.deploy.local.serverwatch import ServerWatch, Watched
from hpabench.deploy.local.settings import LocalSettings
from hpabench.deploy.local.workloads import (
    RUNTIME_POSTGRES,
    RUNTIME_REDIS,
    SINGLE_INSTANCE_RUNTIMES,
    ClusterSpec,
    WorkloadSpec,
    parse_objects,
)
from hpabench.errors import TargetError
from hpabench.rundir import RunDir
from hpabench.signals import fault_point
from hpabench.stack import process_identity

__all__ = ["LocalCluster", "LocalDeployment", "LocalSettings", "PodInfo"]

SERVER_READY_TIMEOUT_S = 30.0
HOUSEKEEPING_PERIOD_S = 1.0


def required_binaries(spec: ClusterSpec, settings: LocalSettings) -> list[str]:
    """The server binaries `spec` needs on this machine (MissingDependencyError names the package)."""
    runtimes = {w.runtime for w in spec.workloads}
    needed = ["haproxy", "prometheus"]
    if RUNTIME_POSTGRES in runtimes:
        needed += ["postgres", "initdb", "pg_isready"]
    if RUNTIME_REDIS in runtimes:
        needed += ["redis-server"]
    if is_root() and settings.drop_privileges:
        needed += ["setpriv"]
    return needed


class LocalCluster:
    """The local target. Create with `LocalCluster.start(...)`; see the module docstring."""

    def __init__(
        self,
        objects: list[dict[str, Any]],
        run: RunDir,
        settings: LocalSettings,
        progress: Callable[[str], None] | None,
        delayed_services: Collection[str] = (),
    ) -> None:
        self.objects = objects
        self.delayed_services = tuple(sorted(set(delayed_services)))
        self.run = run
        self.settings = settings
        self._progress = progress or (lambda message: None)
        self.spec: ClusterSpec | None = None
        self.driver: CgroupDriver | None = None
        self.ports = PortAllocator()
        self.exporter = Exporter(self._state, settings.namespace, on_error=self._warn)
        self.prometheus_url = ""
        self.exporter_url = ""
        self._deployments: dict[str, LocalDeployment] = {}
        self._service_ports: dict[str, list[int]] = {}  # Service → local port of each of its ports
        self._service_links: list[ServiceLink] = []
        self._stable_ports: dict[str, dict[int, int]] = {}
        self._haproxy: HaproxyServer | None = None
        self._prometheus: PrometheusServer | None = None
        self._endpoints: EndpointsController | None = None
        self._controllers: list[Any] = []
        self._tempdirs: list[Path] = []
        self._pods_root = run.path / "pods"
        self._dirty = threading.Event()
        self._housekeeping_stop = threading.Event()
        self._housekeeping: threading.Thread | None = None
        self.pod_log = PodLog(run.data)
        self._stop_lock = threading.Lock()
        self._stopped = False
        self.started_at: float | None = None
        self._server_watch: ServerWatch | None = None
        self._identities: dict[int, list[Any]] = {}  # pid → [pid, create_time]: looked up once
        self._record_lock = threading.Lock()

    # ------------------------------------------------------------------ public API

    @classmethod
    def start(
        cls,
        objects: list[dict[str, Any]],
        run: RunDir,
        settings: LocalSettings,
        progress: Callable[[str], None] | None = None,
        delayed_services: Collection[str] = (),
    ) -> LocalCluster:
        """Start everything and return once every pod is ready (see module docstring).
        `delayed_services`: Services whose tier link scenario events will delay (`add-latency`)."""
        cluster = cls(objects, run, settings, progress, delayed_services)
        try:
            cluster._start()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def service_url(self, name: str = "web") -> str:
        """`http://127.0.0.1:PORT` of a Service as a client sees it: HAProxy's frontend for
        load-balanced ones, or the client→web delay relay in front of it when the variant impairs
        `client_web` (what the driver and the warm-up use; HAProxy's health checks stay direct)."""
        if name not in self._service_ports:
            raise KeyError(f"no Service {name!r} (have: {', '.join(sorted(self._service_ports))})")
        return f"http://127.0.0.1:{self._client_ports().get(name, self._service_ports[name][0])}"

    def service_urls(self) -> dict[str, str]:
        """Every Service's local URL by name (as `service_url`: through the client→web relay if any)."""
        return {name: self.service_url(name) for name in sorted(self._service_ports)}

    def _client_ports(self) -> dict[str, int]:
        impaired = getattr(self, "_impaired", None)
        port = impaired.client_port() if impaired is not None else None
        return {CLIENT_SERVICE: port} if port is not None else {}

    @property
    def server_pids(self) -> list[int]:
        """PIDs of HAProxy and Prometheus (pods are tracked through their cgroups)."""
        return [s.pid for s in (self._haproxy, self._prometheus) if s is not None and s.pid is not None]

    @property
    def infra_ports(self) -> list[int]:
        """The fixed ports of this stack: Services, HAProxy stats, Prometheus, exporter."""
        ports = {p for service in self._service_ports.values() for p in service}
        ports.update(p for ports_ in self._stable_ports.values() for p in ports_.values())
        if self._haproxy is not None:
            ports.add(self._haproxy.stats_port)
        if self._prometheus is not None:
            ports.add(self._prometheus.config.port)
        if self.exporter.port:
            ports.add(self.exporter.port)
        return sorted(ports)

    @property
    def temp_paths(self) -> list[Path]:
        """Temporary folders outside the run directory (removed by `stop`)."""
        paths = list(self._tempdirs)
        if self._haproxy is not None:
            paths.append(self._haproxy.sockdir)
        return paths

    @property
    def stopped(self) -> bool:
        """True once `stop()` began (event actions give up waiting then)."""
        return self._stopped

    def deployment(self, name: str) -> LocalDeployment:
        if name not in self._deployments:
            raise KeyError(f"no Deployment/StatefulSet {name!r} (have: {', '.join(sorted(self._deployments))})")
        return self._deployments[name]

    def deployments(self) -> list[LocalDeployment]:
        return list(self._deployments.values())

    def apply_template(self, objects: list[dict[str, Any]], workload: str) -> bool:
        """Start a rolling update of Deployment `workload` to its template in `objects` (the
        rendered objects after an event changed them; ConfigMaps/Secrets resolve from them).
        False if the template did not change. The rollout proceeds as pods become ready
        (`deploy/local/rollout.py`); `LocalDeployment.rollout_state` tells how far it is."""
        spec = parse_objects(objects)
        new = next((w for w in spec.workloads if w.name == workload), None)
        if new is None or self.spec is None:
            raise TargetError(f"no workload {workload!r} in the changed objects")
        started = self.deployment(workload).start_rollout(new, self._pod_factory(spec, new, self._timings))
        self.objects, self.spec = objects, spec
        return started

    def add_collector(self, fn: Callable[[], Iterable[Any]]) -> None:
        """Extra metric families for the exporter (e.g. the HPA controller's series)."""
        self.exporter.add_collector(fn)

    @property
    def haproxy_api(self) -> haproxy.RuntimeApi:
        if self._haproxy is None:
            raise TargetError("HAProxy is not running")
        return self._haproxy.api

    @property
    def cgroup_paths(self) -> list[Path]:
        """Our `hpabench-*` cgroup folders (empty without cgroups)."""
        return list(self.driver.base_paths) if self.driver is not None else []

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ start

    def _info(self, message: str) -> None:
        self._progress(message)

    def _warn(self, message: str) -> None:
        self.run.events.emit("warning", message=message)

    def _start(self) -> None:
        t0 = time.monotonic()
        self.spec = spec = parse_objects(self.objects)
        check_binaries(required_binaries(spec, self.settings))
        self._write_rendered()
        if is_root() and self.settings.drop_privileges and not app_runs_unprivileged():
            self._warn(
                "the Python interpreter or the app is not readable by other users (e.g. it lives under "
                "a 0700 home), so app pods run as root instead of their runAsUser"
            )
        for ignored in spec.ignored:
            self._warn(f"{ignored} has no local meaning and is ignored")
        self._setup_cgroups()
        self._pick_pods_root()
        self._allocate_service_ports(spec)
        self.record_stack()
        self._route_impaired_tiers()

        self.exporter.start(self.ports.allocate())
        self.exporter_url = self.exporter.url
        self._start_servers(spec)
        self.record_stack()
        fault_point("deploy.servers_started")
        self._create_deployments(spec)
        self._housekeeping = threading.Thread(target=self._housekeep, name="local-housekeeping", daemon=True)
        self._housekeeping.start()

        backing = [d for d in self._deployments.values() if d.spec.runtime in SINGLE_INSTANCE_RUNTIMES]
        apps = [d for d in self._deployments.values() if d.spec.runtime not in SINGLE_INSTANCE_RUNTIMES]
        for tier in (backing, apps):
            for deployment in tier:
                deployment.reconcile()
            self._wait_ready(tier, deadline=t0 + self.settings.ready_timeout_s)
            for deployment in tier:
                ready = deployment.ready_count()
                self._info(f"    {deployment.kind.lower()}/{deployment.name}: {ready}/{deployment.spec_replicas} ready")
        self._wait_servers_ready(deadline=t0 + self.settings.ready_timeout_s)
        self._wait_routed(deadline=t0 + self.settings.ready_timeout_s)
        self._start_hpa_controllers(spec)
        self._watch_servers()
        self.record_stack()
        self.started_at = time.time()
        self._info(f"    local target up in {time.monotonic() - t0:.1f}s")

    def _write_rendered(self) -> None:
        from hpabench.deploy.render import write_rendered

        write_rendered(self.run.path, self.objects)

    def _setup_cgroups(self) -> None:
        try:
            self.driver = detect_driver(self.settings.cgroups, self.settings.cgroup_parent)
        except OSError as exc:
            raise TargetError(f"cgroups ({self.settings.cgroups}) cannot be used: {exc}") from None
        manifest = self.run.read_manifest()
        host = dict(manifest.get("host") or {})
        host.update(cgroup_version=self.driver.version, cgroups_enforced=self.driver.enforced)
        self.run.update_manifest(host=host)
        if not self.driver.enforced:
            reason = getattr(self.driver, "reason", "")
            message = (
                "WARNING: cgroups are not writable here, so pods run WITHOUT CPU and memory limits "
                f"and CPU-based results are not comparable ({reason}). Run as root for enforced limits."
            )
            self._info(message)
            self._warn(message)

    def _pick_pods_root(self) -> None:
        self._pods_root.mkdir(parents=True, exist_ok=True)
        if is_root() and self.settings.drop_privileges and not accessible_to_others(self._pods_root):
            # The unprivileged pod users cannot reach the run directory (e.g. under a 0700 home).
            temp = Path(tempfile.mkdtemp(prefix="hpabench-pods-"))
            temp.chmod(0o755)
            self._tempdirs.append(temp)
            self._warn(f"{self._pods_root} is not reachable by unprivileged users; pod state lives in {temp}")
            self._pods_root = temp

    def _allocate_service_ports(self, spec: ClusterSpec) -> None:
        for workload in spec.workloads:
            if workload.runtime in SINGLE_INSTANCE_RUNTIMES:
                self._stable_ports[workload.name] = {
                    p.container_port: self.ports.allocate() for p in workload.main.ports
                }
        for service in spec.services:
            if service.load_balanced:
                local = [self.ports.allocate() for _ in service.ports]
            else:
                local = [self._stable_ports[service.workload][p.target_port] for p in service.ports]
            self._service_ports[service.name] = local
            named = {p.name: port for p, port in zip(service.ports, local, strict=True) if p.name}
            self._service_links.append(ServiceLink(service.name, local[0], named))

    def _route_impaired_tiers(self) -> None:
        """netem variants and latency events: re-point the Services through tier links
        (deploy/local/tierlinks.py); the manifest's `tier_links` and a `tier_link` event per link
        say how each is applied (`mechanism`: netem, userspace-relay, tbf, none)."""
        from hpabench.deploy.local.tierlinks import ImpairedTiers

        self._impaired, self._service_links[:] = ImpairedTiers.start(
            self.objects, self._service_links, self.run.path / "tierlinks", self.ports.allocate, self.delayed_services
        )
        described = self._impaired.describe()
        if described:
            self.run.update_manifest(tier_links=described)
        for entry in described:
            self.run.events.emit("tier_link", **entry)
            relay = f" (delay relay on :{entry['delay_relay_port']})" if entry["delay_relay"] else ""
            what = "client→web" if entry["service"] == CLIENT_SERVICE else f"web→{entry['service']}"
            self._info(f"    tier link {what}: {entry['mechanism']}{relay}")

    @property
    def tier_links(self) -> Any:
        """The run's `tierlinks.ImpairedTiers` (delay relays for events), or None before start."""
        return getattr(self, "_impaired", None)

    def _start_servers(self, spec: ClusterSpec) -> None:
        """HAProxy and Prometheus: configs written, processes started (readiness checked later)."""
        self._haproxy = HaproxyServer.build(
            self.run.path, spec, self._service_ports, self.ports, self.settings.haproxy_maxconn
        )
        self._haproxy.start()
        self._prometheus = PrometheusServer.build(
            self.run.path,
            spec,
            self.ports,
            haproxy_stats_port=self._haproxy.stats_port,
            exporter_port=self.exporter.port or 0,
            scrape_interval_s=self.settings.scrape_interval_s,
            namespace=self.settings.namespace,
        )
        self._prometheus.start()
        self.prometheus_url = self._prometheus.url
        self._endpoints = EndpointsController(
            self._haproxy.api, self._haproxy.bindings, self._prometheus.scrapes, self.settings.namespace, self._warn
        )
        backends = len(self._haproxy.bindings)
        self._info(f"    haproxy: {backends} frontend(s), metrics on 127.0.0.1:{self._haproxy.stats_port}")

    def _create_deployments(self, spec: ClusterSpec) -> None:
        timings = PodTimings(
            restart_backoff_base_s=self.settings.restart_backoff_base_s,
            restart_backoff_max_s=self.settings.restart_backoff_max_s,
            backoff_reset_s=self.settings.backoff_reset_s,
            probe_tick_s=self.settings.probe_tick_s,
        )
        self._timings = timings
        for workload in spec.workloads:
            self._deployments[workload.name] = LocalDeployment(
                workload, self._pod_factory(spec, workload, timings), self.run.events, self._pod_gone
            )

    def _pod_factory(self, spec: ClusterSpec, workload: WorkloadSpec, timings: PodTimings) -> Callable[[str], Pod]:
        assert self.driver is not None
        driver = self.driver

        def make(name: str) -> Pod:
            pod_dir = self._pods_root / name
            (pod_dir / "logs").mkdir(parents=True, exist_ok=True)
            plan = plan_pod(
                spec,
                workload,
                name,
                pod_dir,
                self._service_links,
                self._stable_ports.get(workload.name, {}),
                self.ports,
                self.settings.namespace,
                self.settings.drop_privileges,
            )
            return Pod(plan, driver, self.run.events, timings, self._pod_changed)

        return make

    def _pod_changed(self, pod: Pod) -> None:
        self._dirty.set()

    def _all_pods(self) -> list[Pod]:
        return [p for d in self._deployments.values() for p in d.live_pods()]

    def _housekeep(self) -> None:
        """Endpoint sync on every pod change (and every second, to retry), forget gone pods."""
        while not self._housekeeping_stop.is_set():
            self._dirty.wait(HOUSEKEEPING_PERIOD_S)
            self._dirty.clear()
            self.sync_endpoints()
            self.record_stack()

    def sync_endpoints(self) -> None:
        """Bring HAProxy and the Prometheus targets in line with the pods now."""
        if self._endpoints is not None:
            self._endpoints.sync(self._all_pods())
        for deployment in self._deployments.values():
            deployment.forget_gone()

    def _pod_gone(self, pod: Pod) -> None:
        """A pod finished: its pods.jsonl row, and its ports go back to the pool."""
        self.pod_log.append(pod.row())
        for port in pod.plan.owned_ports:
            self.ports.release(port)

    def _wait_ready(self, deployments: list[LocalDeployment], deadline: float) -> None:
        while True:
            pending = [d for d in deployments if d.ready_count() < d.spec_replicas]
            if not pending:
                return
            failed = [p for d in pending for p in d.live_pods() if p.phase == "Failed"]
            if failed:
                raise TargetError("pods failed to start:\n  " + "\n  ".join(p.failure_detail() for p in failed))
            self._check_servers_alive()
            if time.monotonic() > deadline:
                stuck = [p for d in pending for p in d.live_pods() if not p.ready]
                raise TargetError(
                    f"pods not ready after {self.settings.ready_timeout_s:g}s:\n  "
                    + "\n  ".join(p.failure_detail() for p in stuck)
                )
            time.sleep(0.05)

    def _servers(self) -> list[HaproxyServer | PrometheusServer]:
        return [s for s in (self._haproxy, self._prometheus) if s is not None]

    def _check_servers_alive(self) -> None:
        for server in self._servers():
            if server.exited():
                raise TargetError(server.death_notice())

    def _wait_servers_ready(self, deadline: float) -> None:
        deadline = min(deadline, time.monotonic() + SERVER_READY_TIMEOUT_S)
        while True:
            self._check_servers_alive()
            if all(server.ready() for server in self._servers()):
                return
            if time.monotonic() > deadline:
                raise TargetError("HAProxy or Prometheus did not become ready in time")
            time.sleep(0.05)

    def _wait_routed(self, deadline: float) -> None:
        """Until every load-balanced backend holds all ready pods as enabled servers."""
        while True:
            self.sync_endpoints()
            assert self._endpoints is not None
            missing = []
            for binding in self._haproxy.bindings if self._haproxy is not None else []:
                ready = {p.name for p in self._deployments[binding.workload].live_pods() if p.ready}
                enabled = {n for n, (_, on) in self._endpoints.servers[binding.backend].items() if on}
                if not ready <= enabled:
                    missing.append(f"{binding.backend}: {sorted(ready - enabled)}")
            if not missing:
                return
            if time.monotonic() > deadline:
                raise TargetError(f"HAProxy does not route to the ready pods: {'; '.join(missing)}")
            time.sleep(0.1)

    def _watch_servers(self) -> None:
        """From now on a dead HAProxy, Prometheus or delay relay is a fault: recorded, restarted (serverwatch.py)."""
        watched = []
        if self._haproxy is not None:
            watched.append(Watched(self._haproxy, after_restart=self._reroute))
        if self._prometheus is not None:
            watched.append(Watched(self._prometheus))
        impaired = getattr(self, "_impaired", None)
        watched += [Watched(relay) for relay in (impaired.delay_relays.values() if impaired is not None else [])]
        self._server_watch = ServerWatch(watched, self.run.events.emit, self.record_stack)
        self._server_watch.start()

    def _reroute(self) -> None:
        """A fresh HAProxy knows only its static config: forget what the old one held, re-add the pods."""
        if self._endpoints is not None:
            self._endpoints.reset()
        self._wait_routed(deadline=time.monotonic() + SERVER_READY_TIMEOUT_S)

    def record_stack(self) -> None:
        """Rewrite the `local` group of the run's stack record (hpabench/stack.py): every server and
        pod process (pid + start time), our cgroups, ports and temp paths — what `hpabench down`
        needs if this process dies without tearing down."""
        with self._record_lock:
            processes = []
            named: list[tuple[int | None, str]] = [(s.pid, s.name) for s in self._servers()]
            impaired = getattr(self, "_impaired", None)
            if impaired is not None:
                named += impaired.processes()
            named += [(pod.pid, pod.name) for pod in self._all_pods()]
            for pid, label in named:
                if pid is None:
                    continue
                if pid not in self._identities:
                    self._identities[pid] = process_identity(pid)
                processes.append([*self._identities[pid], label])
            try:
                self.run.stack.set_group(
                    "local",
                    processes=processes,
                    cgroups=[str(p) for p in self.cgroup_paths],
                    ports=self.infra_ports,
                    temp_paths=[str(p) for p in self.temp_paths],
                )
            except OSError as exc:
                self._warn(f"stack record not written: {exc}")

    def _start_hpa_controllers(self, spec: ClusterSpec) -> None:
        if not self.settings.autoscale or not spec.hpas:
            return
        try:
            from hpabench.deploy.hpa.controller import HpaController
        except ModuleNotFoundError as exc:
            if exc.name not in ("hpabench.deploy.hpa.controller", "hpabench.deploy.hpa"):
                raise
            self._warn("the HPA controller is not available (hpabench.deploy.hpa.controller); no autoscaling")
            self._info("    WARNING: no HPA controller available; replicas stay fixed")
            return
        for hpa in spec.hpas:
            controller = HpaController(
                hpa=hpa,
                cluster=self,
                settings=self.settings.hpa_settings,
                events=self.run.events,
                data_dir=self.run.data,
            )
            self._controllers.append(controller)
            controller.start()
        self._info(f"    hpa: {len(self._controllers)} controller(s) started")

    # ------------------------------------------------------------------ state

    def _state(self) -> list[WorkloadState]:
        return [
            WorkloadState(d.kind, d.name, d.spec_replicas, d.container, tuple(d.pods()))
            for d in self._deployments.values()
        ]

    def snapshot(self) -> list[dict[str, Any]]:
        """One dict per pod (PodInfo fields), for `status` and debugging."""
        rows = []
        for deployment in self._deployments.values():
            for info in deployment.pods():
                rows.append(dict(info.__dict__))
        return rows

    def hpa_descriptions(self) -> list[str]:
        """`kubectl describe hpa`-style text of every running HPA controller."""
        return [controller.status().describe() for controller in self._controllers]

    @property
    def hpa_controllers(self) -> list[Any]:
        """The running HPA controllers (empty without autoscaling)."""
        return list(self._controllers)

    # ------------------------------------------------------------------ stop

    def stop(self) -> None:
        """Stop everything (idempotent). Problems are recorded as warnings, never raised."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        if self._server_watch is not None:
            self._server_watch.stop()  # before the servers stop: a teardown is not a fault
        for controller in self._controllers:
            try:
                controller.stop()
            except Exception as exc:  # a failing controller must not block the teardown
                self._warn(f"HPA controller stop failed: {exc}")
        apps = [d for d in self._deployments.values() if d.spec.runtime not in SINGLE_INSTANCE_RUNTIMES]
        backing = [d for d in self._deployments.values() if d.spec.runtime in SINGLE_INSTANCE_RUNTIMES]
        for tier in (apps, backing):
            self._stop_tier(tier)
            fault_point("teardown.mid")
        self._housekeeping_stop.set()
        self._dirty.set()
        if self._housekeeping is not None:
            self._housekeeping.join(timeout=10.0)
        for server in reversed(self._servers()):
            server.stop()
        impaired = getattr(self, "_impaired", None)
        if impaired is not None:
            impaired.stop()
        self.exporter.stop()
        if self.driver is not None:
            try:
                self.driver.remove()
            except OSError as exc:
                self._warn(f"cgroups not fully removed: {exc}")
        for temp in self._tempdirs:
            shutil.rmtree(temp, ignore_errors=True)
        self.ports.release_all()
        if self._deployments:
            try:
                self.pod_log.write_parquet()
            except (OSError, ValueError) as exc:
                self._warn(f"pods.parquet not written: {exc}")

    def _stop_tier(self, deployments: list[LocalDeployment]) -> None:
        if not deployments:
            return
        grace = max(d.spec.grace_s for d in deployments) + 10.0
        threads = [threading.Thread(target=d.stop, args=(grace,), daemon=True) for d in deployments]
        for thread in threads:
            thread.start()
        # Keep endpoints in sync while pods terminate (the housekeeping thread does it too).
        deadline = time.monotonic() + grace + 5.0
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if self._endpoints is not None:
                    self._endpoints.sync(self._all_pods())
            time.sleep(0.05)
        for deployment in deployments:
            leftover = [p.name for p in deployment.live_pods() if not p.gone]
            if leftover:
                self._warn(f"pods did not terminate in time: {', '.join(leftover)}")
