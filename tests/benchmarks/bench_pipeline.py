"""A real compressed spike through the whole pipeline on the local target, default HPA behaviour.

Measures (issue 3) the wall time of the run and the share spent outside the load phase, stage by
stage, from the run's own events; and (issue 4) the autoscaler's reaction to the spike: load step →
first scale-up decision → new pods ready, next to the Kubernetes HPA reaction budget
(metrics delay + one sync period + actuation).

    .venv/bin/python -m tests.benchmarks.bench_pipeline [--time-scale 0.5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from hpabench.console import Console
from hpabench.pipeline import RunOptions, run_benchmark
from hpabench.rundir import read_events


def stage_durations_s(run_path: Path) -> dict[str, float]:
    started: dict[str, float] = {}
    durations: dict[str, float] = {}
    for event in read_events(run_path):
        if event["kind"] != "stage":
            continue
        if event["state"] == "started":
            started[event["stage"]] = event["ts"]
        elif event["stage"] in started:
            durations[event["stage"]] = event["ts"] - started[event["stage"]]
    return durations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=0.5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hpabench-bench-") as tmp:
        began = time.monotonic()
        outcome = run_benchmark(
            RunOptions(scenario="spike", time_scale=args.time_scale, reports_dir=Path(tmp)), Console(quiet=True)
        )
        wall_s = time.monotonic() - began
        run = outcome.run_path
        manifest = json.loads((run / "manifest.json").read_text())
        summary = json.loads((run / "summary.json").read_text())
        stages = stage_durations_s(run)
    load_s = manifest["load_ended_at"] - manifest["load_started_at"]
    print(f"compressed spike (time scale {args.time_scale:g}): status {outcome.status}")
    print(f"  wall time {wall_s:.1f} s, load phase {load_s:.1f} s, outside load {100 * (1 - load_s / wall_s):.0f}%")
    for stage, seconds in stages.items():
        print(f"    {stage:<10} {seconds:6.1f} s")
    kpis = summary["kpis"]
    settings = manifest["hpa_settings"]

    def value(name: str) -> str:
        number = kpis.get(name, {}).get("value")
        return "n/a" if number is None else f"{number:.1f} s"

    budget_s = settings["metrics_window_s"] + settings["sync_period_s"]
    print("autoscaling reaction (default behaviour):")
    print(f"  load step → first scale-up decision: {value('scale_up_reaction_s')}")
    print(f"  load step → new pods ready:          {value('scale_up_ready_s')}")
    print(f"  mean pod start → ready:              {value('pod_ready_mean_s')}")
    print(
        f"  Kubernetes budget for the decision: metrics window {settings['metrics_window_s']:g} s"
        f" + sync period {settings['sync_period_s']:g} s = up to {budget_s:g} s, plus pod start to ready"
    )
    return 0 if outcome.status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
