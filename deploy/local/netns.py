"""Network namespaces, veth pairs and qdiscs the local target creates for impaired tier links.

Contract:
- Everything this module creates is named `hpb<pid>-<n>` (namespace) and `hpb<pid>-<n>h` /
  `hpb<pid>-<n>n` (the veth ends, host side and namespace side), with addresses from
  10.254.0.0/16 that no interface of the machine uses, so it can be found and removed, and it
  never touches the machine's own interfaces: qdiscs go only on the veth ends created here.
- `TierLink.create(index, qdisc_args)` makes the namespace, the pair (one end moved into the
  namespace), the /30 addresses, brings both ends up and adds the qdisc to both ends (so each
  direction is impaired); any failure removes what was made and raises `TargetError`.
  `TierLink.remove()` is idempotent: deleting the namespace deletes its veth end, which deletes
  the pair and its qdiscs; the host end is deleted explicitly if it survived.
- `tier_links(specs)` is a context manager that removes every link on exit, Ctrl-C included.
- `leftovers(pid)` lists what is left of a process's links; `remove_stale()` removes links of
  processes that no longer exist (a run killed with SIGKILL cannot clean up after itself).
- `qdisc_problem(args)` tries a qdisc inside a throwaway namespace (never on a real interface)
  and returns why the kernel refuses it, or None.
- `qdisc_args(delay_ms, jitter_ms, loss_pct, rate_mbit)`: netem for delay/jitter/loss (with its
  own rate), tbf for a rate limit alone (tbf needs no netem module).
All of it needs root (CAP_NET_ADMIN); callers check first.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from hpabench.errors import TargetError

PREFIX = "hpb"
SUBNET = ipaddress.IPv4Network("10.254.0.0/16")
_NAME = re.compile(rf"^{PREFIX}(\d+)-(\d+)$")
COMMAND_TIMEOUT_S = 10.0


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TargetError(f"ip {' '.join(args)}: {exc}") from None
    if check and done.returncode != 0:
        raise TargetError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def _tc(namespace: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    argv = ["tc", *(["-n", namespace] if namespace else []), *args]
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TargetError(f"{' '.join(argv)}: {exc}") from None


def qdisc_args(
    delay_ms: float = 0, jitter_ms: float = 0, loss_pct: float = 0, rate_mbit: float | None = None
) -> list[str]:
    """The `tc qdisc add dev X root <args>` arguments for an impairment (pure)."""
    if delay_ms > 0 or loss_pct > 0:
        args = ["netem"]
        if delay_ms > 0:
            args += ["delay", f"{delay_ms:g}ms"]
            if jitter_ms > 0:
                args += [f"{jitter_ms:g}ms", "distribution", "normal"]
        if loss_pct > 0:
            args += ["loss", f"{loss_pct:g}%"]
        if rate_mbit is not None:
            args += ["rate", f"{rate_mbit:g}mbit"]
        return args
    if rate_mbit is not None:
        return ["tbf", "rate", f"{rate_mbit:g}mbit", "burst", "32kbit", "latency", "50ms"]
    return []


def namespaces() -> list[str]:
    done = _ip("netns", "list", check=False)
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def links() -> list[str]:
    done = _ip("-o", "link", "show", check=False)
    names = []
    for line in done.stdout.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            names.append(parts[1].strip().split("@", 1)[0])
    return names


def leftovers(pid: int | None = None) -> list[str]:
    """Namespaces and host links named by this module (for `pid`, default: any process)."""
    owner = str(pid) if pid is not None else r"\d+"
    pattern = re.compile(rf"^{PREFIX}{owner}-\d+[hn]?$")
    return sorted(name for name in [*namespaces(), *links()] if pattern.match(name))


def _used_addresses() -> set[ipaddress.IPv4Address]:
    done = _ip("-o", "-4", "addr", "show", check=False)
    used = set()
    for match in re.finditer(r"inet (\d+\.\d+\.\d+\.\d+)/", done.stdout):
        used.add(ipaddress.IPv4Address(match.group(1)))
    return used


def _free_subnet(pid: int, index: int) -> ipaddress.IPv4Network:
    used = _used_addresses()
    subnets = list(SUBNET.subnets(new_prefix=30))
    start = (pid * 64 + index) % len(subnets)
    for offset in range(len(subnets)):
        candidate = subnets[(start + offset) % len(subnets)]
        if not any(address in candidate for address in used):
            return candidate
    raise TargetError(f"no free /30 left in {SUBNET} for a tier link")


@dataclass
class TierLink:
    namespace: str
    host_if: str
    ns_if: str
    host_ip: str
    ns_ip: str
    qdisc: tuple[str, ...]

    @classmethod
    def create(
        cls, index: int, qdisc: Sequence[str] = (), pid: int | None = None, qdisc_on_ns_end: bool = True
    ) -> TierLink:
        """See the module docstring; `qdisc_on_ns_end=False` impairs the host end's egress only."""
        pid = os.getpid() if pid is None else pid
        name = f"{PREFIX}{pid}-{index}"
        subnet = _free_subnet(pid, index)
        host_ip, ns_ip = (str(h) for h in list(subnet.hosts())[:2])
        link = cls(name, f"{name}h", f"{name}n", host_ip, ns_ip, tuple(qdisc))
        try:
            _ip("netns", "add", name)
            _ip("link", "add", link.host_if, "type", "veth", "peer", "name", link.ns_if, "netns", name)
            _ip("addr", "add", f"{host_ip}/30", "dev", link.host_if)
            _ip("link", "set", link.host_if, "up")
            _ip("-n", name, "addr", "add", f"{ns_ip}/30", "dev", link.ns_if)
            _ip("-n", name, "link", "set", link.ns_if, "up")
            _ip("-n", name, "link", "set", "lo", "up")
            if qdisc:
                ends = ((None, link.host_if), (name, link.ns_if)) if qdisc_on_ns_end else ((None, link.host_if),)
                for namespace, dev in ends:
                    done = _tc(namespace, "qdisc", "add", "dev", dev, "root", *qdisc)
                    if done.returncode != 0:
                        raise TargetError(
                            f"tc qdisc add dev {dev} root {' '.join(qdisc)} failed: {done.stderr.strip()}"
                        )
        except BaseException:
            link.remove()
            raise
        return link

    def remove(self) -> None:
        """Delete the namespace (and with it the pair and the qdiscs); idempotent."""
        if self.namespace in namespaces():
            _ip("netns", "del", self.namespace, check=False)
        if self.host_if in links():
            _ip("link", "del", self.host_if, check=False)


@contextmanager
def tier_links(qdiscs: Sequence[Sequence[str]]) -> Iterator[list[TierLink]]:
    """One link per entry of `qdiscs`, all removed on exit (Ctrl-C and errors included)."""
    made: list[TierLink] = []
    try:
        for index, qdisc in enumerate(qdiscs):
            made.append(TierLink.create(index, qdisc))
        yield made
    finally:
        for link in reversed(made):
            link.remove()


def remove_stale() -> list[str]:
    """Remove the links of processes that no longer exist; returns what was removed."""
    removed = []
    for name in namespaces():
        match = _NAME.match(name)
        if match is None or _alive(int(match.group(1))):
            continue
        TierLink(name, f"{name}h", f"{name}n", "", "", ()).remove()
        removed.append(name)
    for name in links():
        match = re.match(rf"^{PREFIX}(\d+)-\d+h$", name)
        if match and not _alive(int(match.group(1))):
            _ip("link", "del", name, check=False)
            removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def qdisc_problem(args: Sequence[str]) -> str | None:
    """Why the kernel refuses `tc qdisc add ... root <args>` (tried on the loopback of a throwaway
    namespace, never on a real interface), or None when it accepts it."""
    name = f"{PREFIX}{os.getpid()}-probe"
    try:
        _ip("netns", "add", name)
        _ip("-n", name, "link", "set", "lo", "up")
        done = _tc(name, "qdisc", "add", "dev", "lo", "root", *args)
        return None if done.returncode == 0 else (done.stderr.strip() or f"exit code {done.returncode}")
    except TargetError as exc:
        return str(exc)
    finally:
        if name in namespaces():
            _ip("netns", "del", name, check=False)
