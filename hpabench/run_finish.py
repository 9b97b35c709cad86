"""The end of a run: verified teardown, the honest status and exit code, analysis and report.

* `teardown(run, deployed, console)` → `TeardownOutcome` (flags, signals deferred while tearing
  down); signal-proof and verified (hpabench/teardown.py).
* `exit_code(status, reported, flags)` maps the final status to the CLI's exit code.
* `analyze_and_report(run, reporter, console)` → True / False (failed, said on the console) /
  None (interrupted: the manifest then says so, flag `report_interrupted`).
* `finish_report(run_path)` is the default reporter, also `hpabench report <run>` offline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hpabench.console import Console
from hpabench.errors import (
    EXIT_LOAD_INVALID,
    EXIT_OK,
    EXIT_TOOL_ERROR,
    FLAG_LOAD_INVALID,
    HpabenchError,
    RunInterrupted,
)
from hpabench.rundir import STATUS_COMPLETED, STATUS_INTERRUPTED, RunDir
from hpabench.signals import fault_point
from hpabench.target import Deployed
from hpabench.teardown import FLAG_TEARDOWN_INCOMPLETE, mark_report_interrupted, verified_teardown

Reporter = Callable[[Path, Console | None], Path]


@dataclass
class TeardownOutcome:
    flags: list[str] = field(default_factory=list)
    deferred_signals: list[str] = field(default_factory=list)  # SIGINT/SIGTERM that arrived meanwhile


def teardown(run: RunDir, deployed: Deployed | None, console: Console) -> TeardownOutcome:
    """Signal-proof, verified teardown (hpabench/teardown.py); its outcome goes on the run."""
    outcome = TeardownOutcome()
    if deployed is None and not run.stack.snapshot()["groups"]:
        return outcome  # nothing was started (a start that failed has stopped itself; verified otherwise)
    console.stage("teardown")
    result = verified_teardown(deployed.stop if deployed is not None else None, run)
    if not result.complete:
        outcome.flags.append(FLAG_TEARDOWN_INCOMPLETE)
        console.warn("teardown incomplete: " + "; ".join(result.leftovers or [result.error or ""]))
    if result.deferred_signals:
        outcome.deferred_signals += result.deferred_signals
        names = ", ".join(result.deferred_signals)
        console.warn(f"{names} during teardown: finished tearing down first")
    return outcome


def exit_code(status: str, reported: bool | None, flags: list[str]) -> int:
    """0 completed and reported, 130 interrupted, 4 load invalid, else 1 (docs/contracts.md)."""
    code = {STATUS_COMPLETED: EXIT_OK, STATUS_INTERRUPTED: RunInterrupted.exit_code}.get(status, EXIT_TOOL_ERROR)
    if code == EXIT_OK and not reported:
        # A completed run without its report is not what the user asked for (CI gates on this).
        code = EXIT_TOOL_ERROR
    if code == EXIT_OK and FLAG_LOAD_INVALID in flags:
        code = EXIT_LOAD_INVALID  # the load that ran is not the load planned: never a silent result
    return code


def warn_harness_faults(flags: list[str], console: Console) -> None:
    from hpabench.analysis.faults import harness_faults

    broken = harness_faults(flags)
    if broken:
        console.warn(
            f"the harness broke during this run ({', '.join(broken)}): see the fault events; a gate will not judge it"
        )


def analyze_and_report(run: RunDir, reporter: Reporter, console: Console) -> bool | None:
    """Analyze and report: True when written, False when that failed (with a console line),
    None if interrupted (then the manifest — and a summary already written — say
    `interrupted` with the flag `report_interrupted`, so nothing claims a finished run whose
    report is missing)."""
    try:
        report_path = reporter(run.path, console)
        console.info(f"report: {report_path}")
        return True
    except (HpabenchError, OSError, ValueError, KeyError) as exc:
        console.warn(f"analysis/report failed ({exc}); re-run `hpabench report {run.path}`")
        return False
    except KeyboardInterrupt:
        mark_report_interrupted(run)
        console.warn(f"interrupted during analysis/report; rebuild it with `hpabench report {run.path}`")
        return None


def finish_report(run_path: Path, console: Console | None = None, plotlyjs: str = "embed") -> Path:
    """Analyze a run directory (summary.json) and render report.html; works offline on any run.
    `plotlyjs`: "embed" plotly.js in the page, or "shared": one copy in the run's parent folder."""
    from hpabench.analysis.report import write_run_report
    from hpabench.analysis.runcheck import check_run_dir
    from hpabench.analysis.summary import analyze_run

    check = check_run_dir(run_path)  # refuse before writing anything into a directory that is not a run
    for warning in check.warnings():
        (console or Console()).warn(warning)
    if console:
        console.stage("analyze")
    fault_point("analyze.started")
    analyze_run(run_path)
    if console:
        console.stage("report")
    fault_point("report.started")
    return write_run_report(run_path, plotlyjs=plotlyjs)
