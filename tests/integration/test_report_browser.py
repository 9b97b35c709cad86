"""The reports in a real browser: headless Chromium loads a run report and a comparison report
written from synthetic runs through the public API, and we check that no script raised, that
every chart drew visible lines, and that the hover script works.

Why the Chromium command line (`--dump-dom`) and not Playwright: it needs no new dependency
(Chromium is already installed for this), and a page that only has to load, run its inline
scripts and report is exactly what `--dump-dom` gives. A tiny collector script is injected at
the top of <head> (into a copy of the report; the report itself is not changed): it records
`error`/`unhandledrejection` events and console.error calls, measures each chart after `load`,
drives one synthetic mouse move, and writes a JSON result into the DOM that we read back.

Set HPABENCH_REPORT_SHOTS=/some/dir to also keep a full-page screenshot of each report.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from hpabench.analysis.report import write_compare_report, write_run_report
from tests.synthetic_run import make_synthetic_run

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)
TIMEOUT_S = 90

COLLECTOR = r"""<script>
(function(){'use strict';
var errors=[];window.__hpabenchErrors=errors;
window.addEventListener('error',function(e){
 errors.push('error: '+(e.message||e.type)+' @'+(e.filename||'')+':'+(e.lineno||0));},true);
window.addEventListener('unhandledrejection',function(e){errors.push('rejection: '+String(e.reason));});
var ce=console.error;console.error=function(){
 errors.push('console.error: '+Array.prototype.join.call(arguments,' '));ce.apply(console,arguments);};
window.addEventListener('load',function(){
 var out={errors:errors,panels:[],hoverPanels:document.documentElement.getAttribute('data-hover-panels'),tip:null};
 document.querySelectorAll('svg.tl-panel').forEach(function(svg){
  var box=svg.getBoundingClientRect(),lines=svg.querySelectorAll('path.ln'),visible=0;
  lines.forEach(function(p){var b=p.getBBox();if(p.getTotalLength()>0&&(b.width>0||b.height>0))visible++;});
  out.panels.push({title:svg.getAttribute('aria-label'),width:box.width,height:box.height,lines:lines.length,
   visible:visible,noData:!!svg.querySelector('text.nodata')});});
 var first=document.querySelector('svg.tl-panel');
 if(first){var r=first.getBoundingClientRect();
  first.dispatchEvent(new MouseEvent('mousemove',{clientX:r.left+r.width*0.4,clientY:r.top+r.height/2,bubbles:true}));
  var tip=document.getElementById('tl-tip');out.tip={hidden:tip.hidden,text:tip.textContent};}
 var pre=document.createElement('pre');pre.id='hpabench-test-result';pre.textContent=JSON.stringify(out);
 document.body.appendChild(pre);});
})();
</script>"""


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    """Run Chromium in its own process group so a hang or a failure never leaves it behind."""
    # As a context manager: the pipes are closed even on a time-out (no leaked file).
    with subprocess.Popen(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=TIMEOUT_S)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # helpers (zygote, gpu) may outlive the browser
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def load_in_browser(html_path: Path, shots_name: str | None = None) -> dict[str, Any]:
    """Load a copy of `html_path` with the collector injected; return the collector's result."""
    assert Path(CHROMIUM).exists(), "Chromium is required (apt-get install -y chromium)"
    html = html_path.read_text(encoding="utf-8")
    probe = html_path.with_name(f"probe-{html_path.name}")
    probe.write_text(html.replace("<head>", "<head>" + COLLECTOR, 1), encoding="utf-8")
    profile = Path(tempfile.mkdtemp(prefix="hpabench-chromium-"))
    try:
        done = _chromium(["--virtual-time-budget=5000", "--dump-dom", probe.as_uri()], profile)
        shots = os.environ.get("HPABENCH_REPORT_SHOTS")
        if shots and shots_name:
            Path(shots).mkdir(parents=True, exist_ok=True)
            shown = re.sub(r"<details>.*?</details>", "", html, flags=re.S)  # collapsed: no height
            height = 900 + 215 * shown.count('class="tl-panel"') + 36 * shown.count("<tr>")
            _chromium(
                [f"--window-size=1200,{height}", f"--screenshot={Path(shots) / shots_name}", html_path.as_uri()],
                profile,
            )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
        probe.unlink(missing_ok=True)
    assert done.returncode == 0, done.stderr[-2000:]
    match = re.search(r'<pre id="hpabench-test-result">(.*?)</pre>', done.stdout, re.S)
    assert match is not None, "the page never finished loading (no collector result in the DOM)"
    text = match.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    result: dict[str, Any] = json.loads(text)
    return result


def assert_rendered(result: dict[str, Any], expected_panels: int) -> None:
    assert result["errors"] == []
    panels = result["panels"]
    assert len(panels) == expected_panels
    for panel in panels:
        assert panel["width"] > 500 and panel["height"] > 50, panel  # laid out at a real size
        assert panel["lines"] > 0 and panel["visible"] == panel["lines"], panel  # every line drew
        assert not panel["noData"], panel
    assert result["hoverPanels"] == str(expected_panels)  # the hover script initialised
    assert result["tip"] is not None and result["tip"]["hidden"] is False
    assert result["tip"]["text"].startswith("t = ")


@pytest.mark.browser
def test_run_report_renders_in_chromium(tmp_path: Path) -> None:
    run = make_synthetic_run(tmp_path / "a", duration_s=300, pods_max=4, seed=1, scenario="<script>alert(1)</script>")
    report = write_run_report(run)
    assert_rendered(load_in_browser(report, "run-report.png"), expected_panels=5)


@pytest.mark.browser
def test_comparison_report_renders_in_chromium(tmp_path: Path) -> None:
    runs = [
        make_synthetic_run(tmp_path / "a", duration_s=300, pods_max=4, seed=1, run_id="a"),
        make_synthetic_run(tmp_path / "b", duration_s=300, pods_max=6, seed=2, variant="<b>fast</b>", run_id="b"),
    ]
    comparison = write_compare_report(runs, tmp_path / "compare" / "comparison.html")
    assert_rendered(load_in_browser(comparison, "compare-report.png"), expected_panels=4)


@pytest.mark.browser
def test_the_collector_catches_script_errors(tmp_path: Path) -> None:
    """The check above can fail: a page whose script throws is reported, with the message."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><head></head><body><script>undefinedFunction();</script></body></html>")
    result = load_in_browser(page)
    assert len(result["errors"]) == 1 and "undefinedFunction" in result["errors"][0]
    assert result["panels"] == [] and result["tip"] is None
