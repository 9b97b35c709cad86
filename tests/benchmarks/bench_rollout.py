"""Benchmark: a rolling upgrade under steady load, maxSurge 1 / maxUnavailable 0 vs 0 / 1 (issue 15).

    .venv/bin/python -m tests.benchmarks.bench_rollout [--runs 3] [--users 20] [--replicas 3] [--json]

Each run is the whole pipeline on the local target: a steady closed-model load (`--users`, think
time U(0.25, 0.75) s) on a fixed-size web tier (`--replicas`, HPA off so the strategy alone is
measured), a `rollout` event (new image tag) `--at-s` seconds in, `--load-s` seconds of load.
From each run's summary.json: failed requests during the rollout, client p99 during it and the
rollout's duration. Per strategy: mean and a Student-t 95 % interval of the mean over the runs;
between strategies: the difference of means with a seeded bootstrap interval
(`hpabench.analysis.stats.bootstrap_difference`). Runs alternate between the strategies so slow
phases of a shared machine hit both. Report directories go to a temporary folder (removed).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from hpabench.analysis.stats import bootstrap_difference
from hpabench.console import Console
from hpabench.pipeline import RunOptions, run_benchmark

STRATEGIES = {"surge-1-unavailable-0": (1, 0), "surge-0-unavailable-1": (0, 1)}
# Two-sided 95 % Student-t quantiles by degrees of freedom (n - 1).
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
METRICS = (
    ("rollout_failed_requests", "failed requests during the rollout", "requests"),
    ("rollout_p99_ms", "client p99 during the rollout", "ms"),
    ("rollout_duration_s", "rollout duration", "s"),
    ("before_p99_ms", "client p99 before the rollout (reference)", "ms"),
)


def scenario(users: int, load_s: float, at_s: float) -> dict[str, Any]:
    return {
        "name": "steady-rollout",
        "description": "Steady load with a rolling upgrade",
        "warmup": {"duration_s": 5, "users": users},
        "stages": [{"name": "steady", "duration_s": load_s, "users": users}],
        "events": [{"at_s": at_s, "kind": "rollout", "image_tag": "0.1.1", "name": "upgrade", "timeout_s": 180}],
    }


def variant(name: str, surge: int, unavailable: int, replicas: int) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"maxSurge {surge}, maxUnavailable {unavailable}, {replicas} fixed replicas",
        "web": {"replicas": replicas, "rollout": {"max_surge": surge, "max_unavailable": unavailable}},
        "hpa": {"enabled": False},
    }


def mean_ci(values: list[float]) -> tuple[float | None, float | None, float | None]:
    """Mean and its Student-t 95 % interval (None bounds with fewer than 2 values)."""
    if not values:
        return None, None, None
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None, None
    half = T95.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def one_run(folder: Path, reports: Path, name: str, args: argparse.Namespace) -> dict[str, Any]:
    surge, unavailable = STRATEGIES[name]
    variant_file = folder / f"{name}.yaml"
    variant_file.write_text(yaml.safe_dump(variant(name, surge, unavailable, args.replicas)))
    outcome = run_benchmark(
        RunOptions(
            scenario=str(folder / "steady-rollout.yaml"),
            variant=variant_file,
            reports_dir=reports,
            scrape_interval_s=2.0,
        ),
        Console(quiet=True),
    )
    summary = json.loads((outcome.run_path / "summary.json").read_text())
    entry = next((e for e in summary.get("events") or [] if e.get("kind") == "rollout"), None)
    row: dict[str, Any] = {"strategy": name, "status": outcome.status, "event_state": entry and entry["state"]}
    rollout = (entry or {}).get("rollout") or {}
    for metric, _, _ in METRICS:
        row[metric] = (rollout.get(metric) or {}).get("value")
    phases = {p["name"]: p["kpis"] for p in (entry or {}).get("phases") or []}
    # The same client percentile just before the rollout: what the rollout added to it.
    row["before_p99_ms"] = ((phases.get("before") or {}).get("p99_ms") or {}).get("value")
    row["codes"] = (entry or {}).get("fail_codes")
    row["min_ready"] = (rollout.get("rollout_min_ready") or {}).get("value")
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.bench_rollout", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--load-s", type=float, default=50.0)
    parser.add_argument("--at-s", type=float, default=10.0)
    parser.add_argument("--json", action="store_true", help="print the raw rows as JSON too")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="hpabench-bench-rollout-") as tmp:
        folder = Path(tmp)
        (folder / "steady-rollout.yaml").write_text(yaml.safe_dump(scenario(args.users, args.load_s, args.at_s)))
        for index in range(args.runs):
            for name in STRATEGIES:
                row = one_run(folder, folder / "reports", name, args)
                rows.append(row)
                print(f"run {index + 1}/{args.runs} {name}: {json.dumps(row)}", flush=True)
    ok = [r for r in rows if r["status"] == "completed" and r["event_state"] == "finished"]
    print(f"\n{len(ok)}/{len(rows)} runs completed with a finished rollout "
          f"({args.users} users, {args.replicas} replicas, HPA off; shared machine)")  # fmt: skip
    names = list(STRATEGIES)
    for metric, label, unit in METRICS:
        print(f"\n{label} ({unit}):")
        groups = {n: [float(r[metric]) for r in ok if r["strategy"] == n and r[metric] is not None] for n in names}
        for name in names:
            mean, low, high = mean_ci(groups[name])
            values = ", ".join(f"{v:g}" for v in groups[name])
            ci = f"[{low:.1f}, {high:.1f}]" if low is not None and high is not None else "[n/a]"
            print(f"  {name:<24} mean {mean if mean is None else round(mean, 1)}  95% CI {ci}  runs: {values}")
        diff = bootstrap_difference(groups[names[1]], groups[names[0]])
        if diff.estimate is not None and diff.low is not None and diff.high is not None:
            print(
                f"  {names[1]} − {names[0]}: {diff.estimate:.1f} (bootstrap 95% CI [{diff.low:.1f}, {diff.high:.1f}]"
                f"{', significant' if diff.significant else ''})"
            )
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0 if len(ok) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
