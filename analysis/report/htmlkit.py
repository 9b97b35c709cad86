"""HTML building blocks shared by the run and comparison reports: escaping, the page shell
(inline CSS, plotly.js and the boot script that draws the charts), KPI cards, tables, banners.

Contract: every function that takes text treats it as untrusted and escapes it; callers pass
raw strings, never pre-escaped ones (except `raw_html` arguments, which are fragments built
by these functions). The page works offline: no external URL is referenced anywhere. Without
JavaScript everything but the charts is there (each chart says it needs JavaScript).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from hpabench.analysis.report.scales import format_number


def esc(value: object) -> str:
    """Escape any value for HTML text or a double/single-quoted attribute."""
    return html.escape(str(value), quote=True)


def script_safe(json_text: str) -> str:
    """JSON text made safe inside <script type="application/json">: `<`, `>`, `&`, U+2028 and
    U+2029 are \\u-escaped, so a string like "</script><script>…" cannot end the element."""
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        json_text = json_text.replace(char, escaped)
    return json_text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


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


def page(title: str, body_html: str, plotlyjs_tag: str = "") -> str:
    """The whole document: inline CSS, the body, then plotly.js (`plotlyjs_tag`, from
    `plotlyjs.script_tag`) and the boot script that draws every chart of the body."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><main>{body_html}</main>\n{plotlyjs_tag}\n<script>{_BOOT}</script></body></html>\n"
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
.chart{background:#fff;border:1px solid var(--line);border-radius:8px;padding:6px 8px;margin:8px 0}
.chart figcaption{margin:4px 6px}.plot{width:100%}
.nojs{color:var(--warn);margin:8px 6px;font-style:italic}.chart-missing{color:var(--bad);padding:12px}
.verdict{background:#fff;border:1px solid var(--line);border-left:4px solid #2563eb;border-radius:6px;
padding:10px 14px;margin:10px 0}.verdict p{margin:4px 0}
footer{margin-top:30px;color:var(--muted);font-size:12px}
"""

# Draws every chart: parses each figure's JSON and hands it to plotly.js. Sets
# `window.hpabenchChartsDrawn` (a promise of the number of charts drawn) and, once drawn,
# <html data-charts-drawn="N"> — what the browser tests and the benchmark wait for. Without
# plotly.js (a shared copy that was not shipped with the page) each chart says so. Each chart's
# "needs JavaScript" note is removed here, so it shows exactly when scripts did not run.
_BOOT = r"""
(function(){'use strict';
var nodes=Array.prototype.slice.call(document.querySelectorAll('div.plot[data-figure]'));
var config={displaylogo:false,responsive:true,modeBarButtonsToRemove:['select2d','lasso2d']};
function note(node){return node.parentNode.querySelector('p.nojs');}
if(typeof window.Plotly==='undefined'){
 nodes.forEach(function(node){var p=note(node);if(!p)return;p.className='chart-missing';
  p.textContent='This chart needs plotly.js, which did not load (a shared copy must sit beside the reports).';});
 window.hpabenchChartsDrawn=Promise.resolve(0);return;}
var drawn=nodes.map(function(node){var p=note(node);if(p)p.remove();
 var fig=JSON.parse(document.getElementById(node.getAttribute('data-figure')).textContent);
 return Plotly.newPlot(node,fig.data,fig.layout,config);});
window.hpabenchChartsDrawn=Promise.all(drawn).then(function(){
 document.documentElement.setAttribute('data-charts-drawn',String(drawn.length));return drawn.length;});
})();
"""
