"""HTML reports: one page per run (`report.html`) and one per comparison of runs.

Public API:
* `render_run_report(run, summary) -> str`, `write_run_report(run_path) -> Path`
* `render_compare_report(comparison) -> str`, `write_compare_report(paths, out_path) -> Path`

Pages are self-contained (inline CSS, inline SVG charts, an optional inline hover script), work
offline and escape every user-provided string.
"""

from __future__ import annotations

from hpabench.analysis.report.compare_page import render_compare_report, write_compare_report
from hpabench.analysis.report.run_page import render_run_report, write_run_report

__all__ = ["render_compare_report", "render_run_report", "write_compare_report", "write_run_report"]
