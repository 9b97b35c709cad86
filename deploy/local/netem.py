"""Added latency, jitter, loss and bandwidth limits between tiers on the local target: the plan.

The rendered Services carry `hpabench.io/netem` (see `deploy/render_tuning.py`). `plan_links`
decides, once per run and the same way for admission (`netem_admission`, before the run) and
for `tierlinks.ImpairedTiers.start`, how each impaired tier link is applied:

| the machine | delay / jitter | rate_mbit | loss_pct |
|---|---|---|---|
| root, kernel has `sch_netem` | netem (`netem`) | netem's rate (tbf alone for a rate alone) | netem |
| root, no `sch_netem` | userspace delay relay (`userspace-relay`) | tbf in the namespace | refused |
| not root | userspace delay relay | refused (tc needs root) | refused |

`sch_netem` is probed once per process (a `netem delay 1ms` qdisc on the loopback of a throwaway
namespace, `netns.qdisc_problem`; the answer is cached), as is any other qdisc tried. Refusals
name the variant field (`networking.netem.web_db.loss_pct`) and the reason. web→db and
web→cache are routed (`SUPPORTED_SERVICES`), and client→web (`CLIENT_SERVICE`, the web Service):
its delay/jitter always goes through a delay relay on 127.0.0.1 in front of HAProxy's web
frontend, netem or not (mechanism `userspace-relay`, reason `CLIENT_RELAY_REASON`); its loss and
rate are refused (the load generator runs on the host, outside any namespace the suite makes, so
no qdisc can sit on its path, and the relay only delays). Tiers that scenario events will delay
(`add-latency`) get a delay relay at 0 ms too (events always act through the relay, netem or not).
The qdisc is tried in a namespace of the suite's own, never on the machine's interfaces.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from hpabench.deploy.local.netns import qdisc_args, qdisc_problem
from hpabench.deploy.local.procs import is_root
from hpabench.deploy.render_tuning import NETEM_ANNOTATION, TIER_SERVICES
from hpabench.errors import SpecIssue

SOURCE = "rendered manifests"
# The tiers whose traffic the local target can route through a namespace today.
SUPPORTED_SERVICES: frozenset[str] = frozenset({"postgres", "redis"})  # see tierlinks.py
CLIENT_SERVICE = "web"  # client→web: the delay relay in front of HAProxy's web frontend
CLIENT_RELAY_REASON = "client→web is always delayed by the relay (the load generator runs outside the namespaces)"
TIER_OF_SERVICE = {service: tier for tier, service in TIER_SERVICES.items()}  # postgres → web_db
NETEM = "netem"
USERSPACE_RELAY = "userspace-relay"
TBF = "tbf"
NETEM_PROBE = ("netem", "delay", "1ms")
NO_NETEM = "kernel has no sch_netem"

Probe = Callable[[list[str]], "str | None"]


@dataclass(frozen=True)
class Impairment:
    """netem parameters for the link in front of one Service."""

    service: str
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    rate_mbit: float | None = None

    def qdisc_args(self) -> list[str]:
        """`tc qdisc add ... root <args>` for this impairment (netem, or tbf for a rate alone)."""
        return qdisc_args(self.delay_ms, self.jitter_ms, self.loss_pct, self.rate_mbit)


def impairments(objects: list[dict[str, Any]]) -> list[Impairment]:
    """Every Service's `hpabench.io/netem` annotation, parsed (malformed ones raise ValueError)."""
    found = []
    for obj in objects:
        if obj.get("kind") != "Service":
            continue
        meta = obj.get("metadata") or {}
        raw = (meta.get("annotations") or {}).get(NETEM_ANNOTATION)
        if raw is None:
            continue
        data = json.loads(str(raw))
        found.append(Impairment(service=str(meta.get("name")), **data))
    return found


@functools.lru_cache(maxsize=16)
def _probe_once(args: tuple[str, ...]) -> str | None:
    return qdisc_problem(list(args))


def cached_probe(args: list[str]) -> str | None:
    """`netns.qdisc_problem`, asked once per process for the same arguments."""
    return _probe_once(tuple(args))


@dataclass(frozen=True)
class LinkPlan:
    """How the link in front of one Service is applied (see the module docstring).

    - `mechanism`: what applies the delay/jitter (or loss): `netem`, `userspace-relay`, or `tbf`
      (a rate limit alone); `"none"` for a link only scenario events will delay.
    - `qdisc`: the qdisc on the tier link's host end (empty: no namespace, no veth pair).
    - `relay_delay_ms` / `relay_jitter_ms`: the delay relay's starting delay (None: no relay).
    - `reason`: why the relay stands in for netem ("kernel has no sch_netem", "not root"), or "".
    """

    service: str
    mechanism: str
    qdisc: tuple[str, ...] = ()
    relay_delay_ms: float | None = None
    relay_jitter_ms: float = 0.0
    reason: str = ""
    impairment: Impairment | None = None

    @property
    def tier(self) -> str:
        return TIER_OF_SERVICE.get(self.service, self.service)

    def manifest_entry(self) -> dict[str, Any]:
        """What the run records about this link (manifest `tier_links`, events.jsonl `tier_link`)."""
        impairment = self.impairment or Impairment(self.service)
        return {
            "service": self.service,
            "tier": self.tier,
            "mechanism": self.mechanism,
            "qdisc": list(self.qdisc) or None,
            "delay_relay": self.relay_delay_ms is not None,
            "delay_ms": impairment.delay_ms,
            "jitter_ms": impairment.jitter_ms,
            "loss_pct": impairment.loss_pct,
            "rate_mbit": impairment.rate_mbit,
            "reason": self.reason or None,
        }


def plan_links(
    objects: list[dict[str, Any]],
    event_services: Collection[str] = (),
    root: bool | None = None,
    probe: Probe | None = None,
) -> tuple[dict[str, LinkPlan], list[SpecIssue]]:
    """Service → its `LinkPlan`, and every reason a link cannot be applied here (then the run is
    refused). `event_services`: Services whose link scenario events will delay. Malformed
    annotations are one issue. `probe` tries a qdisc in a throwaway namespace (root only; default
    `cached_probe`)."""
    try:
        wanted = impairments(objects)
    except (ValueError, TypeError) as exc:
        return {}, [SpecIssue(SOURCE, f"metadata.annotations.{NETEM_ANNOTATION}", f"is not valid netem JSON: {exc}")]
    root = is_root() if root is None else root
    probe = probe or cached_probe
    plans: dict[str, LinkPlan] = {}
    issues: list[SpecIssue] = []
    for impairment in wanted:
        where = f"Service/{impairment.service}.metadata.annotations.{NETEM_ANNOTATION}"
        args = impairment.qdisc_args()
        if not args:
            continue  # all zero: nothing to impair
        if impairment.service == CLIENT_SERVICE:
            plan, problems = _plan_client(impairment)
            issues += [SpecIssue(SOURCE, where, problem) for problem in problems]
            if plan is not None:
                plans[impairment.service] = plan
            continue
        if impairment.service not in SUPPORTED_SERVICES:
            issues.append(
                SpecIssue(
                    SOURCE,
                    where,
                    f"the local target cannot yet route traffic to Service {impairment.service!r} through a "
                    "tier link, so the impairment would be silently missing; refused",
                )
            )
            continue
        plan, problems = _plan_one(impairment, args, root, probe)
        issues += [SpecIssue(SOURCE, where, problem) for problem in problems]
        if plan is not None:
            plans[impairment.service] = plan
    for service in event_services:
        plan = plans.get(service)
        if plan is None:
            plans[service] = LinkPlan(service, "none", relay_delay_ms=0.0)
        elif plan.relay_delay_ms is None:
            plans[service] = LinkPlan(service, plan.mechanism, plan.qdisc, 0.0, 0.0, plan.reason, plan.impairment)
    return plans, issues


def _plan_client(impairment: Impairment) -> tuple[LinkPlan | None, list[str]]:
    """client→web: delay/jitter through the delay relay (root, netem or neither); loss and rate refused."""
    field = f"networking.netem.{TIER_OF_SERVICE[CLIENT_SERVICE]}"
    outside = (
        "the load generator runs on this host, outside any network namespace the suite makes, so no "
        "qdisc can sit on the client→web path (the suite never puts one on the machine's interfaces)"
    )
    problems = []
    if impairment.loss_pct > 0:
        problems.append(
            f"{field}.loss_pct: packet loss cannot be emulated on the client→web link: {outside}, and the "
            "userspace delay relay that applies its delay only delays; drop loss_pct"
        )
    if impairment.rate_mbit is not None:
        problems.append(
            f"{field}.rate_mbit: a bandwidth limit cannot be applied on the client→web link: {outside}; drop rate_mbit"
        )
    if problems:
        return None, problems
    return (
        LinkPlan(
            impairment.service,
            USERSPACE_RELAY,
            (),
            impairment.delay_ms,
            impairment.jitter_ms,
            CLIENT_RELAY_REASON,
            impairment,
        ),
        [],
    )


def _plan_one(impairment: Impairment, args: list[str], root: bool, probe: Probe) -> tuple[LinkPlan | None, list[str]]:
    field = f"networking.netem.{TIER_OF_SERVICE.get(impairment.service, impairment.service)}"
    if root:
        problem = probe(args)
        if problem is None:
            return LinkPlan(
                impairment.service, NETEM if args[0] == NETEM else TBF, tuple(args), None, 0.0, "", impairment
            ), []
        if args[0] != NETEM:
            return None, [_kernel_refuses(args, problem)]
        reason = f"{NO_NETEM} ({problem}; tried in a throwaway network namespace)"
    else:
        reason = "not root (tc needs CAP_NET_ADMIN)"
    problems = []
    if impairment.loss_pct > 0:
        problems.append(
            f"{field}.loss_pct: packet loss cannot be emulated here: {reason}; the userspace delay relay "
            "that stands in for netem only delays (run as root on a kernel with sch_netem, or drop loss_pct)"
        )
    qdisc: tuple[str, ...] = ()
    if impairment.rate_mbit is not None:
        if not root:
            problems.append(
                f"{field}.rate_mbit: a bandwidth limit needs root: the local target applies it with tc (tbf) "
                "inside a network namespace it creates (never on this machine's interfaces); run as root or "
                "drop rate_mbit"
            )
        else:
            rate = qdisc_args(rate_mbit=impairment.rate_mbit)
            rate_problem = probe(rate)
            if rate_problem is not None:
                problems.append(f"{field}.rate_mbit: {_kernel_refuses(rate, rate_problem)}")
            qdisc = tuple(rate)
    if problems:
        return None, problems
    if impairment.delay_ms > 0:
        return (
            LinkPlan(
                impairment.service,
                USERSPACE_RELAY,
                qdisc,
                impairment.delay_ms,
                impairment.jitter_ms,
                NO_NETEM if root else "not root",
                impairment,
            ),
            [],
        )
    return LinkPlan(impairment.service, TBF, qdisc, None, 0.0, "", impairment), []


def _kernel_refuses(args: list[str], problem: str) -> str:
    return (
        f"this kernel refuses `tc qdisc add ... {' '.join(args)}` ({problem}; tried in a throwaway "
        f"network namespace): the {args[0]} qdisc (module sch_{args[0]}) is missing, so the impairment "
        "cannot be applied on this machine"
    )


def netem_admission(
    objects: list[dict[str, Any]],
    root: bool | None = None,
    probe: Probe | None = None,
    event_services: Collection[str] = (),
) -> list[SpecIssue]:
    """Why the local target cannot apply the rendered impairments (empty: none asked, or it can)."""
    return plan_links(objects, event_services, root, probe)[1]
