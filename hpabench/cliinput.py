"""Bounds of the command-line numbers, checked the same way by every command that takes them.

Contract: each `*_issues(value, option)` returns the problems with one value as
`SpecIssue("command line", option, problem)`, empty when the value is fine. argparse's `float` accepts
`nan`, `inf` and `1e-320`; these checks are what keeps such values from reaching the arithmetic
(an `OverflowError` in a table, a plan of 10^300 rows, a scrape every 0 s).
"""

from __future__ import annotations

import math

from hpabench.errors import SpecIssue

COMMAND_LINE = "command line"
MIN_TIME_SCALE = 0.01
MAX_TIME_SCALE = 100.0
MIN_STEP_S = 0.1
MAX_TABLE_ROWS = 100_000
MAX_WORKERS = 64
MIN_SCRAPE_INTERVAL_S = 0.5
MAX_SCRAPE_INTERVAL_S = 60.0


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def number_issues(value: object, option: str, low: float, high: float, unit: str = "") -> list[SpecIssue]:
    """`value` must be a finite number in [low, high]."""
    if _is_number(value) and low <= float(value) <= high:  # type: ignore[arg-type]
        return []
    suffix = f" {unit}" if unit else ""
    return [SpecIssue(COMMAND_LINE, option, f"must be a number from {low:g} to {high:g}{suffix}, not {value!r}")]


def time_scale_issues(value: object, option: str = "--time-scale") -> list[SpecIssue]:
    return number_issues(value, option, MIN_TIME_SCALE, MAX_TIME_SCALE)


def workers_issues(value: object, option: str = "--workers") -> list[SpecIssue]:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_WORKERS:
        return []
    return [SpecIssue(COMMAND_LINE, option, f"must be 0 (standalone) to {MAX_WORKERS}, not {value!r}")]


def scrape_interval_issues(value: object, option: str = "--scrape-interval-s") -> list[SpecIssue]:
    return number_issues(value, option, MIN_SCRAPE_INTERVAL_S, MAX_SCRAPE_INTERVAL_S, "s")


def table_issues(total_s: float, step_s: object, option: str = "--step-s") -> list[SpecIssue]:
    """A table of `total_s` run seconds every `step_s` must have at most MAX_TABLE_ROWS rows."""
    if not (_is_number(step_s) and float(step_s) >= MIN_STEP_S):  # type: ignore[arg-type]
        return [SpecIssue(COMMAND_LINE, option, f"must be a number of seconds >= {MIN_STEP_S:g}, not {step_s!r}")]
    rows = total_s / float(step_s)  # type: ignore[arg-type]
    if rows > MAX_TABLE_ROWS:
        smallest = total_s / MAX_TABLE_ROWS
        problem = f"would print {rows:.0f} rows (limit {MAX_TABLE_ROWS}); use {smallest:.3g} s or more"
        return [SpecIssue(COMMAND_LINE, option, problem)]
    return []
