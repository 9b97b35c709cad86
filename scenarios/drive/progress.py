"""The live view of a running load: tail the per-process jsonl files, format one status line.

* `LiveTail(data_dir).poll()` reads only the new, complete lines of every `client_stats.*.jsonl`
  and `load.*.jsonl` and keeps per-second totals for the last `keep_s` seconds (bounded memory).
* `LiveTail.latest(now)` → `LiveSecond` of the newest second every known generator reported.
* `format_progress(...)` → the line: stage, elapsed/total, users, offered vs achieved req/s,
  p95, errors, ready replicas, generator CPU (pure; tested without processes).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpabench.scenarios.drive.recording import ALL_ROUTE
from hpabench.scenarios.histogram import LatencyHistogram


@dataclass
class LiveSecond:
    ts: int  # the run second k
    requests: int = 0
    failures: int = 0
    hist: LatencyHistogram = field(default_factory=LatencyHistogram)
    users: int = 0
    sent: int = 0
    intended: int | None = None
    cpu_max: float = 0.0
    processes: set[str] = field(default_factory=set)

    @property
    def p95_ms(self) -> float:
        return float(self.hist.percentile(95.0))


class _Tail:
    """New complete lines of one growing file (a partial last line waits for the next poll)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def lines(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        rows = []
        for line in chunk[: end + 1].splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows


class LiveTail:
    """See the module docstring."""

    def __init__(self, data_dir: Path, keep_s: int = 30) -> None:
        self.data_dir = data_dir
        self.keep_s = keep_s
        self._tails: dict[Path, _Tail] = {}
        self.seconds: dict[int, LiveSecond] = {}
        self.generators: set[str] = set()
        self.cpu_by_process: dict[str, float] = {}

    def _second(self, ts: int) -> LiveSecond:
        second = self.seconds.get(ts)
        if second is None:
            second = self.seconds[ts] = LiveSecond(ts)
        return second

    def poll(self) -> None:
        for pattern in ("client_stats.*.jsonl", "load.*.jsonl"):
            for path in self.data_dir.glob(pattern):
                if path not in self._tails:
                    self._tails[path] = _Tail(path)
        for path, tail in self._tails.items():
            client = path.name.startswith("client_stats.")
            for row in tail.lines():
                ts = int(row.get("t_s", 0))
                second = self._second(ts)
                if client:
                    if row.get("route") == ALL_ROUTE:
                        second.requests += int(row.get("requests", 0))
                        second.failures += int(row.get("failures", 0))
                        second.hist.merge(LatencyHistogram.from_sparse(row["hist"]))
                    continue
                process = str(row.get("process"))
                cpu = float(row.get("cpu") or 0.0)
                second.cpu_max = max(second.cpu_max, cpu)
                self.cpu_by_process[process] = cpu
                if row.get("role") == "master":
                    continue
                self.generators.add(process)
                second.processes.add(process)
                second.users += int(row.get("users") or 0)
                sent = row.get("sent")
                second.sent += int(sent if sent is not None else row.get("completed") or 0)
                if row.get("intended") is not None:
                    second.intended = (second.intended or 0) + int(row["intended"])
        if self.seconds:
            newest = max(self.seconds)
            for ts in [ts for ts in self.seconds if ts < newest - self.keep_s]:
                del self.seconds[ts]

    def latest(self) -> LiveSecond | None:
        """The newest second that every generator process has reported (else the newest one)."""
        complete = [s for s in self.seconds.values() if self.generators and s.processes >= self.generators]
        candidates = complete or list(self.seconds.values())
        return max(candidates, key=lambda s: s.ts) if candidates else None


def measured_instant_s(elapsed_s: float, latest_second: int | None) -> float:
    """The load time (s since t0) a progress line describes: the middle of the newest measured
    second `k` (its samples span [k, k+1)), or `elapsed_s` before any measurement arrived."""
    if latest_second is None:
        return elapsed_s
    return min(elapsed_s, latest_second + 0.5)


def _clock(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole // 60:02d}:{whole % 60:02d}"


def format_progress(
    stage: str,
    elapsed_s: float,
    total_s: float,
    second: LiveSecond | None,
    planned_rps: float | None = None,
    status: dict[str, Any] | None = None,
) -> str:
    """One status line; missing measurements show as `-`."""
    parts = [f"{stage:<10}", f"{_clock(elapsed_s)}/{_clock(total_s)}"]
    if second is None:
        parts.append("waiting for the first measurements")
    else:
        parts.append(f"users {second.users}")
        offered = second.intended if second.intended is not None else second.sent
        planned = f" (plan {planned_rps:.0f})" if planned_rps is not None and not math.isnan(planned_rps) else ""
        parts.append(f"offered {offered} req/s{planned}")
        parts.append(f"achieved {second.requests} req/s")
        p95 = second.p95_ms
        parts.append(f"p95 {p95:.0f} ms" if not math.isnan(p95) else "p95 -")
        error_pct = 100.0 * second.failures / second.requests if second.requests else 0.0
        parts.append(f"errors {error_pct:.1f}%")
        parts.append(f"gen cpu {second.cpu_max:.0%}")
    if status:
        ready = status.get("ready_replicas")
        replicas = status.get("replicas")
        if ready is not None:
            parts.append(f"ready {ready}" + (f"/{replicas}" if replicas is not None else ""))
        parts += [f"{key} {value}" for key, value in status.items() if key not in {"ready_replicas", "replicas"}]
    return "  ".join(parts)
