"""The report's "Top errors" section: why requests failed (status, route, count), from the summary.

Renders `summary["top_errors"]` (analysis/errors.py) as a table, headed by a warning when the
summary carries `errors_dominate` (the latency numbers describe failures, not the system).
Empty string when no request failed, so the section only appears when it has something to say.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hpabench.analysis.errors import FLAG_ERRORS_DOMINATE
from hpabench.analysis.report.htmlkit import banner, esc, format_value, section, table


def errors_section(summary: Mapping[str, Any]) -> str:
    top = summary.get("top_errors")
    if not isinstance(top, list) or not top:
        return ""
    rows = []
    for error in top:
        if not isinstance(error, Mapping):
            continue
        status = error.get("status")
        rows.append(
            [
                esc(status if status is not None else "no response"),
                esc(error.get("method", "")),
                esc(error.get("route", "")),
                format_value(error.get("count")),
                format_value(100.0 * float(error.get("share") or 0.0), "%"),
                esc(error.get("error", "")),
            ]
        )
    warning = ""
    if FLAG_ERRORS_DOMINATE in (summary.get("flags") or []):
        warning = banner(
            "warn",
            "Most requests failed",
            ["The latency numbers of this run describe failures (often fast ones), not the system under test."],
        )
    body = warning + table(["status", "method", "route", "count", "share of failures", "error"], rows)
    return section("Top errors", body, "Failed requests grouped by status, route and Locust's error message.")
