"""Kubernetes resource quantities and the cgroup arithmetic a kubelet applies to them (pure).

Units: CPU in millicores (1000 = one core), memory in bytes, CFS quota/period in microseconds.
Formulas follow the kubelet (pkg/kubelet/cm): `milliCPUToQuota`, `MilliCPUToShares` and the
cgroup v2 conversion of shares to `cpu.weight`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hpabench.deploy.hpa.quantity import parse_quantity as parse_api_quantity

CFS_PERIOD_US = 100_000  # the kubelet's default --cpu-cfs-quota-period (100 ms)
MIN_QUOTA_US = 1_000  # the kernel refuses a quota below 1 ms; the kubelet clamps to it
MIN_SHARES = 2
MAX_SHARES = 262_144
SHARES_PER_CPU = 1024


def parse_quantity(value: Any) -> Decimal:
    """A non-negative Kubernetes quantity ("250m", "0.5", "128Mi", "1e3", 2) as a Decimal in base
    units; ValueError if malformed or negative. Parsing is the HPA's (one parser for the project)."""
    amount = parse_api_quantity(value).value
    if amount < 0:
        raise ValueError(f"negative quantity: {value!r}")
    return amount


def cpu_millicores(value: Any) -> int:
    """CPU quantity → millicores, rounded up like the API server does ("0.1" → 100, "1" → 1000)."""
    return math.ceil(parse_quantity(value) * 1000)


def memory_bytes(value: Any) -> int:
    """Memory quantity → bytes, rounded up ("128Mi" → 134217728, "1G" → 10**9)."""
    return math.ceil(parse_quantity(value))


def cfs_quota_us(cpu_limit_millicores: int | None, period_us: int = CFS_PERIOD_US) -> int | None:
    """CFS quota for a CPU limit; None means unlimited (no limit or a zero limit)."""
    if not cpu_limit_millicores:
        return None
    quota = cpu_limit_millicores * period_us // 1000
    return max(quota, MIN_QUOTA_US)


def cpu_shares(cpu_request_millicores: int | None) -> int:
    """cgroup v1 `cpu.shares` for a CPU request: max(2, m*1024/1000), capped at 262144."""
    if not cpu_request_millicores:
        return MIN_SHARES
    shares = cpu_request_millicores * SHARES_PER_CPU // 1000
    return min(max(shares, MIN_SHARES), MAX_SHARES)


def cpu_weight(shares: int) -> int:
    """cgroup v2 `cpu.weight` from v1 shares: 1 + ((shares - 2) * 9999) / 262142 (integer)."""
    shares = min(max(shares, MIN_SHARES), MAX_SHARES)
    return 1 + ((shares - MIN_SHARES) * 9999) // (MAX_SHARES - MIN_SHARES)


@dataclass(frozen=True)
class Resources:
    """Requests and limits of one container or a whole pod. None = not set."""

    cpu_request_millicores: int | None = None
    cpu_limit_millicores: int | None = None
    memory_request_bytes: int | None = None
    memory_limit_bytes: int | None = None


def container_resources(spec: dict[str, Any] | None) -> Resources:
    """`resources:` of a container → Resources. Raises ValueError(field, problem) on bad values.

    Like API-server defaulting, a request left unset while its limit is set equals the limit.
    """
    spec = spec or {}
    requests = spec.get("requests") or {}
    limits = spec.get("limits") or {}
    if not isinstance(requests, dict) or not isinstance(limits, dict):
        raise ValueError("resources: requests and limits must be mappings")

    def get(section: dict[str, Any], key: str, convert: Any, where: str) -> int | None:
        if key not in section or section[key] is None:
            return None
        try:
            return int(convert(section[key]))
        except ValueError as exc:
            raise ValueError(f"{where}.{key}: {exc}") from None

    cpu_limit = get(limits, "cpu", cpu_millicores, "limits")
    mem_limit = get(limits, "memory", memory_bytes, "limits")
    cpu_request = get(requests, "cpu", cpu_millicores, "requests")
    mem_request = get(requests, "memory", memory_bytes, "requests")
    if cpu_request is None:
        cpu_request = cpu_limit
    if mem_request is None:
        mem_request = mem_limit
    return Resources(cpu_request, cpu_limit, mem_request, mem_limit)


def _sum(values: list[int | None]) -> int | None:
    """Sum of values; None if any is None (an unset limit on one container = pod unlimited)."""
    if any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


def _max_opt(a: int | None, b: int | None, none_wins: bool) -> int | None:
    if a is None or b is None:
        return None if none_wins else (a if b is None else b)
    return max(a, b)


def pod_resources(containers: list[Resources], init_containers: list[Resources]) -> Resources:
    """Effective pod resources: max(sum of app containers, max of any init container).

    Requests: unset counts as 0. Limits: unset on any app container means the pod is unlimited
    for that resource (the pod cgroup gets no limit), like the kubelet's pod-level cgroup.
    """

    def requests(values: list[int | None]) -> int | None:
        known = [v for v in values if v is not None]
        return sum(known) if known else None

    cpu_req = requests([c.cpu_request_millicores for c in containers])
    mem_req = requests([c.memory_request_bytes for c in containers])
    cpu_lim = _sum([c.cpu_limit_millicores for c in containers]) if containers else None
    mem_lim = _sum([c.memory_limit_bytes for c in containers]) if containers else None
    for init in init_containers:
        cpu_req = _max_opt(cpu_req, init.cpu_request_millicores, none_wins=False)
        mem_req = _max_opt(mem_req, init.memory_request_bytes, none_wins=False)
        if cpu_lim is not None:
            cpu_lim = _max_opt(cpu_lim, init.cpu_limit_millicores, none_wins=True)
        if mem_lim is not None:
            mem_lim = _max_opt(mem_lim, init.memory_limit_bytes, none_wins=True)
    return Resources(cpu_req, cpu_lim, mem_req, mem_lim)


@dataclass(frozen=True)
class CgroupLimits:
    """What a pod's cgroup is configured with. `cpu_quota_us` None = unlimited."""

    cpu_period_us: int
    cpu_quota_us: int | None
    cpu_shares: int
    cpu_weight: int
    memory_limit_bytes: int | None


def cgroup_limits(resources: Resources, period_us: int = CFS_PERIOD_US) -> CgroupLimits:
    """The cgroup settings the kubelet derives from pod resources."""
    shares = cpu_shares(resources.cpu_request_millicores)
    return CgroupLimits(
        cpu_period_us=period_us,
        cpu_quota_us=cfs_quota_us(resources.cpu_limit_millicores, period_us),
        cpu_shares=shares,
        cpu_weight=cpu_weight(shares),
        memory_limit_bytes=resources.memory_limit_bytes,
    )
