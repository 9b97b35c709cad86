"""Benchmark: time and peak memory of the analysis on large runs (issue 5, "Measured").

    .venv/bin/python -m tests.benchmarks.bench_analysis [--runs 10] [--duration-s 3600] [--pods 20] [--json]

Generates (untimed) `--runs` synthetic run directories (tests/support/synthetic_run.py: 1 s resolution,
a spike needing up to `--pods` web pods, half of the runs a faster-syncing variant), then times
each case in a fresh child process so its peak RSS (VmHWM) is its own:

* `import`          — Python + pandas/numpy + hpabench.analysis imported, nothing done (the floor);
* `analyze`         — `analyze_run` on one run: load every frame, every KPI, write summary.json;
* `compare_raw`     — `compare_runs` on all runs without summary.json (analysis included);
* `compare`         — `compare_runs` on all runs once analysed (summaries reused);
* `render_run` / `render_compare` — the HTML reports, when `hpabench.analysis.report` exists.

Prints a table (or JSON with `--json`). Runs from the repository root (it imports `tests`).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHILD_TIMEOUT_S = 900.0


def _peak_rss_mb() -> float:
    """Peak resident memory of this process since exec. VmHWM belongs to the process image, while
    ru_maxrss of a child also counts the parent's memory copied at fork (before exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _child(case: str, paths: list[Path], out_dir: Path) -> dict[str, Any]:
    """Run one case in this (child) process; returns seconds and peak RSS."""
    import hpabench.analysis.compare as compare_mod
    import hpabench.analysis.summary as summary_mod

    started = time.perf_counter()
    extra: dict[str, Any] = {}
    if case == "analyze":
        summary = summary_mod.analyze_run(paths[0])
        extra["kpis"] = len(summary["kpis"])
    elif case in ("compare", "compare_raw"):
        comparison = compare_mod.compare_runs(paths)
        extra["groups"] = len(comparison.groups)
        extra["rows"] = len(comparison.rows)
    elif case == "render_run":
        from hpabench.analysis.report import write_run_report

        extra["bytes"] = write_run_report(paths[0]).stat().st_size
    elif case == "render_compare":
        from hpabench.analysis.report import write_compare_report

        extra["bytes"] = write_compare_report(paths, out_dir / "compare.html").stat().st_size
    elif case != "import":
        raise SystemExit(f"unknown case {case!r}")
    return {"case": case, "seconds": time.perf_counter() - started, "peak_rss_mb": _peak_rss_mb(), **extra}


def _spawn(case: str, paths: list[Path], out_dir: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "tests.benchmarks.bench_analysis", "--child", case, "--out", str(out_dir)]
    command += [str(p) for p in paths]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _report_available() -> bool:
    try:
        import hpabench.analysis.report as report
    except ImportError:
        return False
    return hasattr(report, "write_run_report") and hasattr(report, "write_compare_report")


def _generate(root: Path, runs: int, duration_s: float, pods: int) -> list[Path]:
    from tests.support.synthetic_run import make_synthetic_run

    paths = []
    for index in range(runs):
        fast = index % 2 == 1
        paths.append(
            make_synthetic_run(
                root / f"run{index:02d}",
                duration_s=duration_s,
                pods_max=pods,
                seed=index,
                variant="fast-sync" if fast else "baseline",
                sync_period_s=5.0 if fast else 15.0,
                run_id=f"bench-{index:02d}",
            )
        )
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--duration-s", type=float, default=3600.0)
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(_child(args.child, args.paths, args.out)))
        return 0

    root = args.keep or Path(tempfile.mkdtemp(prefix="hpabench-bench-analysis-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        paths = _generate(root, args.runs, args.duration_s, args.pods)
        generated_s = time.perf_counter() - started
        size_mb = sum(f.stat().st_size for p in paths for f in p.rglob("*") if f.is_file()) / 2**20
        results = [_spawn("import", [], root)]
        results.append(_spawn("compare_raw", paths, root))
        for path in paths:  # summaries for the "analysed runs" case (not timed)
            (path / "summary.json").unlink(missing_ok=True)
        results.append(_spawn("analyze", [paths[0]], root))
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys\nfrom hpabench.analysis.summary import analyze_run\nfor p in sys.argv[1:]: analyze_run(p)",
                *map(str, paths[1:]),
            ],
            check=True,
            timeout=CHILD_TIMEOUT_S,
        )
        results.append(_spawn("compare", paths, root))
        if _report_available():
            results.append(_spawn("render_run", [paths[0]], root))
            results.append(_spawn("render_compare", paths, root))
        report = {
            "runs": args.runs,
            "duration_s": args.duration_s,
            "pods_max": args.pods,
            "data_mb": round(size_mb, 1),
            "generate_s": round(generated_s, 1),
            "results": results,
        }
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(
                f"{args.runs} synthetic runs of {args.duration_s:g} s at 1 s resolution, up to {args.pods} pods "
                f"({size_mb:.1f} MiB on disk, generated in {generated_s:.0f} s)"
            )
            print(f"{'case':16s} {'seconds':>8s} {'peak RSS MiB':>13s}  extra")
            for r in results:
                extra = {k: v for k, v in r.items() if k not in ("case", "seconds", "peak_rss_mb")}
                print(f"{r['case']:16s} {r['seconds']:8.2f} {r['peak_rss_mb']:13.0f}  {extra or ''}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
