"""Faults and interrupts on the real local stack (issue 10): how often is a teardown clean, a
status honest, the data kept — and how fast is a dead server noticed and back.

Part 1 — randomly timed interrupts: `hpabench run` on an 8-second scenario, started in its own
session like a terminal job; after a random delay (uniform over the run's typical length, so
every stage is hit) it gets Ctrl-C (SIGINT to its whole process group, as a terminal sends it),
SIGTERM (to the runner only, as `kill` does) or SIGKILL followed by `hpabench down`. Per run:
the stage the signal landed in, the exit code, the manifest status and flags, whether the stack
record lists anything still alive (processes by pid + start time, cgroups, ports, temp paths),
and whether the data measured so far was kept.

Part 2 — server deaths: HAProxy and Prometheus each SIGKILLed mid-load; time from the kill to
the `fault` event and to the `server_restarted` event (ready again).

    .venv/bin/python -m tests.benchmarks.bench_faults [--sigint 10 --sigterm 5 --sigkill 5] [--kills 3] [--seed 10]

Measured (2 shared, busy cores, 2026-12-01, 8-second scenario, runs ~25–45 s wall):

* `--kills 2 --max-delay-s 45 --seed 12` (final code): 20 interrupts (10 SIGINT to the process
  group, 5 SIGTERM, 5 SIGKILL + `hpabench down`), 9 landed before the run ended (deploy, load,
  collect), 11 after it. Clean teardowns 20/20, honest statuses 20/20 (130 + `interrupted`, or
  `interrupted` + `runner_died` after `down`; `completed` + 0 when the run had already ended),
  data kept 20/20 (nothing on disk at the signal was lost).
* An earlier pass (`--seed 10 --max-delay-s 30`, all 20 landed before the end: deploy, load,
  collect, before the run directory): 20/20 clean, 20/20 honest once a signal before the run
  directory exists is counted as "nothing started"; 3 SIGKILLs landed within the first second
  of load, before Locust's first per-second flush (≤ 1 s of in-memory stats lost by SIGKILL).
* A pass with later signals (`--seed 11 --min-delay-s 15 --max-delay-s 45`) found two real
  bugs, both fixed and covered by integration tests: a Ctrl-C while the driver stops Locust was
  swallowed (run `completed`, exit 0), and a SIGTERM during analysis/report killed the runner
  (-15) with the manifest saying `completed`.
* Server deaths (SIGKILL mid-load), kill → `fault` event / → ready again (`server_restarted`):
  HAProxy median 0.07 s / 0.46 s (max 0.64 s), Prometheus median 0.14 s / 0.67 s (max 0.88 s),
  over 2 deaths each; over 3 more each in the first pass: 0.05 s / 0.59 s and 0.05 s / 0.66 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hpabench.rundir import read_events
from hpabench.stack import leftovers, read_stack

SCENARIO = """name: tiny
description: "eight seconds of light load (fault benchmark)"
stages:
  - {name: a, duration_s: 4, users: 3}
  - {name: b, duration_s: 4, users: 6}
"""
RUN_TIMEOUT_S = 300.0
MAX_DELAY_S = 30.0  # a whole tiny run takes ~30 s here: deploy ~10, load 8, collect, teardown, report


def _command(reports: Path, scenario: Path) -> list[str]:
    return [
        sys.executable, "-m", "hpabench", "run", "--scenario", str(scenario), "--no-autoscale",
        "--scrape-interval-s", "1", "--reports-dir", str(reports),
    ]  # fmt: skip


def _stage_at(run: Path | None, ts: float) -> str:
    """The pipeline stage running at `ts` (the last stage event before it)."""
    if run is None:
        return "before-run-dir"
    current = "start"
    for event in read_events(run):
        if event.get("kind") == "stage" and event["ts"] <= ts:
            current = f"{event['stage']}.{event['state']}"
    return current


def _data_files(reports: Path) -> dict[str, int]:
    """Size of every data file of the (one) run under `reports` now: what was measured so far."""
    return {str(f): f.stat().st_size for f in reports.glob("*/data/*") if f.is_file()}


def _data_kept(run: Path, at_signal: dict[str, int]) -> bool:
    """Nothing on disk at the signal was lost (every file still there, none shorter), the plan
    exists, and the measured client rows were merged or are still in their jsonl files."""
    if not (run / "data" / "planned.parquet").exists():
        return False
    for name, size in at_signal.items():
        path = Path(name)
        merged = path.name.endswith(".jsonl") and path.with_name(path.name.split(".")[0] + ".parquet").exists()
        if not merged and (not path.exists() or path.stat().st_size < size):
            return False
    return True


def interrupt_once(work: Path, scenario: Path, kind: str, delay_s: float) -> dict[str, Any]:
    reports = work / f"{kind}-{delay_s:.1f}-{time.monotonic_ns()}"
    proc = subprocess.Popen(
        _command(reports, scenario), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
    )
    time.sleep(delay_s)
    at_signal = _data_files(reports)
    sent_at = time.time()
    finished_before = proc.poll() is not None
    if not finished_before:
        if kind == "SIGINT":
            os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole foreground group
        elif kind == "SIGTERM":
            os.kill(proc.pid, signal.SIGTERM)
        else:
            os.kill(proc.pid, signal.SIGKILL)
    try:
        code = proc.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    down_code = None
    if kind == "SIGKILL":
        down = subprocess.run(
            [sys.executable, "-m", "hpabench", "down", "--reports-dir", str(reports)],
            capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
        )  # fmt: skip
        down_code = down.returncode
    runs = [p for p in reports.iterdir() if p.is_dir() and not p.name.startswith(".")] if reports.exists() else []
    run = runs[0] if runs else None
    manifest = json.loads((run / "manifest.json").read_text()) if run else {}
    record = read_stack(run) if run else None
    left = leftovers(record) if record else []
    status = manifest.get("status")
    stage = _stage_at(run, sent_at)
    if run is None:
        # The run directory is made before anything is started: nothing to clean, claim or keep.
        return {"kind": kind, "delay_s": round(delay_s, 2), "stage": "before-run-dir", "exit_code": code,
                "down_exit_code": down_code, "status": None, "flags": None, "clean": True, "leftovers": [],
                "honest": code in (130, -signal.SIGKILL) and down_code in (None, 0), "data_kept": True}  # fmt: skip
    if finished_before:
        honest = status == "completed" and code == 0
    elif kind == "SIGKILL":
        honest = status == "interrupted" and "runner_died" in (manifest.get("flags") or []) and down_code == 0
    else:
        honest = status == "interrupted" and code == 130
    return {
        "kind": kind,
        "delay_s": round(delay_s, 2),
        "stage": "finished" if finished_before else stage,
        "exit_code": code,
        "down_exit_code": down_code,
        "status": status,
        "flags": manifest.get("flags"),
        "clean": record is not None and not left,
        "leftovers": left,
        "honest": honest,
        "data_kept": _data_kept(run, at_signal),
        "client_rows_on_disk_at_signal": any("client_stats." in n and size for n, size in at_signal.items()),
    }


def server_death_once(work: Path, scenario: Path, server: str) -> dict[str, Any]:
    reports = work / f"kill-{server}-{time.monotonic_ns()}"
    proc = subprocess.Popen(_command(reports, scenario), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        run = None
        while time.monotonic() < deadline:
            found = list(reports.glob("*/events.jsonl"))
            if found and any(e.get("stage") == "load" for e in read_events(found[0].parent)):
                run = found[0].parent
                break
            time.sleep(0.1)
        assert run is not None, "the run never reached the load stage"
        record = read_stack(run) or {"groups": {}}
        (pid,) = [p[0] for p in record["groups"]["local"]["processes"] if p[2] == server]
        killed_at = time.time()
        os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=RUN_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    events = read_events(run)
    fault = next(e for e in events if e.get("kind") == "fault" and e.get("server") == server)
    back = next(e for e in events if e.get("kind") == "server_restarted" and e.get("server") == server)
    return {
        "server": server,
        "to_fault_event_s": round(fault["ts"] - killed_at, 3),
        "to_ready_again_s": round(back["ts"] - killed_at, 3),
        "exit_code": proc.returncode,
        "flags": json.loads((run / "manifest.json").read_text()).get("flags"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigint", type=int, default=10)
    parser.add_argument("--sigterm", type=int, default=5)
    parser.add_argument("--sigkill", type=int, default=5)
    parser.add_argument("--kills", type=int, default=3, help="deaths per server in part 2")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--min-delay-s", type=float, default=0.5)
    parser.add_argument("--max-delay-s", type=float, default=MAX_DELAY_S, help="signals land in [min, max] s")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    # A background job of a non-interactive shell inherits SIGINT ignored, and so would every run
    # we start: Python then never raises KeyboardInterrupt. Runs must see Ctrl-C as a terminal sends it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rng = random.Random(args.seed)
    kinds = ["SIGINT"] * args.sigint + ["SIGTERM"] * args.sigterm + ["SIGKILL"] * args.sigkill
    rng.shuffle(kinds)
    results: dict[str, Any] = {"interrupts": [], "server_deaths": []}
    with tempfile.TemporaryDirectory(prefix="hpabench-bench-faults-") as folder:
        work = Path(folder)
        scenario = work / "tiny.yaml"
        scenario.write_text(SCENARIO)
        for kind in kinds:
            row = interrupt_once(work, scenario, kind, rng.uniform(args.min_delay_s, args.max_delay_s))
            results["interrupts"].append(row)
            print(json.dumps(row), flush=True)
        for server in ["haproxy", "prometheus"] * args.kills:
            row = server_death_once(work, scenario, server)
            results["server_deaths"].append(row)
            print(json.dumps(row), flush=True)
    rows = results["interrupts"]
    interrupted = [r for r in rows if r["stage"] != "finished"]
    summary = {
        "interrupts": len(rows),
        "landed_before_the_end": len(interrupted),
        "clean_teardowns": sum(r["clean"] for r in rows),
        "honest_statuses": sum(r["honest"] for r in rows),
        "data_kept": sum(r["data_kept"] for r in rows),
        "stages_hit": sorted({r["stage"] for r in rows}),
    }
    for server in ("haproxy", "prometheus"):
        deaths = [r for r in results["server_deaths"] if r["server"] == server]
        if deaths:
            summary[f"{server}_to_fault_event_s_median"] = statistics.median(r["to_fault_event_s"] for r in deaths)
            summary[f"{server}_to_ready_again_s_median"] = statistics.median(r["to_ready_again_s"] for r in deaths)
            summary[f"{server}_to_ready_again_s_max"] = max(r["to_ready_again_s"] for r in deaths)
    results["summary"] = summary
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    ok = summary["clean_teardowns"] == len(rows) and summary["honest_statuses"] == len(rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
