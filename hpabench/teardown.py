"""A signal-proof, verified teardown, and the run's honest record of how it ended.

`verified_teardown(stop, run)` runs `stop()` (the target's `Deployed.stop`) with SIGINT/SIGTERM
deferred (hpabench/signals.py), so no wait inside it is cut short and no later step is skipped;
then it checks the run's stack record (hpabench/stack.py): anything still alive is stopped by
record, and whatever survives even that is reported. It emits the `teardown` stage events —
`finished` carries `complete`, `leftovers` and `deferred_signals` — and returns a
`TeardownResult`; the pipeline flags `teardown_incomplete` and turns deferred signals into an
`interrupted` run (exit 130) once the stack is down.

`fault_flags(run_path)` — the flags of the run's `fault` events (a dead load balancer,
Prometheus, runner). `mark_report_interrupted(run)` — analysis/report was cut short: manifest and
summary (if written) say `interrupted` with the flag `report_interrupted`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hpabench.errors import HpabenchError
from hpabench.rundir import STATUS_INTERRUPTED, SUMMARY, RunDir, read_events, write_json_atomic
from hpabench.signals import deferred_signals, fault_point
from hpabench.stack import clean, leftovers

FLAG_TEARDOWN_INCOMPLETE = "teardown_incomplete"
FLAG_REPORT_INTERRUPTED = "report_interrupted"


@dataclass(frozen=True)
class TeardownResult:
    leftovers: list[str] = field(default_factory=list)
    error: str | None = None
    deferred_signals: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.leftovers and self.error is None


def verified_teardown(stop: Callable[[], None] | None, run: RunDir) -> TeardownResult:
    """Stop, verify by record, record (see the module docstring). `stop` None: only verify."""
    with deferred_signals() as deferred:
        run.events.emit("stage", stage="teardown", state="started")
        fault_point("teardown.started")
        before = run.stack.snapshot()
        error = None
        try:
            if stop is not None:
                stop()
        except (HpabenchError, OSError) as exc:
            error = str(exc)
            run.events.emit("warning", message=f"target stop failed: {exc}")
        finally:
            left = sorted(set(leftovers(before) + leftovers(run.stack.snapshot())))
            if left:
                run.events.emit("warning", message="teardown left things behind; stopping them by record")
                left = sorted(set(clean(before) + clean(run.stack.snapshot())))
            result = TeardownResult(left, error, deferred.names())
            run.events.emit(
                "stage",
                stage="teardown",
                state="finished",
                complete=result.complete,
                leftovers=left,
                deferred_signals=result.deferred_signals,
            )
    fault_point("teardown.finished")
    return result


def fault_flags(run_path: Path) -> list[str]:
    """The flags of the run's `fault` events (a dead load balancer, Prometheus, runner...)."""
    return sorted({str(e["flag"]) for e in read_events(run_path) if e.get("kind") == "fault" and e.get("flag")})


def mark_report_interrupted(run: RunDir) -> None:
    """Analysis or report was cut short: manifest and summary (if written) say so."""
    with deferred_signals():
        manifest = run.read_manifest()
        flags = sorted(set(manifest.get("flags") or []) | {FLAG_REPORT_INTERRUPTED})
        run.update_manifest(status=STATUS_INTERRUPTED, flags=flags)
        run.events.emit("stage", stage="report", state="failed", interrupted=True)
        summary_path = run.path / SUMMARY
        if summary_path.exists():
            summary = json.loads(summary_path.read_text())
            summary.update(status=STATUS_INTERRUPTED, flags=sorted(set(summary.get("flags") or []) | set(flags)))
            write_json_atomic(summary_path, summary)
