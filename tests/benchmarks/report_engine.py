"""Benchmark of the reports: time, peak memory and file size to analyze and render

* one 1-hour run at 1 s resolution with 20 pods (load → summary → report.html), and
* a comparison of N such runs (compare → comparison.html),

each case in a fresh child process so peak RSS belongs to that case alone. The runs are the
synthetic ones of `tests/support/synthetic_run.py` (run from the repository root).

    .venv/bin/python -m tests.benchmarks.report_engine [--runs 10] [--duration-s 3600] [--pods 20]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _make_runs(root: Path, count: int, duration_s: float, pods: int) -> list[Path]:
    sys.path.insert(0, str(Path.cwd()))
    from tests.support.synthetic_run import make_synthetic_run

    variants = ("baseline", "fast-scale")
    return [
        make_synthetic_run(
            root / f"run-{i}",
            duration_s=duration_s,
            pods_max=pods,
            seed=i,
            variant=variants[i % 2],
            run_id=f"bench-{i}",
        )
        for i in range(count)
    ]


def _case_run(path: Path) -> dict[str, Any]:
    from hpabench.analysis.report.run_page import render_run_report
    from hpabench.analysis.rundata import load_run

    t0 = time.perf_counter()
    run = load_run(path)
    t1 = time.perf_counter()
    summary_file = path / "summary.json"
    if summary_file.exists():
        summary = json.loads(summary_file.read_text())
    else:
        from hpabench.analysis.summary import build_summary

        summary = build_summary(run)
    t2 = time.perf_counter()
    html = render_run_report(run, summary)
    t3 = time.perf_counter()
    (path / "report.html").write_text(html, encoding="utf-8")
    return {"load_s": t1 - t0, "summary_s": t2 - t1, "render_s": t3 - t2, "bytes": len(html.encode())}


def _case_compare(paths: list[Path], out: Path) -> dict[str, Any]:
    from hpabench.analysis.compare import compare_runs
    from hpabench.analysis.report.compare_page import render_compare_report

    t0 = time.perf_counter()
    comparison = compare_runs(paths)
    t1 = time.perf_counter()
    html = render_compare_report(comparison)
    t2 = time.perf_counter()
    out.write_text(html, encoding="utf-8")
    return {"compare_s": t1 - t0, "render_s": t2 - t1, "bytes": len(html.encode())}


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: after fork+exec, ru_maxrss
    still counts the parent's memory at fork time."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(argv: list[str]) -> None:
    kind, *paths = argv
    started = time.perf_counter()
    run_paths = [Path(p) for p in paths]
    result = _case_run(run_paths[0]) if kind == "run" else _case_compare(run_paths[1:], run_paths[0])
    result["total_s"] = time.perf_counter() - started
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


def _spawn(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.report_engine", "--child", *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--duration-s", type=float, default=3600.0)
    parser.add_argument("--pods", type=int, default=20)
    opts = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hpabench-report-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        paths = _make_runs(root, opts.runs, opts.duration_s, opts.pods)
        took_s = time.perf_counter() - t0
        print(f"generated {len(paths)} synthetic runs ({opts.duration_s:g} s, {opts.pods} pods) in {took_s:.1f} s")
        one = _spawn(["run", str(paths[0])])
        print(f"one run   → report.html: {json.dumps(one)}")
        many = _spawn(["compare", str(root / "comparison.html"), *map(str, paths)])
        print(f"{len(paths)} runs → comparison.html: {json.dumps(many)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
