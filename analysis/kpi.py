"""The KPI value type shared by summary, comparison, gate and reports.

A KPI is a number (or None when not measurable — missing series, no scaling happened, run cut
short) with a unit, a human label and the direction that is better: `"lower"`, `"higher"` or None
(informational). `Kpi.as_dict()` is exactly the summary.json shape of one KPI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

Better = Literal["lower", "higher"] | None


@dataclass(frozen=True)
class Kpi:
    """One measured quantity. `value` is finite or None (NaN/inf are normalised to None)."""

    value: float | None
    unit: str
    label: str
    better: Better = None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "label": self.label, "better": self.better}


def clean(value: float | int | None) -> float | None:
    """A JSON-safe number: None for None/NaN/inf, else a float (ints kept exact as floats)."""
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def kpi(value: float | int | None, unit: str, label: str, better: Better = None) -> Kpi:
    """Build a Kpi, normalising the value with `clean`."""
    return Kpi(clean(value), unit, label, better)


def kpis_as_dict(kpis: dict[str, Kpi]) -> dict[str, dict[str, Any]]:
    return {name: k.as_dict() for name, k in kpis.items()}


def better_of(a: float, b: float, better: Better) -> int:
    """-1 if `a` is better than `b`, 1 if worse, 0 if equal or the KPI is informational."""
    if better is None or a == b:
        return 0
    if better == "lower":
        return -1 if a < b else 1
    return -1 if a > b else 1


def entry_value(entry: Any) -> float | None:
    """The finite number in a summary.json KPI entry (`{"value": ...}`), else None."""
    if not isinstance(entry, dict):
        return None
    value = entry.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
