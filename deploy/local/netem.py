"""Added latency, jitter, loss and bandwidth limits between tiers on the local target (netem).

The rendered Services carry `hpabench.io/netem` (see `deploy/render_tuning.py`). Applying it
locally needs the kernel's traffic control inside network namespaces the suite creates for the
tiers (never on the machine's own interfaces), which needs root. `netem_admission(objects)` is
what the local target says before a run starts: without root every impaired tier is refused with
the reason; with root, each qdisc is first tried in a throwaway namespace (a kernel without
`sch_netem` is named as the reason), and web→db / web→cache are accepted: `tierlinks.py` routes
them through namespaces and veth pairs (`netns.py`) and removes them at teardown. client→web is
refused for now (the load generator would have to run inside the namespace).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hpabench.deploy.local.netns import qdisc_args, qdisc_problem
from hpabench.deploy.local.procs import is_root
from hpabench.deploy.render_tuning import NETEM_ANNOTATION
from hpabench.errors import SpecIssue

SOURCE = "rendered manifests"
# The tiers whose traffic the local target can route through a namespace today.
SUPPORTED_SERVICES: frozenset[str] = frozenset({"postgres", "redis"})  # see tierlinks.py


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


def netem_admission(
    objects: list[dict[str, Any]], root: bool | None = None, probe: Callable[[list[str]], str | None] = qdisc_problem
) -> list[SpecIssue]:
    """Why the local target cannot apply the rendered impairments (empty: none asked, or it can).
    `probe` tries a qdisc in a throwaway namespace (see `netns.qdisc_problem`)."""
    try:
        wanted = impairments(objects)
    except (ValueError, TypeError) as exc:
        return [SpecIssue(SOURCE, f"metadata.annotations.{NETEM_ANNOTATION}", f"is not valid netem JSON: {exc}")]
    root = is_root() if root is None else root
    issues = []
    for impairment in wanted:
        where = f"Service/{impairment.service}.metadata.annotations.{NETEM_ANNOTATION}"
        args = impairment.qdisc_args()
        if not args:
            continue  # all zero: nothing to impair
        if not root:
            issues.append(
                SpecIssue(
                    SOURCE,
                    where,
                    "added latency/loss/bandwidth limits between tiers need root: the local target applies them "
                    "with tc inside network namespaces it creates (never on this machine's interfaces); run as "
                    "root or drop the networking.netem knob",
                )
            )
            continue
        problem = probe(args)
        if problem is not None:
            issues.append(
                SpecIssue(
                    SOURCE,
                    where,
                    f"this kernel refuses `tc qdisc add ... {' '.join(args)}` ({problem}; tried in a throwaway "
                    f"network namespace): the {args[0]} qdisc (module sch_{args[0]}) is missing, so the impairment "
                    "cannot be applied on this machine",
                )
            )
        elif impairment.service not in SUPPORTED_SERVICES:
            issues.append(
                SpecIssue(
                    SOURCE,
                    where,
                    f"the local target cannot yet route traffic to Service {impairment.service!r} through a "
                    "network namespace, so the impairment would be silently missing; refused",
                )
            )
    return issues
