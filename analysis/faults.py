"""Harness faults: when the run's numbers describe a broken harness, not the system under test.

A *harness fault* is a flag recorded from a `fault` event (or by the pipeline / reaper):

| flag | what broke |
|---|---|
| `lb_died` | the Service's load balancer (HAProxy) died; requests failed until it was back |
| `prometheus_died` | Prometheus died; server-side series have a gap |
| `runner_died` | the `hpabench run` process died; its stack was cleaned up by the reaper or `down` |
| `teardown_incomplete` | something of the stack was still there after teardown |
| `report_interrupted` | analysis/report was cut short (rebuild with `hpabench report`) |
| `load_invalid` | the generators did not deliver the planned load (`manifest.load_validity` has the evidence) |

`harness_faults(flags)` lists those present; a gate refuses to judge such a run (exit 1, not 3).
`fault_notes(run, expected_series)` explains them in the summary's notes, one line each, and
names every profile series that is missing or empty — so a null server KPI always has a reason.
Pure: RunData in, strings out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

HARNESS_FAULT_FLAGS = (
    "lb_died",
    "prometheus_died",
    "runner_died",
    "teardown_incomplete",
    "report_interrupted",
    "load_invalid",
)
# Series that are legitimately empty in a healthy run (nothing failed, no HPA, no queueing).
MAY_BE_EMPTY = ("server_errors_rps_by_route", "server_error_ratio", "hpa_desired_replicas", "hpa_current_replicas")


def harness_faults(flags: Iterable[str]) -> list[str]:
    """The harness-fault flags among `flags`, in the table's order."""
    present = set(flags)
    return [flag for flag in HARNESS_FAULT_FLAGS if flag in present] + sorted(
        f for f in present if f.endswith("_died") and f not in HARNESS_FAULT_FLAGS
    )


def _at(event: dict[str, Any]) -> str:
    t_s = event.get("t_s")
    return f"t={t_s:.1f} s" if isinstance(t_s, (int, float)) else "an unknown time"


def fault_notes(events: list[dict[str, Any]], prom: dict[str, Any], expected_series: Iterable[str]) -> list[str]:
    """Notes for each fault event (with how long the server was down) and each missing series."""
    notes: list[str] = []
    restarts = [e for e in events if e.get("kind") == "server_restarted"]
    for event in (e for e in events if e.get("kind") == "fault"):
        server = event.get("server")
        line = f"fault at {_at(event)}: {event.get('message', 'unknown')}"
        if server:
            later = [r for r in restarts if r.get("server") == server and r.get("ts", 0) >= event.get("ts", 0)]
            back = later[0] if later else None
            line += f"; restarted after {back['down_s']:.1f} s" if back and "down_s" in back else "; not restarted"
        if event.get("flag"):
            line += f" [{event['flag']}: numbers of this run do not describe the system]"
        notes.append(line)
    missing = [name for name in expected_series if name not in prom]
    empty = [name for name in expected_series if name in prom and len(prom[name]) == 0 and name not in MAY_BE_EMPTY]
    if missing:
        notes.append(f"profile series missing (not collected; their KPIs are null): {', '.join(missing)}")
    if empty:
        notes.append(f"profile series with no samples in the run window: {', '.join(empty)}")
    return notes
