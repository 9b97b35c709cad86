"""The app's configuration, read only from environment variables (12-factor).

Contract: `Settings.from_env(environ)` returns validated settings or raises `ConfigError` listing
every bad variable at once (name, value, problem). The variable names are fixed by
docs/contracts.md: DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD DB_POOL_MAX REDIS_HOST REDIS_PORT
CACHE_TTL_S SEED_ITEMS WORK_DEFAULT_COST LOG_LEVEL PORT. Unset or empty variables take the
defaults below; the manifests set all of them explicitly.

This module is imported by the app image, so it depends on the standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Upper bound of `GET /work?cost=N`: well under a second of one core (~0.3 µs a round on a
# current x86 core), so nobody can hang a pod past its probes.
WORK_MAX_COST = 2_000_000

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

# A `$(VAR)` the kubelet could not expand stays literal in the value; catch it by name.
_UNEXPANDED = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_]*\)")
_HOSTNAME = re.compile(r"^[A-Za-z0-9_.:\-\[\]]+$")


class ConfigError(Exception):
    """One or more environment variables are invalid; `problems` lists `NAME=value: why` lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Settings:
    """Validated configuration. Durations in seconds, costs in hashing rounds."""

    db_host: str = "127.0.0.1"
    db_port: int = 5432
    db_name: str = "hpabench"
    db_user: str = "hpabench"
    db_password: str = ""
    db_pool_max: int = 10
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    cache_ttl_s: int = 30
    seed_items: int = 10_000
    work_default_cost: int = 20_000
    log_level: str = "warning"
    port: int = 8080

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Parse and validate `environ`; raises ConfigError naming every bad variable."""
        problems: list[str] = []
        values: dict[str, Any] = {}

        def take(name: str, parse: Callable[[str], Any]) -> None:
            raw = environ.get(name, "")
            if raw.strip() == "":
                return  # unset/empty: keep the default
            try:
                # Passwords are taken verbatim; everything else tolerates stray whitespace.
                values[name.lower()] = parse(raw if name == "DB_PASSWORD" else raw.strip())
            except ValueError as exc:
                shown = "***" if name == "DB_PASSWORD" else raw
                problems.append(f"{name}={shown!r}: {exc}")

        take("DB_HOST", _host)
        take("DB_PORT", _port)
        take("DB_NAME", _identifier)
        take("DB_USER", _identifier)
        take("DB_PASSWORD", _password)
        take("DB_POOL_MAX", _int_range(1, 1000))
        take("REDIS_HOST", _host)
        take("REDIS_PORT", _port)
        take("CACHE_TTL_S", _int_range(1, 86_400))
        take("SEED_ITEMS", _int_range(1, 10_000_000))
        take("WORK_DEFAULT_COST", _int_range(0, WORK_MAX_COST))
        take("LOG_LEVEL", _log_level)
        take("PORT", _port)
        if problems:
            raise ConfigError(problems)
        return cls(**values)


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw, 10)
        except ValueError:
            raise ValueError(f"must be an integer in [{low}, {high}]") from None
        if not low <= value <= high:
            raise ValueError(f"must be an integer in [{low}, {high}]")
        return value

    return parse


_port = _int_range(1, 65_535)


def _host(raw: str) -> str:
    if _UNEXPANDED.search(raw):
        raise ValueError("contains an unexpanded variable reference (is the Service defined?)")
    if not _HOSTNAME.match(raw):
        raise ValueError("is not a host name or IP address")
    return raw


def _identifier(raw: str) -> str:
    if len(raw) > 63:
        raise ValueError("is longer than PostgreSQL's 63-character identifier limit")
    return raw


def _password(raw: str) -> str:
    if _UNEXPANDED.search(raw):
        raise ValueError("contains an unexpanded variable reference")
    return raw


def _log_level(raw: str) -> str:
    level = raw.lower()
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return level
