"""Run every `benchmarks/bench_*.py` module in turn, each in its own process, and print its results.

    .venv/bin/python -m tests.benchmarks            # all of them
    .venv/bin/python -m tests.benchmarks local hpa  # only bench_local and bench_hpa
    .venv/bin/python -m tests.benchmarks --list

A module's own output is printed as it comes; a summary with each module's exit code and wall
time ends the run. The exit code is 0 only if every module exited 0. Modules are discovered, so a
new `bench_<area>.py` needs no change here.
"""

from __future__ import annotations

import argparse
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

MODULE_TIMEOUT_S = 3600.0


def discover() -> list[str]:
    """Names (without the `bench_` prefix) of the benchmark modules beside this file, sorted."""
    folder = Path(__file__).resolve().parent
    return sorted(
        m.name.removeprefix("bench_") for m in pkgutil.iter_modules([str(folder)]) if m.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("areas", nargs="*", help="areas to run (default: all), e.g. local")
    parser.add_argument("--list", action="store_true", help="list the benchmark modules and exit")
    args = parser.parse_args(argv)
    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    unknown = [a for a in args.areas if a.removeprefix("bench_") not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    chosen = [a.removeprefix("bench_") for a in args.areas] or available
    results: list[tuple[str, int, float]] = []
    for area in chosen:
        print(f"\n=== tests.benchmarks.bench_{area} ===", flush=True)
        started = time.monotonic()
        try:
            code = subprocess.run(
                [sys.executable, "-m", f"tests.benchmarks.bench_{area}"], timeout=MODULE_TIMEOUT_S
            ).returncode
        except subprocess.TimeoutExpired:
            print(f"bench_{area} timed out after {MODULE_TIMEOUT_S:g}s", file=sys.stderr)
            code = 124
        results.append((area, code, time.monotonic() - started))
    print("\n=== summary ===")
    for area, code, seconds in results:
        print(f"  bench_{area:<12} {'ok' if code == 0 else f'FAILED (exit {code})':<18} {seconds:7.1f}s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
