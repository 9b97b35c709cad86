"""Benchmark: size of the HTML reports and the time until headless Chromium has drawn their charts.

    .venv/bin/python -m tests.benchmarks.bench_report_browser [--repeat 3] [--json] [--cases spike,hour,compare10]
        [--baseline-ref b9c72bd]

Cases (synthetic runs of tests/support/synthetic_run.py, written through the public report API):

* `spike`     — a compressed spike run: 5 minutes at 1 s, up to 4 pods;
* `hour`      — a 1-hour run at 1 s resolution with up to 20 pods;
* `compare10` — a comparison of 10 such 1-hour runs (two variants, five repeats each).

Each page is loaded `--repeat` times in a fresh headless Chromium with a probe injected; the
probe reads `performance.now()` (milliseconds since navigation start, real time) at the `load`
event and once the page says its charts are drawn (`window.hpabenchChartsDrawn`, a promise the
report's boot script sets; a page without it — the former inline-SVG report — is drawn when it
has loaded and laid out). On plotly pages it also times one zoom (`Plotly.relayout` of the
first x axis to its middle tenth): how long the page takes to redraw every linked panel.
Medians are printed, with a `plotlyjs` row: a page holding only the bundled plotly.js (the
floor any plotly page pays to parse and run the library).

`--baseline-ref REF` also renders the same runs with the report code of git commit REF (e.g.
b9c72bd, the last inline-SVG reports) and measures both versions interleaved, so a busy shared
machine slows both alike; the table then gives the ratios. The old code is imported from a
`git archive` of REF laid out like the installed package and put first on PYTHONPATH.

Runs from the repository root (it imports `tests`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROBE = r"""<script>
(function(){'use strict';
var errors=[];
window.addEventListener('error',function(e){errors.push(String(e.message||e.type));},true);
function finish(out){var pre=document.createElement('pre');pre.id='hpabench-probe-result';
 pre.textContent=JSON.stringify(out);document.body.appendChild(pre);}
window.addEventListener('load',function(){
 var loadMs=performance.now();
 Promise.resolve(window.hpabenchChartsDrawn).then(function(){
  void document.body.offsetHeight;  // force layout: "drawn" includes laying the page out
  var out={load_ms:loadMs,drawn_ms:performance.now(),errors:errors,
   plots:document.querySelectorAll('.js-plotly-plot').length,svg_panels:document.querySelectorAll('svg.tl-panel').length};
  var gd=document.querySelector('.js-plotly-plot');
  if(!gd||!window.Plotly){finish(out);return;}
  var ax=gd._fullLayout.xaxis,lo=ax.r2l(ax.range[0]),hi=ax.r2l(ax.range[1]),w=hi-lo;
  var t0=performance.now();
  Plotly.relayout(gd,{'xaxis.range':[ax.l2r(lo+0.45*w),ax.l2r(lo+0.55*w)]}).then(function(){
   out.zoom_ms=performance.now()-t0;finish(out);});
 },function(e){errors.push('charts: '+e);finish({errors:errors});});
});
})();
</script>"""


CASES = ("spike", "hour", "compare10")
CHILD_TIMEOUT_S = 1800.0


def _make_runs(root: Path, cases: list[str]) -> dict[str, list[Path]]:
    """The synthetic run directories each case renders (generated once, for every version)."""
    sys.path.insert(0, str(Path.cwd()))
    from tests.support.synthetic_run import make_synthetic_run

    runs: dict[str, list[Path]] = {}
    if "spike" in cases:
        runs["spike"] = [make_synthetic_run(root / "spike", duration_s=300, pods_max=4, seed=1, run_id="spike")]
    if "hour" in cases or "compare10" in cases:
        count = 10 if "compare10" in cases else 1
        variants = ("baseline", "fast-scale")
        hour = [
            make_synthetic_run(
                root / f"hour-{i}",
                duration_s=3600,
                pods_max=20,
                seed=i,
                variant=variants[i % 2],
                run_id=f"hour-{i}",
                sync_period_s=15.0 if i % 2 == 0 else 5.0,
            )
            for i in range(count)
        ]
        if "hour" in cases:
            runs["hour"] = hour[:1]
        if "compare10" in cases:
            runs["compare10"] = hour
    return runs


def _render_child(out_dir: Path, case: str, paths: list[Path]) -> None:
    """(In a child process, with whichever report code is importable) render one case's page
    and copy it to `out_dir/<case>.html`."""
    from hpabench.analysis.report import write_compare_report, write_run_report

    page = write_compare_report(paths, out_dir / "compare.html") if len(paths) > 1 else write_run_report(paths[0])
    shutil.copyfile(page, out_dir / f"{case}.html")


def _overlay(ref: str, root: Path) -> Path:
    """`git archive` of `ref` arranged as the installed package (hpabench, hpabench.analysis, ...)."""
    src = root / "src"
    src.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    site = root / "site"
    (site / "hpabench").mkdir(parents=True)
    for item in (src / "hpabench").iterdir():
        (site / "hpabench" / item.name).symlink_to(item)
    for name in ("analysis", "scenarios", "deploy"):
        (site / "hpabench" / name).symlink_to(src / name)
    return site


def _render(out_dir: Path, runs: dict[str, list[Path]], code: Path | None) -> dict[str, Path]:
    """Render every case in a child process, importing hpabench from `code` when given (older
    report code) — from a neutral working directory, so the checkout's own `hpabench/` folder
    cannot shadow it; this repository only provides `benchmarks` and `tests`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    repo = Path.cwd().resolve()
    first = [str(code)] if code is not None else []
    for case, paths in runs.items():
        script = (
            f"import sys; sys.path[:0] = {[*first, str(repo)]!r}; "
            "from tests.benchmarks.bench_report_browser import _render_child; "
            f"_render_child(__import__('pathlib').Path({str(out_dir)!r}), {case!r}, "
            f"[__import__('pathlib').Path(p) for p in {[str(p) for p in paths]!r}])"
        )
        subprocess.run([sys.executable, "-c", script], cwd=out_dir, check=True, timeout=CHILD_TIMEOUT_S)
    return {case: out_dir / f"{case}.html" for case in runs}


def _plotlyjs_only(out_dir: Path) -> Path:
    """A page holding nothing but the bundled plotly.js: what parsing and running it costs."""
    from hpabench.analysis.report.plotlyjs import bundled_plotlyjs

    page = out_dir / "plotlyjs.html"
    page.write_text(
        f"<!DOCTYPE html><html><head></head><body><script>{bundled_plotlyjs()}</script></body></html>",
        encoding="utf-8",
    )
    return page


def _summarize(page: Path, samples: list[dict[str, Any]]) -> dict[str, Any]:
    errors = sorted({e for s in samples for e in s.get("errors", [])})
    result: dict[str, Any] = {"bytes": page.stat().st_size, "errors": errors}
    for key in ("load_ms", "drawn_ms", "zoom_ms"):
        values = [float(s[key]) for s in samples if key in s]
        if values:
            result[key] = statistics.median(values)
    result["plots"] = samples[-1].get("plots") or samples[-1].get("svg_panels") or 0
    return result


def _measure(pages: dict[str, Path], repeat: int) -> dict[str, dict[str, Any]]:
    """Every page `repeat` times, round-robin (a slow spell of the machine hits all pages)."""
    from tests.chromium import dump_dom, probe_result

    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in pages}
    for _ in range(repeat):
        for name, page in pages.items():
            samples[name].append(probe_result(dump_dom(page, PROBE).stdout))
    return {name: _summarize(pages[name], found) for name, found in samples.items()}


def _table(results: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'page':<22} {'MB':>6} {'load ms':>8} {'drawn ms':>9} {'zoom ms':>8} {'plots':>5}  errors"]
    for name, r in results.items():
        zoom = f"{r['zoom_ms']:8.0f}" if "zoom_ms" in r else f"{'–':>8}"
        lines.append(
            f"{name:<22} {r['bytes'] / 1e6:6.2f} {r['load_ms']:8.0f} {r['drawn_ms']:9.0f} {zoom} {r['plots']:>5}  "
            f"{'; '.join(r['errors']) or '-'}"
        )
    return "\n".join(lines)


def _ratios(results: dict[str, dict[str, Any]], cases: list[str], ref: str) -> str:
    lines = [f"ratios, this version / {ref}:"]
    for case in cases:
        new, old = results.get(case), results.get(f"{case} @{ref}")
        if new and old:
            size = new["bytes"] / old["bytes"]
            lines.append(f"  {case:<10} size x{size:.1f}   drawn x{new['drawn_ms'] / old['drawn_ms']:.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    parser.add_argument("--baseline-ref", help="also measure the report code of this git commit (e.g. b9c72bd)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    opts = parser.parse_args(argv)
    cases = [c for c in opts.cases.split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}")
    with tempfile.TemporaryDirectory(prefix="hpabench-report-browser-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        runs = _make_runs(root / "runs", cases)
        pages = _render(root / "pages", runs, None)
        pages["plotlyjs"] = _plotlyjs_only(root / "pages")
        if opts.baseline_ref:
            old = _render(root / "baseline-pages", runs, _overlay(opts.baseline_ref, root / "baseline"))
            pages.update({f"{case} @{opts.baseline_ref}": page for case, page in old.items()})
        if not opts.json:
            print(f"generated the runs and rendered {len(pages)} pages in {time.perf_counter() - started:.1f} s")
        results = _measure(pages, opts.repeat)
    if opts.json:
        print(json.dumps(results))
    else:
        print(_table(results))
        if opts.baseline_ref:
            print(_ratios(results, cases, opts.baseline_ref))
    return 1 if any(r["errors"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
