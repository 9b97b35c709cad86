"""The reports in a real browser: headless Chromium loads run reports (a spike, a 1-hour 20-pod
run, one full of hostile strings) and a comparison written through the public API, and we check
that no script raised, that plotly drew every chart with every trace, that a zoom on one panel
moves the others, that hover shows values, and that with JavaScript blocked the page still
shows its KPIs and tables (and each chart says it needs JavaScript), and that with scripts the
"needs JavaScript" notes are gone.

The collector (tests/chromium.py injects it at the top of <head> of a copy of the page) records
errors, console.error and alert() calls — a hostile string that executed would call alert —,
waits for `window.hpabenchChartsDrawn`, then measures, zooms and hovers through plotly's own API
and writes a JSON result into the DOM that we read back.

Set HPABENCH_REPORT_SHOTS=/some/dir to also keep a screenshot of each report.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hpabench.analysis.report import write_compare_report, write_run_report
from tests.chromium import BLOCK_SCRIPTS, dump_dom, probe_result, screenshot
from tests.support.synthetic_run import make_synthetic_run
from tests.unit.report_html import HOSTILE, HOSTILE_ATTR, Doc, figures

COLLECTOR = r"""<script>
(function(){'use strict';
var errors=[];
window.addEventListener('error',function(e){
 errors.push('error: '+(e.message||e.type)+' @'+(e.filename||'')+':'+(e.lineno||0));},true);
window.addEventListener('unhandledrejection',function(e){errors.push('rejection: '+String(e.reason));});
var ce=console.error;console.error=function(){
 errors.push('console.error: '+Array.prototype.join.call(arguments,' '));ce.apply(console,arguments);};
window.alert=function(m){errors.push('alert: '+m);};
function finish(out){var pre=document.createElement('pre');pre.id='hpabench-probe-result';
 pre.textContent=JSON.stringify(out);document.body.appendChild(pre);}
function wait(ms){return new Promise(function(r){setTimeout(r,ms);});}
function ranges(gd){var fl=gd._fullLayout;return Object.keys(fl).filter(function(k){return /^xaxis\d*$/.test(k);})
 .sort().map(function(k){return fl[k].range.map(fl[k].r2l);});}
function describe(gd){var box=gd.getBoundingClientRect();
 var lines=Array.prototype.filter.call(gd.querySelectorAll('.scatterlayer .trace path.js-line'),
  function(p){var d=p.getAttribute('d');return d&&d.length>2;}).length;
 // Points drawn outside the plot area (e.g. numbers a date axis misread as years) would show as
 // long straight lines across a panel: count every line vertex beyond the x axis' pixel span.
 var span=gd._fullLayout.xaxis._length,offplot=0;
 gd.querySelectorAll('.scatterlayer .trace path.js-line').forEach(function(p){
  ((p.getAttribute('d')||'').match(/[ML]-?[\d.]+/g)||[]).forEach(function(c){
   var x=+c.slice(1);if(x<-2||x>span+2)offplot++;});});
 var bars=Array.prototype.filter.call(gd.querySelectorAll('.barlayer .point path'),
  function(p){var d=p.getAttribute('d');return d&&d!=='M0,0Z'&&d.length>2;}).length;
 return {id:gd.parentNode.id,traces:gd.data.length,width:box.width,height:box.height,
  lines:lines,bars:bars,offplot:offplot,
  rendered:gd.querySelectorAll('.scatterlayer .trace, .barlayer .trace').length,
  legend:Array.prototype.map.call(gd.querySelectorAll('text[class^="legend"][class$="text"]'),
   function(e){return e.textContent;}),
  notes:Array.prototype.map.call(gd.querySelectorAll('.annotation-text'),function(e){return e.textContent;}),
  buttons:Array.prototype.map.call(gd.querySelectorAll('.updatemenu-button text'),function(e){return e.textContent;}),
  spans:(gd._fullLayout.shapes||[]).filter(function(s){return (s.name||'').indexOf('event:')===0;})
   .map(function(s){return s.name;}),
  shapePaths:gd.querySelectorAll('.shapelayer path').length,
  ranges:ranges(gd)};}
function hoverText(gd,trace,index){
 var t=gd._fullData[trace],sub=(t.xaxis||'x')+(t.yaxis||'y');
 Plotly.Fx.hover(gd,{xval:t.x[index]},sub);
 return wait(200).then(function(){var layer=gd.querySelector('.hoverlayer');
  return layer?layer.textContent:'';});}
window.addEventListener('load',function(){
 Promise.resolve(window.hpabenchChartsDrawn).then(function(drawn){
  var plots=Array.prototype.slice.call(document.querySelectorAll('.js-plotly-plot'));
  var out={errors:errors,drawn:drawn,drawnAttr:document.documentElement.getAttribute('data-charts-drawn'),
   plots:plots.map(describe),imgs:document.querySelectorAll('img').length,
   notes:document.querySelectorAll('p.nojs').length};
  var gd=plots[0];if(!gd){finish(out);return;}
  var names=gd.data.map(function(t){return t.name||'';});
  var fl=gd._fullLayout,keys=Object.keys(fl).filter(function(k){return /^xaxis\d*$/.test(k);}).sort();
  var last=fl[keys[keys.length-1]],lo=last.r2l(last.range[0]),hi=last.r2l(last.range[1]);
  out.zoomTo=[lo+0.4*(hi-lo),lo+0.5*(hi-lo)];var upd={};
  upd[keys[keys.length-1]+'.range']=out.zoomTo.map(last.l2r);  // zoom the LAST panel only
  var first=names.indexOf('achieved (client)');if(first<0)first=names.findIndex(function(n){return /mean of/.test(n);});
  var hpa=names.indexOf('HPA scale-up');
  hoverText(gd,first,Math.floor(gd._fullData[first].x.length/2)).then(function(text){out.hoverLine=text;
   return hpa>=0?hoverText(gd,hpa,0):'';}).then(function(text){out.hoverHpa=text;
   return Plotly.relayout(gd,upd);}).then(function(){out.zoomed=ranges(gd);finish(out);})
  .catch(function(e){errors.push('probe: '+e);finish(out);});
 },function(e){errors.push('charts: '+e);finish({errors:errors});});
});
})();
</script>"""


def load_in_browser(html_path: Path, shot: str | None = None) -> dict[str, Any]:
    """Load `html_path` with the collector; return its result (and keep a screenshot if asked)."""
    result = probe_result(dump_dom(html_path, COLLECTOR).stdout)
    shots = os.environ.get("HPABENCH_REPORT_SHOTS")
    if shots and shot:
        height = 600 + int(sum(p["height"] for p in result.get("plots", []))) + 30 * html_path.read_text().count("<tr>")
        screenshot(html_path, Path(shots) / shot, 1200, height)
    return result


def visible_traces(figure: dict[str, Any]) -> int:
    return sum(1 for t in figure["data"] if t.get("visible", True) is True)


def assert_drawn(result: dict[str, Any], html: str) -> None:
    """No errors; every figure of the page drawn at a real size, with all its traces."""
    assert result["errors"] == []
    expected = figures(html)
    assert result["drawn"] == len(expected) and result["drawnAttr"] == str(len(expected))
    assert result["notes"] == 0  # the "needs JavaScript" notes went away
    assert [p["id"] for p in result["plots"]] == list(expected)
    for plot in result["plots"]:
        figure = expected[plot["id"]]
        assert plot["traces"] == len(figure["data"]), plot["id"]
        assert plot["rendered"] == visible_traces(figure), plot["id"]
        assert plot["width"] > 900 and plot["height"] > 150, plot
        assert plot["offplot"] == 0, plot["id"]
        bars = any(t["type"] == "bar" for t in figure["data"])
        assert (plot["bars"] if bars else plot["lines"]) > 0, plot


def assert_linked_zoom(result: dict[str, Any]) -> None:
    """Zooming the last panel moved every panel's x axis to the same range."""
    timeline = result["plots"][0]
    assert len(timeline["ranges"]) >= 4
    assert len({tuple(r) for r in timeline["ranges"]}) == 1  # one shared axis before the zoom
    lo, hi = result["zoomTo"]
    for low, high in result["zoomed"]:
        assert low == pytest.approx(lo, abs=1.0) and high == pytest.approx(hi, abs=1.0)


def assert_hover(result: dict[str, Any], unit: str) -> None:
    assert re.search(r"\d", result["hoverLine"]) and unit in result["hoverLine"], result["hoverLine"]


def no_js_view(html_path: Path) -> Doc:
    """The page as Chromium shows it with scripts blocked (the DOM after loading)."""
    dom = dump_dom(html_path, BLOCK_SCRIPTS).stdout
    assert '<html lang="en">' in dom and 'class="plot js-plotly-plot"' not in dom  # scripts really did not run
    return Doc(dom)


@pytest.mark.browser
def test_run_report_draws_links_zoom_and_hovers(tmp_path: Path) -> None:
    run = make_synthetic_run(tmp_path / "a", duration_s=300, pods_max=4, seed=1)
    report = write_run_report(run)
    html = report.read_text()
    result = load_in_browser(report, "run-report.png")
    assert_drawn(result, html)
    assert [p["id"] for p in result["plots"]] == ["timeline", "lag-chart"]
    assert_linked_zoom(result)
    assert_hover(result, "req/s")
    hpa = result["hoverHpa"]
    assert "HPA scaled 1 → " in hpa and "saw cpu:" in hpa and "held by:" in hpa and "reason:" in hpa
    timeline = result["plots"][0]
    assert {"Load", "Latency (log scale)", "Replicas", "Traffic share per pod"} <= set(timeline["notes"])
    assert timeline["buttons"][0] == "whole run" and len(timeline["buttons"]) == 4  # + three load stages


@pytest.mark.browser
def test_run_report_draws_scenario_event_spans_on_the_timeline(tmp_path: Path) -> None:
    from tests.unit.test_report_event_spans import add_scenario_events

    run = make_synthetic_run(tmp_path / "e", duration_s=120, pods_max=4, seed=3)
    add_scenario_events(run)
    report = write_run_report(run)
    html = report.read_text()
    result = load_in_browser(report, "run-report-events.png")
    assert_drawn(result, html)
    timeline = result["plots"][0]
    assert timeline["spans"] == ["event:rollout", "event:kill-pod", "event:restart-db"]
    assert timeline["shapePaths"] >= len(figures(html)["timeline"]["layout"]["shapes"])  # all drawn
    assert {"rollout", "kill-pod", "restart-db"} <= set(timeline["notes"])  # the kinds written on the axis


@pytest.mark.browser
def test_one_hour_twenty_pod_report_stays_small_and_draws(tmp_path: Path) -> None:
    run = make_synthetic_run(tmp_path / "h", duration_s=3600, pods_max=20, seed=3)
    report = write_run_report(run)
    assert report.stat().st_size < 8_000_000  # including plotly.js
    html = report.read_text()
    result = load_in_browser(report, "hour-report.png")
    assert_drawn(result, html)
    assert_linked_zoom(result)
    assert_hover(result, "req/s")
    assert "minimum and maximum of every 3.6 s" in Doc(html).joined  # the reduction is said


@pytest.mark.browser
def test_comparison_report_draws_bands_and_links_zoom(tmp_path: Path) -> None:
    runs = [
        make_synthetic_run(
            tmp_path / f"r{i}",
            duration_s=300,
            pods_max=4 + 2 * (i % 2),
            seed=i,
            run_id=f"r{i}",
            variant="baseline" if i % 2 == 0 else "<b>fast</b>",
        )
        for i in range(4)
    ]
    comparison = write_compare_report(runs, tmp_path / "compare" / "comparison.html")
    html = comparison.read_text()
    result = load_in_browser(comparison, "compare-report.png")
    assert_drawn(result, html)
    assert_linked_zoom(result)
    assert_hover(result, "req/s")
    legend = result["plots"][0]["legend"]
    assert "spike/<b>fast</b> (mean of 2)" in legend  # literal text, not markup


def _poison(run: Path) -> None:
    """Hostile strings where plotly shows them: a stage name, a pod name, an HPA reason."""
    with (run / "events.jsonl").open("a") as fh:
        fh.write(json.dumps({"ts": 1_760_000_030.0, "kind": "load_stage", "name": HOSTILE_ATTR}) + "\n")
    hpa = pd.read_parquet(run / "data" / "hpa.parquet")
    hpa["reason"] = HOSTILE
    hpa.to_parquet(run / "data" / "hpa.parquet", index=False)
    rps = pd.read_parquet(run / "data" / "prom" / "pod_rps.parquet")
    first = sorted(rps["pod"].unique())[0]
    rps["pod"] = rps["pod"].replace(first, HOSTILE)
    rps.to_parquet(run / "data" / "prom" / "pod_rps.parquet", index=False)


@pytest.mark.browser
def test_hostile_strings_stay_text_in_every_chart(tmp_path: Path) -> None:
    run = make_synthetic_run(tmp_path / "x", duration_s=300, pods_max=4, seed=2, scenario=HOSTILE, variant=HOSTILE_ATTR)
    _poison(run)
    report = write_run_report(run)
    result = load_in_browser(report)
    assert result["errors"] == [] and result["imgs"] == 0  # nothing executed, no element injected
    timeline = result["plots"][0]
    assert HOSTILE in timeline["legend"]  # the pod's name, shown literally
    assert HOSTILE_ATTR in timeline["notes"]  # the stage's name
    assert any(b.startswith(HOSTILE_ATTR) for b in timeline["buttons"])
    assert f"reason: {HOSTILE}" in result["hoverHpa"]


@pytest.mark.browser
def test_without_javascript_the_numbers_are_all_there(tmp_path: Path) -> None:
    run = make_synthetic_run(tmp_path / "a", duration_s=300, pods_max=4, seed=1)
    report = write_run_report(run)
    doc = no_js_view(report)
    assert doc.tags.count("table") >= 4  # lag breakdown, load changes, phases, routes
    text = doc.joined
    assert "client p95 latency" in text and "Key performance indicators" in text  # KPI cards
    assert "mean of scale-ups" in text and "stabilization / policy hold" in text  # the lag numbers
    assert text.count("needs JavaScript") == 2  # both charts say so
    comparison = write_compare_report([run], tmp_path / "c.html")
    doc = no_js_view(comparison)
    assert "Verdict" in doc.joined and doc.tags.count("table") >= 2 and "needs JavaScript" in doc.joined


@pytest.mark.browser
def test_a_shared_plotlyjs_copy_draws_too(tmp_path: Path) -> None:
    run = make_synthetic_run(tmp_path / "runs" / "a", duration_s=120, pods_max=2, seed=1)
    report = write_run_report(run, plotlyjs="shared")
    assert report.stat().st_size < 1_000_000 and list((tmp_path / "runs").glob("plotly-*.min.js"))
    result = load_in_browser(report)
    assert_drawn(result, report.read_text())


@pytest.mark.browser
def test_the_collector_catches_script_errors(tmp_path: Path) -> None:
    """The checks above can fail: a page whose script throws is reported, with the message."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><head></head><body><script>undefinedFunction();</script></body></html>")
    result = load_in_browser(page)
    assert len(result["errors"]) == 1 and "undefinedFunction" in result["errors"][0]
    assert result["plots"] == []
