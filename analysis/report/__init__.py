"""HTML reports: one page per run (`report.html`) and one per comparison of runs.

Public API:
* `render_run_report(run, summary, plotlyjs=, plotlyjs_src=) -> str`,
  `write_run_report(run_path, plotlyjs="embed") -> Path`
* `render_compare_report(comparison, plotlyjs=, plotlyjs_src=) -> str`,
  `write_compare_report(paths, out_path, plotlyjs="embed") -> Path`
* for other pages (e.g. a study): `figures.chart(fig, chart_id, label=)` turns a plotly Figure
  into a chart of the page, `figures.pareto_scatter(...)`, and `htmlkit.page(title, body,
  plotlyjs.script_tag(mode, src))` the page around it.

Pages chart with plotly (plotly.js embedded, or one shared copy beside the reports — never a
CDN), work offline, keep KPIs, verdict and tables as plain HTML for viewers that block
JavaScript, and escape every user-provided string in the HTML and in the figure JSON.
"""

from __future__ import annotations

from hpabench.analysis.report.compare_page import render_compare_report, write_compare_report
from hpabench.analysis.report.run_page import render_run_report, write_run_report

__all__ = ["render_compare_report", "render_run_report", "write_compare_report", "write_run_report"]
