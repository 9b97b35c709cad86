"""Benchmark: how long `hpabench run --dry-run` takes to validate a scenario + variant + locustfile
(issue 9, "Measured"), and what the malformed-input corpus costs.

    .venv/bin/python -m tests.benchmarks.bench_inputs [--repeats 5] [--json]

Cases, each timed as the wall time of a fresh `python -m hpabench run ... --dry-run` process (what
a user waits for: interpreter start and imports included) and, in-process after one warm-up call,
stage by stage:

* `scenario`    — `load_scenario` (guards, strict YAML, model, plan bounds);
* `variant`     — `load_variant` + `render` (knobs, patches);
* `rendered`    — Kubernetes schema + API-server rules + semantics + the app's config parser;
* `promql`      — every query of the metric profile parsed;
* `locustfile`  — the child process importing and inspecting the locustfile (Locust imported);
* `admit`       — the local target's own admission checks (HPA validation, binaries).

Then the corpus (`tests/badinput_corpus.py`): its size per kind and the in-process time per case
for the cheap kinds (everything but locustfiles, whose cost is the `locustfile` row above).
Prints a table (or JSON with `--json`). Runs from the repository root (it imports `tests`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = "spike"
VARIANT = ROOT / "deploy" / "variants" / "fast-scale-up.yaml"
LOCUSTFILE = """from locust import HttpUser, LoadTestShape, between, task


class Shopper(HttpUser):
    wait_time = between(0.5, 1.5)

    @task
    def browse(self) -> None:
        self.client.get("/items/1")


class Shape(LoadTestShape):
    def tick(self):
        return (10, 5) if self.get_run_time() < 60 else None
"""


def _median_s(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def stages(locustfile: Path, repeats: int) -> dict[str, float]:
    from hpabench import preflight
    from hpabench.deploy.local.target import LocalTarget
    from hpabench.deploy.render import render
    from hpabench.deploy.variant import load_variant
    from hpabench.pipeline import rate_window_variables
    from hpabench.scenarios.catalogue import load_scenario
    from hpabench.scenarios.drive.locustcheck import locustfile_issues
    from hpabench.target import TargetOptions

    variant = load_variant(VARIANT)
    objects = render(variant)
    target = LocalTarget(TargetOptions(scrape_interval_s=5.0, autoscale=True, hpa_settings=variant.controller))
    checks: dict[str, Callable[[], Any]] = {
        "scenario": lambda: load_scenario(SCENARIO),
        "variant": lambda: render(load_variant(VARIANT)),
        "rendered": lambda: preflight.rendered_issues(objects, str(VARIANT)),
        "promql": lambda: preflight.profile_issues(rate_window_variables(5.0)),
        "locustfile": lambda: locustfile_issues(locustfile),
        "admit": lambda: target.admit(objects),
    }
    for check in checks.values():  # warm caches (schemas, imports) once, as one run would
        check()
    return {name: _median_s(check, repeats) for name, check in checks.items()}


def cli_wall_s(locustfile: Path, reports: Path, repeats: int) -> float:
    argv = [sys.executable, "-m", "hpabench", "run", "--scenario", SCENARIO, "--variant", str(VARIANT)]
    argv += ["--locustfile", str(locustfile), "--reports-dir", str(reports), "--dry-run"]

    def once() -> None:
        completed = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=False)
        if completed.returncode != 0:
            raise SystemExit(f"dry run failed ({completed.returncode}): {completed.stderr}")

    once()
    return _median_s(once, repeats)


def corpus() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from hpabench.analysis.baseline import make_baseline, write_baseline
    from hpabench.cli import main
    from tests.badinput_corpus import Workspace, all_cases
    from tests.support.synthetic_run import make_synthetic_run

    cases = all_cases()
    kinds = Counter(case.id.split("-")[0] for case in cases)
    refused = 0
    timed = [case for case in cases if not case.id.startswith("locustfile")]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        run = make_synthetic_run(root / "good", duration_s=60, run_id="good")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            main(["report", str(run)])
        baseline = write_baseline(make_baseline([run]), root / "baseline.json")
        started = time.perf_counter()
        for index, case in enumerate(timed):
            case_dir = root / f"case{index}"
            case_dir.mkdir()
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                try:
                    code = main(case.build(Workspace(case_dir, run, baseline, case_dir / "reports")))
                except SystemExit as exc:
                    code = int(exc.code or 0)
            text = out.getvalue()
            ok = code in case.codes and "Traceback" not in text and all(m in text for m in case.mentions)
            refused += ok
        elapsed = time.perf_counter() - started
    return {
        "cases": len(cases),
        "by_kind": dict(sorted(kinds.items())),
        "timed_cases": len(timed),
        "timed_refused_as_promised": refused,
        "per_case_ms": 1000 * elapsed / len(timed),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        locustfile = Path(folder) / "locustfile.py"
        locustfile.write_text(LOCUSTFILE)
        results: dict[str, Any] = {
            "cli_dry_run_wall_s": cli_wall_s(locustfile, Path(folder) / "reports", args.repeats),
            "stages_s": stages(locustfile, args.repeats),
        }
        if any((Path(folder) / "reports").iterdir() if (Path(folder) / "reports").exists() else []):
            raise SystemExit("a dry run created a run directory")
    results["corpus"] = corpus()
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"run --dry-run (scenario {SCENARIO} + {VARIANT.name} + a locustfile), fresh process, median of {args.repeats}:"
    )
    print(f"  wall time {results['cli_dry_run_wall_s']:.2f} s")
    print("in-process, per check (median, warm):")
    for name, seconds in results["stages_s"].items():
        print(f"  {name:<11} {1000 * seconds:8.1f} ms")
    c = results["corpus"]
    print(f"corpus: {c['cases']} malformed inputs ({', '.join(f'{k} {v}' for k, v in c['by_kind'].items())})")
    print(
        f"  {c['timed_refused_as_promised']}/{c['timed_cases']} non-locustfile cases refused as promised, "
        f"{c['per_case_ms']:.0f} ms per case in-process"
    )
    return 0 if c["timed_refused_as_promised"] == c["timed_cases"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
