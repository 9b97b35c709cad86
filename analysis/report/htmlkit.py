"""HTML building blocks shared by the run and comparison reports: escaping, the page shell
(inline CSS and the optional hover script), KPI cards, tables and banners.

Contract: every function that takes text treats it as untrusted and escapes it; callers pass
raw strings, never pre-escaped ones (except `raw_html` arguments, which are fragments built
by these functions). The page works offline: no external URL is referenced anywhere.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from hpabench.analysis.report.scales import format_number


def esc(value: object) -> str:
    """Escape any value for HTML text or a double/single-quoted attribute."""
    return html.escape(str(value), quote=True)


def json_for_script(data: Any) -> str:
    """JSON that is safe inside <script type="application/json">: `<`, `>`, `&` are \\u-escaped so
    a string like "</script><script>…" cannot end the element. NaN/inf become null."""
    text = json.dumps(_finite(data), separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if data == data and data not in (float("inf"), float("-inf")) else None
    if isinstance(data, dict):
        return {str(k): _finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v) for v in data]
    return data


STATUS_CLASS = {"completed": "ok", "running": "warn", "interrupted": "warn", "failed": "bad"}


def status_badge(status: str) -> str:
    cls = STATUS_CLASS.get(status, "warn")
    return f'<span class="badge {cls}">{esc(status.upper() if cls != "ok" else status)}</span>'


def format_value(value: object, unit: str = "") -> str:
    """A KPI value with its unit; None (not measurable) is an en dash."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        text = format_number(float(value))
        if text == "–":
            return text
        if unit == "%":
            return f"{text}%"
        return f"{text} {esc(unit)}" if unit else text
    if value is None:
        return "–"
    return esc(value)


def kpi_cards(cards: Sequence[tuple[str, str, str, str]]) -> str:
    """Cards of (label, value_html, note, css_class). `value_html` comes from `format_value`."""
    items = [
        f'<div class="card {esc(cls)}"><div class="card-label">{esc(label)}</div>'
        f'<div class="card-value">{value_html}</div><div class="card-note">{esc(note)}</div></div>'
        for label, value_html, note, cls in cards
    ]
    return f'<div class="cards">{"".join(items)}</div>'


def table(header: Sequence[str], rows: Iterable[Sequence[str]], css_class: str = "") -> str:
    """A table; header cells are escaped, row cells are HTML fragments (escape them first)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    cls = f' class="{esc(css_class)}"' if css_class else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def banner(level: str, title: str, lines: Sequence[str]) -> str:
    """A prominent box for flags and warnings; `level` is "bad" or "warn"."""
    items = "".join(f"<li>{esc(line)}</li>" for line in lines)
    return f'<div class="banner {esc(level)}"><strong>{esc(title)}</strong><ul>{items}</ul></div>'


def section(title: str, raw_html: str, note: str = "") -> str:
    note_html = f'<p class="note">{esc(note)}</p>' if note else ""
    return f"<section><h2>{esc(title)}</h2>{note_html}{raw_html}</section>"


def footer(what: str) -> str:
    """`what · generated <UTC time> · works offline` (the time is when the page was rendered)."""
    return f"<footer>{esc(what)} · generated {datetime.now(tz=UTC):%Y-%m-%d %H:%M:%S} UTC · works offline</footer>"


def page(title: str, body_html: str) -> str:
    """The whole document: inline CSS, the body, then the hover script (progressive enhancement)."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n"
        f'<body><main>{body_html}</main><div id="tl-tip" hidden></div><script>{_SCRIPT}</script></body></html>\n'
    )


_CSS = """
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--ok:#15803d;--warn:#b45309;--bad:#b91c1c}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);
background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);
padding-bottom:4px}
.sub{color:var(--muted);margin:0 0 10px}.note{color:var(--muted);margin:0 0 8px;font-size:13px}
.badge{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;
vertical-align:middle;margin-left:8px}
.badge.ok{background:var(--ok)}.badge.warn{background:var(--warn)}.badge.bad{background:var(--bad)}
.meta{display:flex;flex-wrap:wrap;gap:4px 22px;color:var(--muted);font-size:13px;margin:6px 0 12px}
.meta b{color:var(--fg);font-weight:600}
.banner{border-radius:6px;padding:10px 14px;margin:12px 0;border:1px solid}
.banner ul{margin:4px 0 0;padding-left:20px}
.banner.bad{background:#fef2f2;border-color:#fca5a5;color:#7f1d1d}
.banner.warn{background:#fffbeb;border-color:#fcd34d;color:#78350f}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(165px,1fr));gap:10px;margin:10px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:9px 12px}
.card-label{color:var(--muted);font-size:12px}.card-value{font-size:21px;font-weight:600}
.card-note{color:var(--muted);font-size:11.5px;min-height:1em}
.card.bad{border-color:#fca5a5;background:#fef2f2}.card.ok{border-color:#86efac}
table{border-collapse:collapse;background:#fff;width:100%;font-size:13px;margin:6px 0}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:right;white-space:nowrap}th{white-space:normal}
th:first-child,td:first-child{text-align:left}th{background:#f3f4f6;font-weight:600}
td.win{background:#ecfdf5;font-weight:600}.tag{font-size:11px;color:var(--ok);font-weight:600}
td .note{font-size:11.5px;font-weight:400}.scroll{overflow-x:auto}
table.kpi-compare td{white-space:normal;min-width:90px}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:baseline}
.sig{color:var(--ok);font-weight:600}.nosig{color:var(--muted)}
.timeline{background:#fff;border:1px solid var(--line);border-radius:8px;padding:6px 8px}
.timeline svg.tl-panel,.timeline svg.tl-strip{display:block;width:100%;height:auto}
.tl-head{display:flex;flex-wrap:wrap;align-items:center;gap:2px 14px;font-size:12.5px;margin:8px 0 0 60px}
.tl-title{font-weight:600;font-size:13px}.unit{color:var(--muted);margin-left:-10px}
.lg{display:inline-flex;align-items:center;gap:4px;color:#374151}.tri{color:#2e7d32;font-size:10px}
.tl-bg{fill:#fff}.grid{stroke:#eef0f3;stroke-width:1}
.yt{font-size:11px;fill:#6b7280;text-anchor:end}.xt{font-size:11px;fill:#6b7280;text-anchor:middle}
.ln{fill:none;stroke-linejoin:round;stroke-linecap:round}
.mk-stage{stroke-width:1;stroke-dasharray:2 3;opacity:.7}.mk-event{stroke-width:1;opacity:.45}
.tl-stage{font-size:11.5px;fill:#374151}.tl-mark{font-size:11px;text-anchor:middle;font-weight:600}
.nodata{font-size:14px;fill:#9ca3af;text-anchor:middle;font-style:italic}
.xhair{stroke:#111827;stroke-width:1;opacity:.5;pointer-events:none}.tl-hit{fill:transparent}
#tl-tip{position:fixed;z-index:10;background:rgba(17,24,39,.92);color:#fff;font-size:12px;padding:6px 9px;
border-radius:5px;pointer-events:none;max-width:340px}
.verdict{background:#fff;border:1px solid var(--line);border-left:4px solid #2563eb;border-radius:6px;
padding:10px 14px;margin:10px 0}.verdict p{margin:4px 0}
.bars>svg{display:block;width:100%;height:auto;background:#fff;border:1px solid var(--line);border-radius:8px}
footer{margin-top:30px;color:var(--muted);font-size:12px}
"""

# Hover read-out: a crosshair across every panel of a timeline and the values at that time.
# Optional: the charts are complete SVG without it. It only reads the JSON embedded per timeline.
_SCRIPT = r"""
(function(){'use strict';
function fmt(v){if(v===null||v===undefined)return'–';var a=Math.abs(v);
 return a>=1000?Math.round(v).toLocaleString('en'):a>=10?v.toFixed(1):a>=1?v.toFixed(2):v.toPrecision(2);}
function el(s){var t=Math.round(Math.abs(s)),h=Math.floor(t/3600),m=Math.floor(t%3600/60),x=t%60;
 var p=function(n){return(n<10?'0':'')+n};return(s<0?'-':'')+(h?h+':'+p(m):m)+':'+p(x);}
function near(ts,t){var lo=0,hi=ts.length-1;if(hi<0)return -1;while(hi-lo>1){var mid=(lo+hi)>>1;
 if(ts[mid]<t)lo=mid;else hi=mid;}return Math.abs(ts[lo]-t)<=Math.abs(ts[hi]-t)?lo:hi;}
var tip=document.getElementById('tl-tip');var n=0;
document.querySelectorAll('.timeline').forEach(function(tl){
 var node=tl.querySelector('script.timeline-data');if(!node)return;var data=JSON.parse(node.textContent);
 var panels=tl.querySelectorAll('svg.tl-panel');
 function hide(){panels.forEach(function(p){p.querySelector('.xhair').setAttribute('visibility','hidden');});
  tip.hidden=true;}
 panels.forEach(function(svg){
  var i=+svg.getAttribute('data-panel'),x0=+svg.getAttribute('data-x0'),x1=+svg.getAttribute('data-x1'),
   t0=+svg.getAttribute('data-t0'),t1=+svg.getAttribute('data-t1');
  svg.addEventListener('mousemove',function(ev){var m=svg.getScreenCTM();if(!m)return;
   var pt=svg.createSVGPoint();pt.x=ev.clientX;pt.y=ev.clientY;var x=pt.matrixTransform(m.inverse()).x;
   if(x<x0||x>x1){hide();return;}var t=t0+(x-x0)/(x1-x0)*(t1-t0);
   panels.forEach(function(p){var h=p.querySelector('.xhair');h.setAttribute('x1',x);h.setAttribute('x2',x);
    h.setAttribute('visibility','visible');});
   var rows=['<b>t = '+el(t)+'</b>'];(data[i].series||[]).forEach(function(s){var k=near(s.t,t);
    if(k<0)return;var d=document.createElement('span');d.textContent=s.name;
    rows.push('<span class="sw" style="background:'+s.color.replace(/[^#0-9a-zA-Z]/g,'')+'"></span>'+
     d.innerHTML+': '+fmt(s.y[k])+' '+(data[i].unit||'').replace(/[<>&"]/g,''));});
   tip.innerHTML=rows.join('<br>');tip.hidden=false;
   tip.style.left=Math.min(ev.clientX+14,window.innerWidth-350)+'px';tip.style.top=(ev.clientY+14)+'px';});
  svg.addEventListener('mouseleave',hide);n++;});
});
document.documentElement.setAttribute('data-hover-panels',String(n));
})();
"""
