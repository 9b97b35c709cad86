"""Per-second, per-route client statistics of one load-generating process (no Locust import).

Seconds are *run seconds*: interval k is [t0 + k, t0 + k + 1) where t0 is the start of the load
phase (the clock file), so rows line up with the plan's stage boundaries and with every other
process of the run. `SecondRecorder` files every completed request into the run second in which
it completed and its route; `rows_before(k)` turns every finished second into `client_stats`
rows — one per route that had requests plus route `ALL` (always, so idle seconds are visible) —
and forgets them. Memory holds only the seconds not yet written (one or two), whatever the run's
length.

Row format (one JSON object per line in `client_stats.<process>.jsonl`):
`ts` (t0 + k, unix s), `t_s` (k), `route`, `requests`, `failures`, `p50_ms p90_ms p95_ms p99_ms
p999_ms max_ms mean_ms` (null when no requests), `hist` (sparse histogram, see histogram.py),
`process`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, TextIO

from hpabench.contract import LATENCY_COLUMNS, LATENCY_PERCENTILES
from hpabench.scenarios.histogram import LatencyHistogram

ALL_ROUTE = "ALL"
PERCENTILES = LATENCY_PERCENTILES
STAT_COLUMNS = LATENCY_COLUMNS


def _number(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


def latency_fields(hist: LatencyHistogram) -> dict[str, float | None]:
    """The percentile/max/mean columns of one histogram (None when it is empty)."""
    values = hist.percentiles([q for _, q in PERCENTILES])
    fields = {name: _number(value) for (name, _), value in zip(PERCENTILES, values, strict=True)}
    fields["max_ms"] = hist.max if hist.count else None
    fields["mean_ms"] = _number(hist.mean)
    return fields


class _RouteSecond:
    __slots__ = ("codes", "failures", "hist")

    def __init__(self) -> None:
        self.hist = LatencyHistogram()
        self.failures = 0
        self.codes: dict[str, int] = {}  # failed requests by HTTP status ("0": no response)


class SecondRecorder:
    """See the module docstring. Single-threaded (gevent) use."""

    def __init__(self, process: str, t0: float = 0.0) -> None:
        self.process = process
        self.t0 = t0
        self._seconds: dict[int, dict[str, _RouteSecond]] = {}
        self.next_second: int | None = None

    def second_of(self, now: float) -> int:
        return math.floor(now - self.t0)

    def start(self, now: float, t0: float) -> None:
        """Begin writing rows from the run second containing `now` (idempotent)."""
        if self.next_second is None:
            self.t0 = t0
            self.next_second = self.second_of(now)

    def record(self, now: float, route: str, response_time_ms: float, failed: bool, status: int | None = None) -> None:
        second = math.floor(now - self.t0)
        routes = self._seconds.get(second)
        if routes is None:
            routes = self._seconds[second] = {}
        entry = routes.get(route)
        if entry is None:
            entry = routes[route] = _RouteSecond()
        entry.hist.record(response_time_ms)
        if failed:
            entry.failures += 1
            code = str(status or 0)
            entry.codes[code] = entry.codes.get(code, 0) + 1

    @property
    def pending_seconds(self) -> int:
        return len(self._seconds)

    def rows_before(self, before_second: int) -> tuple[list[dict[str, Any]], dict[int, int]]:
        """Rows of every run second in [next_second, before_second) and {second: completed}.

        Seconds recorded before `start` (none in practice) are written too rather than lost.
        """
        if self.next_second is None:
            self.next_second = min(self._seconds, default=before_second)
        first = min([self.next_second, *self._seconds])
        rows: list[dict[str, Any]] = []
        completed: dict[int, int] = {}
        for second in range(first, before_second):
            routes = self._seconds.pop(second, {})
            total = LatencyHistogram()
            failures = 0
            codes: dict[str, int] = {}
            for route in sorted(routes):
                entry = routes[route]
                total.merge(entry.hist)
                failures += entry.failures
                for code, count in entry.codes.items():
                    codes[code] = codes.get(code, 0) + count
                rows.append(self._row(second, route, entry.hist, entry.failures))
            row = self._row(second, ALL_ROUTE, total, failures)
            if codes:
                # Which failures (a 502 from a killed connection is not a 503 from no endpoints).
                row["fail_codes"] = codes
            rows.append(row)
            completed[second] = total.count
        self.next_second = max(self.next_second, before_second)
        return rows, completed

    def _row(self, second: int, route: str, hist: LatencyHistogram, failures: int) -> dict[str, Any]:
        return {
            "ts": self.t0 + second,
            "t_s": second,
            "route": route,
            "requests": hist.count,
            "failures": failures,
            **latency_fields(hist),
            "hist": hist.to_sparse(),
            "process": self.process,
        }


class JsonlWriter:
    """Appends JSON lines and flushes after each batch, so an interrupted run keeps its data."""

    def __init__(self, path: Path, lazy: bool = False) -> None:
        self.path = path
        self._file: TextIO | None = None
        self._closed = False
        if not lazy:
            self._file = path.open("a", encoding="utf-8")

    def write(self, rows: list[dict[str, Any]]) -> None:
        if self._closed or not rows:
            return
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows))
        self._file.flush()

    def close(self) -> None:
        self._closed = True
        if self._file is not None:
            self._file.close()
            self._file = None
