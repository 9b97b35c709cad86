"""How the reports write times and numbers in text (cards, tables, hover). Pure functions.

Times are `t_s`, seconds since the load phase started (docs/contracts.md "Time"), written as
m:ss or h:mm:ss so a 1-hour run reads naturally. (The charts' axes are plotly's.)
"""

from __future__ import annotations

import math


def format_elapsed(t_s: float, with_hours: bool = False) -> str:
    """`75.0` → `1:15`, `3725` → `1:02:05`, `-5` → `-0:05`. Sub-second precision is dropped.
    `with_hours` always writes h:mm:ss (axes of runs of an hour or more, so ticks read alike)."""
    if not math.isfinite(t_s):
        return "–"
    sign = "-" if t_s < 0 else ""
    total = round(abs(t_s))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours or with_hours:
        return f"{sign}{hours}:{minutes:02d}:{seconds:02d}"
    return f"{sign}{minutes}:{seconds:02d}"


def format_number(value: float | None, digits: int = 3) -> str:
    """Human number with about `digits` significant digits: 1234.5 → "1,235", 0.01234 → "0.0123"."""
    if value is None or not math.isfinite(value):
        return "–"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    decimals = max(0, digits - 1 - math.floor(math.log10(magnitude)))
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
