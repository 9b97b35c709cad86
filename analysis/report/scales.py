"""Axis scales for the report's charts: "nice" tick values and their labels. Pure functions.

Time on the x axis is `t_s`, seconds since the load phase started (docs/contracts.md "Time");
it is labelled as m:ss or h:mm:ss so a 1-hour run reads naturally.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# Tick steps that read well for elapsed time, in seconds (1 s ... 6 h).
_TIME_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)


def nice_step(span: float, max_ticks: int) -> float:
    """The smallest step of the form {1, 2, 2.5, 5} x 10^k giving at most `max_ticks` intervals."""
    if not math.isfinite(span) or span <= 0 or max_ticks < 1:
        return 1.0
    raw = span / max_ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for mantissa in (1.0, 2.0, 2.5, 5.0, 10.0):
        if mantissa * power >= raw * (1 - 1e-9):
            return mantissa * power
    return 10.0 * power


def linear_ticks(lo: float, hi: float, max_ticks: int = 5) -> tuple[float, float, list[float]]:
    """Expand [lo, hi] to nice bounds and return (lo', hi', ticks). A flat range is widened."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(hi) * 0.5 if hi != 0 else 1.0
        lo, hi = (lo - pad if lo != 0 else 0.0), hi + pad
    step = nice_step(hi - lo, max_ticks)
    nice_lo = math.floor(lo / step + 1e-9) * step
    nice_hi = math.ceil(hi / step - 1e-9) * step
    count = round((nice_hi - nice_lo) / step)
    ticks = [_clean(nice_lo + i * step) for i in range(count + 1)]
    return _clean(nice_lo), _clean(nice_hi), ticks


def log_ticks(lo: float, hi: float) -> tuple[float, float, list[float]]:
    """Decade bounds covering [lo, hi] (both > 0) with ticks at 1, 2, 5 x 10^k when few decades."""
    lo = max(lo, 1e-9)
    hi = max(hi, lo * 10)
    lo_exp = math.floor(math.log10(lo))
    hi_exp = math.ceil(math.log10(hi))
    mantissas: Sequence[float] = (1.0, 2.0, 5.0) if hi_exp - lo_exp <= 3 else (1.0,)
    ticks = [
        _clean(m * 10.0**e)
        for e in range(lo_exp, hi_exp + 1)
        for m in mantissas
        if m * 10.0**e <= 10.0**hi_exp * (1 + 1e-9)
    ]
    return 10.0**lo_exp, 10.0**hi_exp, ticks


def time_ticks(lo_s: float, hi_s: float, max_ticks: int = 10) -> list[float]:
    """Tick positions (seconds) on a round time step, covering [lo_s, hi_s]."""
    span = hi_s - lo_s
    if not math.isfinite(span) or span <= 0:
        return [lo_s] if math.isfinite(lo_s) else []
    step = next((s for s in _TIME_STEPS_S if span / s <= max_ticks), None)
    if step is None:
        step = math.ceil(span / max_ticks / 3600) * 3600
    first = math.ceil(lo_s / step - 1e-9) * step
    return [float(first + i * step) for i in range(int((hi_s - first) // step) + 1)]


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


def format_tick(value: float) -> str:
    """Axis tick label: compact (1.5k, 2M) for large values, trimmed decimals otherwise."""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:g}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:g}k"
    return format_number(value, 4)


def _clean(value: float) -> float:
    """Remove float noise like 0.30000000000000004 from computed tick values."""
    return float(f"{value:.12g}")
