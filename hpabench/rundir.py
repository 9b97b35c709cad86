"""The run directory: one folder per run under reports/, never overwritten (DESIGN.md contract).

```
reports/<run-id>/
  manifest.json   scenario + variant as resolved, target, versions, git sha, host, times, status
  rendered/       the exact manifests deployed
  events.jsonl    timeline: one JSON object per line (see `EventLog.emit`)
  data/           columnar files (parquet) and incremental jsonl written during the run
  summary.json    KPIs
  report.html     the human report
```

Every event and data row carries `ts` (unix seconds, float). Times relative to the start of the
load phase are `t_s = ts - manifest["load_started_at"]`, computed by analysis, not stored twice.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The run directory's names, statuses and writers live in the contract; re-exported here.
from hpabench.contract import (
    EVENTS,
    MANIFEST,
    REPORT,
    STATUS_COMPLETED,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_RUNNING,
    STATUSES,
    SUMMARY,
    to_json_line,
    write_json_atomic,
)

__all__ = [
    "EVENTS",
    "MANIFEST",
    "REPORT",
    "STATUSES",
    "STATUS_COMPLETED",
    "STATUS_FAILED",
    "STATUS_INTERRUPTED",
    "STATUS_RUNNING",
    "SUMMARY",
    "EventLog",
    "RunDir",
    "new_run_id",
    "read_events",
    "write_json_atomic",
]


def new_run_id(label: str, now: float | None = None) -> str:
    """`20261125-171400-spike-baseline`: sortable, readable, filesystem-safe."""
    stamp = datetime.fromtimestamp(now if now is not None else time.time(), tz=UTC)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-") or "run"
    return f"{stamp:%Y%m%d-%H%M%S}-{safe}"


class EventLog:
    """Append-only, thread-safe JSONL timeline. Each line is flushed so a crash loses nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8")

    def emit(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Record an event `kind` (e.g. "stage", "scale", "pod_ready") at the current time.

        Callers may pass `ts` to record an event that happened earlier.
        """
        event = {"ts": fields.pop("ts", time.time()), "kind": kind, **fields}
        line = to_json_line(event)
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")
                self._file.flush()
        return event

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_events(run_path: Path) -> list[dict[str, Any]]:
    """All events of a run, in file order; a torn last line (crash mid-write) is skipped."""
    path = run_path / EVENTS
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


class RunDir:
    """A run directory being written. Create with `RunDir.create`, reopen with `RunDir.open`."""

    def __init__(self, path: Path) -> None:
        # Absolute once, here: servers started with a working directory of their own (Prometheus,
        # PostgreSQL, Redis) must never see a path relative to ours.
        self.path = Path(path).resolve()
        self.data = self.path / "data"
        self.rendered = self.path / "rendered"
        self._events: EventLog | None = None
        self._events_lock = threading.Lock()
        self._stack: Any = None

    @classmethod
    def create(cls, reports_dir: Path, label: str) -> RunDir:
        """Make a fresh `reports_dir/<run-id>/`; never reuses an existing folder."""
        reports_dir.mkdir(parents=True, exist_ok=True)
        base = new_run_id(label)
        for attempt in range(1000):
            name = base if attempt == 0 else f"{base}-{attempt}"
            path = reports_dir / name
            try:
                path.mkdir()
            except FileExistsError:
                continue
            run = cls(path)
            run.data.mkdir()
            run.rendered.mkdir()
            return run
        raise FileExistsError(f"could not allocate a run directory for {base!r} in {reports_dir}")

    @classmethod
    def open(cls, path: Path) -> RunDir:
        if not (path / MANIFEST).exists():
            raise FileNotFoundError(f"{path} is not a run directory (no {MANIFEST})")
        return cls(path)

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def events(self) -> EventLog:
        # Threads (pod supervisor, HPA loop, pipeline) race to the first event: open exactly once.
        with self._events_lock:
            if self._events is None:
                self._events = EventLog(self.path / EVENTS)
            return self._events

    @property
    def stack(self) -> Any:
        """The run's `hpabench.stack.StackRecord` (stack.json: what to clean up if we die)."""
        from hpabench.stack import STACK_FILE, StackRecord

        with self._events_lock:
            if self._stack is None:
                self._stack = StackRecord(self.path / STACK_FILE)
            return self._stack

    def read_manifest(self) -> dict[str, Any]:
        path = self.path / MANIFEST
        return json.loads(path.read_text()) if path.exists() else {}

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        """Merge `fields` into manifest.json (top-level keys replaced) and write it atomically."""
        manifest = self.read_manifest()
        manifest.update(fields)
        write_json_atomic(self.path / MANIFEST, manifest)
        return manifest

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json_atomic(self.path / SUMMARY, summary)

    def close(self) -> None:
        with self._events_lock:
            if self._events is not None:
                self._events.close()
