"""Scenario events during the load phase: admission before the run, and the runner during it.

Two small interfaces a target implements to support events (both optional: a target without
them refuses every event before the run starts):

* `Target.admit_events(events, objects) -> list[SpecIssue]` — which events this target cannot
  perform on these objects (e.g. `add-latency` on the k8s target). Called by the
  pipeline's `resolve_inputs`, before the run directory exists (exit 2).
* `Deployed.perform_event(event, emit) -> dict` — perform one event now and return its result
  (JSON-able; e.g. a rollout's duration and the pod counts it went through). It blocks until
  the event's action is over (a rollout complete, a killed pod replaced) or raises
  `TargetError`; `emit(kind, **fields)` records extra events (`fault`, `rollout_finished`).

`EventRunner` fires the scheduled events (`hpabench.scenarios.events.scheduled`) at their load
offsets, one at a time in a thread of its own, and records in events.jsonl:
`scenario_event {name, event, state: started|finished|failed|skipped, planned_t_s, delay_s,
params, result | error}`. An event that is due while the previous one still runs waits for it
(`delay_s` says how long). `stop()` skips what has not started and waits for a running event.
The load clock is the driver's `t0` (data/locust_clock.json) once it exists.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from hpabench.errors import HpabenchError, SpecIssue
from hpabench.rundir import EventLog
from hpabench.scenarios.events import BaseEvent, ScheduledEvent

EVENT_KIND = "scenario_event"
CLOCK_WAIT_S = 60.0

Emit = Callable[..., Any]


@runtime_checkable
class EventAdmitting(Protocol):
    def admit_events(self, events: list[BaseEvent], objects: list[dict[str, Any]]) -> list[SpecIssue]: ...


@runtime_checkable
class EventPerforming(Protocol):
    def perform_event(self, event: BaseEvent, emit: Emit) -> dict[str, Any]: ...


def admit_events(target: Any, events: list[BaseEvent], objects: list[dict[str, Any]], file: str) -> list[SpecIssue]:
    """The target's refusals of `events`, or one refusal per event for a target without events."""
    if not events:
        return []
    if isinstance(target, EventAdmitting):
        return target.admit_events(events, objects)
    name = getattr(target, "name", "this")
    return [
        SpecIssue(file, f"events.{i}", f"the {name} target cannot perform scenario events ({e.kind_name})")
        for i, e in enumerate(events)
    ]


def load_clock_t0(data_dir: Path) -> float | None:
    """The driver's load start (`t0` in data/locust_clock.json), None until it is written."""
    from hpabench.scenarios.drive.locust_runtime import read_clock

    t0 = read_clock(data_dir).get("t0")
    return float(t0) if isinstance(t0, (int, float)) and not isinstance(t0, bool) else None


class EventRunner:
    """See the module docstring. `clock()` returns the load start (unix s) or None if unknown yet."""

    def __init__(
        self,
        scheduled: list[ScheduledEvent],
        deployed: Any,
        events: EventLog,
        clock: Callable[[], float | None],
        fallback_t0: float,
    ) -> None:
        self.scheduled = scheduled
        self.deployed = deployed
        self.events = events
        self.clock = clock
        self.fallback_t0 = fallback_t0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.results: list[dict[str, Any]] = []

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scenario-events", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 600.0) -> None:
        """Skip events not yet started and wait (up to `timeout_s`) for a running one."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _t0(self) -> float:
        deadline = time.monotonic() + CLOCK_WAIT_S
        while not self._stop.is_set() and time.monotonic() < deadline:
            t0 = self.clock()
            if t0 is not None:
                return t0
            self._stop.wait(0.05)
        return self.fallback_t0

    def _record(self, item: ScheduledEvent, state: str, **fields: Any) -> None:
        row = self.events.emit(
            EVENT_KIND,
            name=item.name,
            event=item.kind,
            state=state,
            planned_t_s=round(item.t_s, 3),
            params=item.event.params(),
            **fields,
        )
        self.results.append(row)

    def _run(self) -> None:
        t0 = self._t0()
        for item in self.scheduled:
            wait_s = t0 + item.t_s - time.time()
            if wait_s > 0 and self._stop.wait(wait_s):
                break
            if self._stop.is_set():
                break
            started = time.time()
            self._record(item, "started", delay_s=round(max(0.0, started - t0 - item.t_s), 3))
            try:
                result = self.deployed.perform_event(item.event, self.events.emit)
            except (HpabenchError, OSError, ValueError, KeyError) as exc:
                self._record(item, "failed", error=str(exc), duration_s=round(time.time() - started, 3))
                continue
            self._record(item, "finished", result=result, duration_s=round(time.time() - started, 3))
        for item in self.scheduled:
            if not any(r.get("name") == item.name for r in self.results):
                self._record(item, "skipped", reason="the load phase ended first")
