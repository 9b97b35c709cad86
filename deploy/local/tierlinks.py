"""Routing a tier's traffic through an impaired link (the local target's netem variants).

For each impaired Service the web pods reach (postgres, redis), `ImpairedTiers.start` makes a
`netns.TierLink` and two TCP relays (HAProxy in TCP mode, C-speed):

  web pod ──► ns_ip:P1 (relay in the namespace) ──► host_ip:P2 (relay on the host end) ──► 127.0.0.1:server

and points the Service's link (`<SVC>_SERVICE_HOST/PORT` in the pods' env) at ns_ip:P1. The
qdisc sits on the host end's egress only: requests cross it on the way in, responses on the way
back, so each direction is impaired exactly once. Both relays listen only on the link's own
addresses, which exist only on the veth pair the suite made. `stop()` stops the relays and
removes the links (idempotent; the cluster calls it in its teardown).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hpabench.deploy.local import netns
from hpabench.deploy.local.env import ServiceLink
from hpabench.deploy.local.netem import impairments
from hpabench.deploy.local.procs import launch, stop_process
from hpabench.errors import TargetError

ROUTABLE_SERVICES = frozenset({"postgres", "redis"})


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
class ImpairedTiers:
    folder: Path
    links: list[netns.TierLink] = field(default_factory=list)
    relays: list[Any] = field(default_factory=list)

    @classmethod
    def start(
        cls, objects: list[dict[str, Any]], service_links: list[ServiceLink], folder: Path, allocate_port: Any
    ) -> tuple[ImpairedTiers, list[ServiceLink]]:
        """Start the links; returns the handle and `service_links` with impaired ones re-pointed."""
        tiers = cls(folder)
        wanted = {i.service: i for i in impairments(objects)}
        if not wanted:
            return tiers, service_links
        haproxy = shutil.which("haproxy")
        if haproxy is None:
            raise TargetError("haproxy is needed for the impaired tier relays")
        folder.mkdir(parents=True, exist_ok=True)
        netns.remove_stale()
        result = []
        try:
            for link in service_links:
                impairment = wanted.get(link.name)
                if impairment is None or not impairment.qdisc_args():
                    result.append(link)
                    continue
                if link.name not in ROUTABLE_SERVICES:
                    raise TargetError(f"Service {link.name!r} cannot be routed through a tier link")
                tier = netns.TierLink.create(len(tiers.links), impairment.qdisc_args(), qdisc_on_ns_end=False)
                tiers.links.append(tier)
                inner_port, outer_port = allocate_port(), allocate_port()
                inner = folder / f"{link.name}-ns.cfg"
                outer = folder / f"{link.name}-host.cfg"
                inner.write_text(relay_config(f"{tier.ns_ip}:{inner_port}", f"{tier.host_ip}:{outer_port}"))
                outer.write_text(relay_config(f"{tier.host_ip}:{outer_port}", f"127.0.0.1:{link.port}"))
                env = {"PATH": os.environ.get("PATH", "")}
                tiers.relays.append(launch([haproxy, "-f", str(outer), "-db"], env, folder / f"{link.name}-host.log"))
                tiers.relays.append(
                    launch(
                        ["ip", "netns", "exec", tier.namespace, haproxy, "-f", str(inner), "-db"],
                        env,
                        folder / f"{link.name}-ns.log",
                    )
                )
                result.append(replace(link, host=tier.ns_ip, port=inner_port, named_ports={}))
        except BaseException:
            tiers.stop()
            raise
        return tiers, result

    def stop(self) -> None:
        """Stop the relays, then remove the links (idempotent)."""
        for proc in reversed(self.relays):
            stop_process(proc, grace_s=3.0)
        self.relays.clear()
        for link in reversed(self.links):
            link.remove()
        self.links.clear()
