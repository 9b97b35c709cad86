"""Container probes (readiness, liveness, startup) as the kubelet runs them, against local ports.

`ProbeSpec.parse(manifest_probe)` reads the timing fields with the Kubernetes defaults
(initialDelaySeconds 0, periodSeconds 10, timeoutSeconds 1, successThreshold 1,
failureThreshold 3). `ProbeState` applies the thresholds (pure). `run_probe` executes one probe:

* `httpGet`: GET http://127.0.0.1:<local port><path>; 200–399 is success (redirects not followed);
* `tcpSocket`: a TCP connect to the local port;
* `exec`: the command with the container's environment and a timeout; `pg_isready` maps to the
  real PostgreSQL check against the pod's local port, `redis-cli` gets `-h/-p` likewise.

Ports named in the probe follow the container's local port mapping (`ports` argument).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from hpabench.deploy.local.binaries import find_binary
from hpabench.deploy.local.ports import LOOPBACK, is_port_open
from hpabench.errors import MissingDependencyError


@dataclass(frozen=True)
class ProbeSpec:
    """One probe of a container; durations in seconds."""

    handler: str  # httpGet | tcpSocket | exec
    action: Mapping[str, Any]
    initial_delay_s: float = 0.0
    period_s: float = 10.0
    timeout_s: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def parse(cls, probe: Mapping[str, Any]) -> ProbeSpec:
        handler = next(k for k in ("httpGet", "tcpSocket", "exec") if k in probe)
        return cls(
            handler=handler,
            action=probe[handler] or {},
            initial_delay_s=float(probe.get("initialDelaySeconds", 0)),
            period_s=float(probe.get("periodSeconds", 10)),
            timeout_s=float(probe.get("timeoutSeconds", 1)),
            success_threshold=int(probe.get("successThreshold", 1)),
            failure_threshold=int(probe.get("failureThreshold", 3)),
        )


class ProbeState:
    """Consecutive-result thresholds. `result` is None until the thresholds decide (pure)."""

    def __init__(self, spec: ProbeSpec, initial: bool | None = None) -> None:
        self.spec = spec
        self.result: bool | None = initial
        self._successes = 0
        self._failures = 0

    def record(self, ok: bool) -> bool:
        """Record one probe outcome; True if `result` changed."""
        before = self.result
        if ok:
            self._successes += 1
            self._failures = 0
            if self._successes >= self.spec.success_threshold:
                self.result = True
        else:
            self._failures += 1
            self._successes = 0
            if self._failures >= self.spec.failure_threshold:
                self.result = False
        return self.result != before


@dataclass(frozen=True)
class ProbeOutcome:
    ok: bool
    message: str = ""


def _local_port(port: Any, ports: Mapping[str | int, int]) -> int | None:
    """A probe port (name or number) → local port via the container's mapping."""
    if port in ports:
        return ports[port]
    if isinstance(port, str) and port.isdigit() and int(port) in ports:
        return ports[int(port)]
    return None


def exec_command(command: list[str], port: int | None) -> list[str]:
    """Map an exec probe command to a local command (pure, except for finding binaries)."""
    if not command:
        return command
    name = os.path.basename(command[0])
    if name == "pg_isready":
        extra = ["-h", LOOPBACK] + (["-p", str(port)] if port else [])
        return [find_binary("pg_isready"), *extra, *command[1:]]
    if name == "redis-cli":
        extra = ["-h", LOOPBACK] + (["-p", str(port)] if port else [])
        return [find_binary("redis-cli"), *extra, *command[1:]]
    return command


def run_probe(
    spec: ProbeSpec,
    ports: Mapping[str | int, int],
    env: Mapping[str, str] | None = None,
    default_port: int | None = None,
) -> ProbeOutcome:
    """Run one probe once; never raises (a broken probe is a failed probe with a message)."""
    action = spec.action
    try:
        if spec.handler == "httpGet":
            port = _local_port(action.get("port"), ports)
            if port is None:
                return ProbeOutcome(False, f"unknown port {action.get('port')!r}")
            path = str(action.get("path") or "/")
            headers = {h["name"]: h["value"] for h in action.get("httpHeaders") or []}
            response = httpx.get(
                f"http://{LOOPBACK}:{port}{path}", headers=headers, timeout=spec.timeout_s, follow_redirects=False
            )
            ok = 200 <= response.status_code < 400
            return ProbeOutcome(ok, f"HTTP {response.status_code}")
        if spec.handler == "tcpSocket":
            port = _local_port(action.get("port"), ports)
            if port is None:
                return ProbeOutcome(False, f"unknown port {action.get('port')!r}")
            ok = is_port_open(port, timeout_s=spec.timeout_s)
            return ProbeOutcome(ok, "connected" if ok else "connection refused")
        command = exec_command([str(c) for c in action.get("command") or []], default_port)
        if not command or (shutil.which(command[0]) is None and not os.path.isabs(command[0])):
            return ProbeOutcome(False, f"exec probe command not found locally: {command[:1]}")
        done = subprocess.run(
            command,
            env=dict(env or {}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=spec.timeout_s,
            check=False,
        )
        return ProbeOutcome(done.returncode == 0, done.stdout.decode("utf-8", "replace").strip()[:200])
    except httpx.HTTPError as exc:
        return ProbeOutcome(False, f"{type(exc).__name__}: {exc}")
    except subprocess.TimeoutExpired:
        return ProbeOutcome(False, f"timed out after {spec.timeout_s:g}s")
    except (OSError, MissingDependencyError) as exc:
        return ProbeOutcome(False, str(exc))
