"""Routing a tier's traffic through an impaired link (the local target's netem variants).

`netem.plan_links` decides per impaired Service (postgres, redis) what is applied; here it is
built. A *qdisc* (netem, or tbf for a rate) needs a `netns.TierLink` and two TCP relays
(HAProxy in TCP mode, C-speed):

  web pod ──► ns_ip:P1 (relay in the namespace) ──► host_ip:P2 (relay on the host end) ──► 127.0.0.1:server

The qdisc sits on the host end's egress only: requests cross it on the way in, responses on the
way back, so each direction is impaired exactly once (RTT + 2 × delay_ms). Both relays listen
only on the link's own addresses, which exist only on the veth pair the suite made.

Without netem (no `sch_netem`, or not root) delay and jitter go through the userspace *delay
relay* (`delay_relay.py`, its own process), which holds each chunk for the delay in each
direction, the same one-way semantics:

  web pod ──► 127.0.0.1:P0 (delay relay) ──► 127.0.0.1:server          (delay/jitter only)
  web pod ──► 127.0.0.1:P0 (delay relay) ──► ns_ip:P1 ──► … ──► server  (with a tbf rate limit)

A delay/jitter-only fallback needs no namespace and no root. The client→web link (the web
Service's `client_web` impairment) is always a delay relay, netem or not (`netem.plan_links`):

  load generator ──► 127.0.0.1:P0 (delay relay) ──► 127.0.0.1:web (HAProxy's frontend) ──► pods

The pods' env is left alone there; `client_port()` is what the cluster's `service_url("web")`
gives the driver (and the warm-up), so every client request and response crosses the relay,
while HAProxy's health checks and the pods' probes stay direct. Tiers that scenario events will
delay get a delay relay too (at 0 ms, or the variant's delay when the relay applies it); events
change it through its control socket (`RUN/tierlinks/<service>-delay.sock`). The Service's link
(`<SVC>_SERVICE_HOST/PORT` in the pods' env) points at the first hop. `describe()` is what the run
records (manifest `tier_links`). `stop()` stops the relays and removes the links (idempotent;
the cluster calls it in its teardown).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import time
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hpabench.deploy.local import delay_relay, netns
from hpabench.deploy.local.delay_relay import RelayControl
from hpabench.deploy.local.env import ServiceLink
from hpabench.deploy.local.netem import CLIENT_SERVICE, LinkPlan, plan_links
from hpabench.deploy.local.procs import launch, log_tail, stop_process
from hpabench.errors import TargetError

ROUTABLE_SERVICES = frozenset({"postgres", "redis"})
RELAY_READY_TIMEOUT_S = 20.0
STOP_GRACE_S = 3.0


def relay_config(listen: str, target: str, maxconn: int = 2048) -> str:
    """An HAProxy TCP relay from `listen` to `target` (host:port each; pure)."""
    return "\n".join(
        [
            "global",
            f"  maxconn {maxconn}",
            "defaults",
            "  mode tcp",
            "  timeout connect 5s",
            "  timeout client 1h",
            "  timeout server 1h",
            "frontend relay",
            f"  bind {listen}",
            "  default_backend relay",
            "backend relay",
            f"  server upstream {target}",
            "",
        ]
    )


@dataclass
class DelayRelay:
    """The delay relay in front of one Service: `base_*` is what the variant asked of it, `delay_*`
    what it does now. Looks like a node-level server to `serverwatch.ServerWatch` (`name`, `proc`,
    `log`, `pid`, `exited()`, `start()`, `ready()`): a relay that dies is a fault (flag
    `delay-relay-<service>_died`) and is restarted on its port with its current delay."""

    service: str
    upstream: str
    port: int
    folder: Path
    base_delay_ms: float
    base_jitter_ms: float
    proc: subprocess.Popen[bytes] | None = None
    delay_ms: float = field(init=False)
    jitter_ms: float = field(init=False)

    def __post_init__(self) -> None:
        self.delay_ms, self.jitter_ms = self.base_delay_ms, self.base_jitter_ms
        self.control = RelayControl(self.folder / f"{self.service}-delay.sock")

    @property
    def name(self) -> str:
        return f"delay-relay-{self.service}"

    @property
    def log(self) -> Path:
        return self.folder / f"{self.service}-delay.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def set_extra(self, delay_ms: float, jitter_ms: float) -> dict[str, Any]:
        """The variant's delay plus `delay_ms` (independent jitters add as variances); the state."""
        return self._set(self.base_delay_ms + delay_ms, round(math.hypot(self.base_jitter_ms, jitter_ms), 6))

    def restore(self) -> dict[str, Any]:
        return self._set(self.base_delay_ms, self.base_jitter_ms)

    def _set(self, delay_ms: float, jitter_ms: float) -> dict[str, Any]:
        state = self.control.set(delay_ms=delay_ms, jitter_ms=jitter_ms)
        self.delay_ms, self.jitter_ms = delay_ms, jitter_ms  # what a restart starts with
        return state

    def start(self) -> None:
        """Launch the relay process (its current delay); `ready()` says when it answers."""
        argv = delay_relay.command(
            f"127.0.0.1:{self.port}", self.upstream, self.delay_ms, self.jitter_ms, self.control.path, os.getpid()
        )
        env = {key: os.environ[key] for key in ("PATH", "PYTHONPATH", "LANG") if key in os.environ}
        self.proc = launch(argv, env, self.log)

    def ready(self) -> bool:
        try:
            return self.control.path.exists() and bool(self.control.state().get("ok"))
        except (OSError, ValueError):
            return False  # not listening yet

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace_s=STOP_GRACE_S)

    @classmethod
    def create(cls, service: str, upstream: str, port: int, folder: Path, plan: LinkPlan) -> DelayRelay:
        """Start the relay and wait until its control socket answers (TargetError)."""
        relay = cls(service, upstream, port, folder, plan.relay_delay_ms or 0.0, plan.relay_jitter_ms)
        relay.start()
        assert relay.proc is not None
        deadline = time.monotonic() + RELAY_READY_TIMEOUT_S
        while not relay.ready():
            if relay.exited():
                raise TargetError(
                    f"the delay relay for {service} exited during start-up (exit code {relay.proc.returncode}) "
                    f"[log: {relay.log}]\n{log_tail(relay.log)}"
                )
            if time.monotonic() > deadline:
                stop_process(relay.proc, grace_s=0)
                raise TargetError(f"the delay relay for {service} did not answer within {RELAY_READY_TIMEOUT_S:g} s")
            time.sleep(0.05)
        return relay


@dataclass
class ImpairedTiers:
    folder: Path
    links: list[netns.TierLink] = field(default_factory=list)
    relays: list[Any] = field(default_factory=list)
    delay_relays: dict[str, DelayRelay] = field(default_factory=dict)
    plans: dict[str, LinkPlan] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        objects: list[dict[str, Any]],
        service_links: list[ServiceLink],
        folder: Path,
        allocate_port: Any,
        event_services: Collection[str] = (),
    ) -> tuple[ImpairedTiers, list[ServiceLink]]:
        """Start the links; returns the handle and `service_links` with impaired ones re-pointed.
        `event_services`: Services whose link scenario events will delay (they get a delay relay)."""
        tiers = cls(folder)
        plans, issues = plan_links(objects, event_services)
        if issues:
            raise TargetError("; ".join(f"{issue.path}: {issue.message}" for issue in issues))
        if not plans:
            return tiers, service_links
        tiers.plans = plans
        folder.mkdir(parents=True, exist_ok=True)
        result = []
        try:
            for link in service_links:
                plan = plans.get(link.name)
                if plan is None:
                    result.append(link)
                    continue
                if link.name == CLIENT_SERVICE:  # in front of HAProxy's frontend; the pods' env unchanged
                    port = allocate_port()
                    upstream = f"127.0.0.1:{link.port}"
                    tiers.delay_relays[link.name] = DelayRelay.create(link.name, upstream, port, folder, plan)
                    result.append(link)
                    continue
                if link.name not in ROUTABLE_SERVICES:
                    raise TargetError(f"Service {link.name!r} cannot be routed through a tier link")
                upstream = f"127.0.0.1:{link.port}"
                routed = link
                if plan.qdisc:
                    host, port = tiers._start_link(link, list(plan.qdisc), allocate_port)
                    upstream = f"{host}:{port}"
                    routed = replace(link, host=host, port=port, named_ports={})
                if plan.relay_delay_ms is not None:
                    port = allocate_port()
                    tiers.delay_relays[link.name] = DelayRelay.create(link.name, upstream, port, folder, plan)
                    routed = replace(link, host=None, port=port, named_ports={})
                result.append(routed)
        except BaseException:
            tiers.stop()
            raise
        return tiers, result

    def _start_link(self, link: ServiceLink, qdisc: list[str], allocate_port: Any) -> tuple[str, int]:
        """A namespace + veth pair with `qdisc` and its two HAProxy relays; the first hop's address."""
        haproxy = shutil.which("haproxy")
        if haproxy is None:
            raise TargetError("haproxy is needed for the impaired tier relays")
        if not self.links:
            netns.remove_stale()
        tier = netns.TierLink.create(len(self.links), qdisc, qdisc_on_ns_end=False)
        self.links.append(tier)
        inner_port, outer_port = allocate_port(), allocate_port()
        inner = self.folder / f"{link.name}-ns.cfg"
        outer = self.folder / f"{link.name}-host.cfg"
        inner.write_text(relay_config(f"{tier.ns_ip}:{inner_port}", f"{tier.host_ip}:{outer_port}"))
        outer.write_text(relay_config(f"{tier.host_ip}:{outer_port}", f"127.0.0.1:{link.port}"))
        env = {"PATH": os.environ.get("PATH", "")}
        self.relays.append(launch([haproxy, "-f", str(outer), "-db"], env, self.folder / f"{link.name}-host.log"))
        self.relays.append(
            launch(
                ["ip", "netns", "exec", tier.namespace, haproxy, "-f", str(inner), "-db"],
                env,
                self.folder / f"{link.name}-ns.log",
            )
        )
        return tier.ns_ip, inner_port

    def delay_relay(self, service: str) -> DelayRelay | None:
        """The delay relay in front of `service`, if this run has one."""
        return self.delay_relays.get(service)

    def client_port(self) -> int | None:
        """The client→web delay relay's port on 127.0.0.1 (None: the client→web link is not impaired)."""
        relay = self.delay_relays.get(CLIENT_SERVICE)
        return relay.port if relay is not None else None

    def describe(self) -> list[dict[str, Any]]:
        """One entry per routed link (`LinkPlan.manifest_entry`, plus the relay's port)."""
        entries = []
        for service, plan in sorted(self.plans.items()):
            entry = plan.manifest_entry()
            relay = self.delay_relays.get(service)
            entry["delay_relay_port"] = relay.port if relay is not None else None
            entries.append(entry)
        return entries

    def processes(self) -> list[tuple[int, str]]:
        """(pid, label) of every relay process still running (for the run's stack record)."""
        found = [(proc.pid, f"tier-relay-{i}") for i, proc in enumerate(self.relays) if proc.poll() is None]
        found += [(r.pid, r.name) for r in self.delay_relays.values() if r.pid is not None and not r.exited()]
        return found

    def stop(self) -> None:
        """Stop the relays, then remove the links (idempotent)."""
        for relay in reversed(list(self.delay_relays.values())):
            relay.stop()
        self.delay_relays.clear()
        for proc in reversed(self.relays):
            stop_process(proc, grace_s=STOP_GRACE_S)
        self.relays.clear()
        for link in reversed(self.links):
            link.remove()
        self.links.clear()
