"""PromQL syntax checks, so a query Prometheus would refuse is an input error before the run.

Contract: `promql_problem(query)` returns None when `query` parses as PromQL (the Prometheus
grammar, via the `promql-parser` package: the Rust port of Prometheus' own parser), else the
parser's one-line reason. It only parses: no server is contacted.
"""

from __future__ import annotations

import promql_parser

MAX_QUERY_CHARS = 10_000


def promql_problem(query: str) -> str | None:
    """Why `query` is not valid PromQL, or None (see the module docstring)."""
    if not query.strip():
        return "is empty"
    if len(query) > MAX_QUERY_CHARS:
        return f"is longer than {MAX_QUERY_CHARS} characters"
    try:
        promql_parser.parse(query)
    except (ValueError, TypeError, RuntimeError) as exc:
        return f"is not valid PromQL: {' '.join(str(exc).split())[:300]}"
    return None
