"""Benchmark: size of the HTML reports and the time until headless Chromium has drawn their charts.

    .venv/bin/python -m benchmarks.bench_report_browser [--repeat 3] [--json] [--cases spike,hour,compare10]

Cases (synthetic runs of tests/synthetic_run.py, written through the public report API):

* `spike`     — a compressed spike run: 5 minutes at 1 s, up to 4 pods;
* `hour`      — a 1-hour run at 1 s resolution with up to 20 pods;
* `compare10` — a comparison of 10 such 1-hour runs (two variants, five repeats each).

Each page is loaded `--repeat` times in a fresh headless Chromium with a probe injected; the
probe reads `performance.now()` (milliseconds since navigation start, real time) at the `load`
event and once the page says its charts are drawn (`window.hpabenchChartsDrawn`, a promise the
report's boot script sets; a page without it — the former inline-SVG report — is drawn when it
has loaded and laid out). On plotly pages it also times one zoom (`Plotly.relayout` of the
first x axis to its middle tenth): how long the page takes to redraw every linked panel.
Medians are printed. Runs from the repository root (it imports `tests`).
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def _make_pages(root: Path, cases: list[str]) -> dict[str, Path]:
    sys.path.insert(0, str(Path.cwd()))
    from hpabench.analysis.report import write_compare_report, write_run_report
    from tests.synthetic_run import make_synthetic_run

    pages: dict[str, Path] = {}
    if "spike" in cases:
        run = make_synthetic_run(root / "spike", duration_s=300, pods_max=4, seed=1, run_id="spike")
        pages["spike"] = write_run_report(run)
    hour_runs: list[Path] = []
    if "hour" in cases or "compare10" in cases:
        count = 10 if "compare10" in cases else 1
        variants = ("baseline", "fast-scale")
        hour_runs = [
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
        pages["hour"] = write_run_report(hour_runs[0])
    if "compare10" in cases:
        pages["compare10"] = write_compare_report(hour_runs, root / "compare10.html")
    return pages


def _measure(page: Path, repeat: int) -> dict[str, Any]:
    from tests.chromium import dump_dom, probe_result

    samples = [probe_result(dump_dom(page, PROBE).stdout) for _ in range(repeat)]
    errors = sorted({e for s in samples for e in s.get("errors", [])})
    result: dict[str, Any] = {"bytes": page.stat().st_size, "errors": errors}
    for key in ("load_ms", "drawn_ms", "zoom_ms"):
        values = [float(s[key]) for s in samples if key in s]
        if values:
            result[key] = statistics.median(values)
    result["plots"] = samples[-1].get("plots")
    result["svg_panels"] = samples[-1].get("svg_panels")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    opts = parser.parse_args(argv)
    cases = [c for c in opts.cases.split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}")
    with tempfile.TemporaryDirectory(prefix="hpabench-report-browser-") as tmp:
        started = time.perf_counter()
        pages = _make_pages(Path(tmp), cases)
        if not opts.json:
            print(f"generated and rendered {len(pages)} pages in {time.perf_counter() - started:.1f} s")
        results = {name: _measure(page, opts.repeat) for name, page in pages.items()}
    if opts.json:
        print(json.dumps(results))
    else:
        print(f"{'case':<10} {'MB':>6} {'load ms':>8} {'drawn ms':>9} {'zoom ms':>8} {'plots':>5}  errors")
        for name, r in results.items():
            zoom = f"{r['zoom_ms']:8.0f}" if "zoom_ms" in r else f"{'–':>8}"
            plots = r["plots"] or r["svg_panels"] or 0
            print(
                f"{name:<10} {r['bytes'] / 1e6:6.2f} {r['load_ms']:8.0f} {r['drawn_ms']:9.0f} {zoom} {plots:>5}  "
                f"{'; '.join(r['errors']) or '-'}"
            )
    return 1 if any(r["errors"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
