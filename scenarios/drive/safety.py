"""Where load may go: loopback, the deployed system's hosts, or anywhere with explicit consent.

`check_target(host, allowed_hosts, allow_external)` raises `SafetyError` (exit 2) for a base URL
whose host is neither loopback (127.0.0.0/8, ::1, localhost) nor in `allowed_hosts` (the
deployed Service's names), unless `allow_external`; a malformed URL is a `SpecError`. Names are
never resolved, so a public name that happens to resolve to 127.0.0.1 is still external.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from hpabench.errors import SafetyError, SpecError, SpecIssue

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def check_target(host: str, allowed_hosts: set[str] | frozenset[str], allow_external: bool) -> None:
    """Refuse (SafetyError) a load target that is neither loopback nor an allowed host.

    Names are not resolved: `example.com` is external even if it resolves to 127.0.0.1.
    A malformed URL is a SpecError.
    """
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpecError(SpecIssue("host", "", f"{host!r} is not an http(s) URL like http://127.0.0.1:8080"))
    try:
        _ = parts.port
    except ValueError:
        raise SpecError(SpecIssue("host", "", f"{host!r} has an invalid port")) from None
    hostname = parts.hostname
    if _is_loopback(hostname) or hostname in allowed_hosts or allow_external:
        return
    raise SafetyError(
        f"refusing to send load to {hostname!r}: it is neither loopback nor part of the deployed system. "
        "Pass --allow-external-target if you really mean to load that host."
    )
