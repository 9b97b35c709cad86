"""Reading summary.json dicts (docs/contracts.md "summary.json") for display: KPI lookup, cards,
the phase table and the full KPI table. Tolerant: a KPI that is missing, null, or malformed
shows as "–"; nothing here raises on an unexpected summary shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from hpabench.analysis.report.htmlkit import esc, format_value, kpi_cards, table
from hpabench.analysis.report.scales import format_elapsed, format_number

# The KPIs a reader wants first, in this order, when the summary has them (others follow in
# the full table). Names per analysis/kpis: unknown names are simply skipped.
HEADLINE_KPIS = (
    "p95_ms",
    "p99_ms",
    "error_rate",
    "slo_violation_time_share",
    "reaction_time_s",
    "time_to_ready_capacity_s",
    "settling_time_s",
    "scale_events",
    "flapping_reversals",
    "replica_seconds",
    "cpu_request_core_seconds",
    "underprovisioned_time_share",
    "achieved_vs_intended",
    "requests",
)
MAX_CARDS = 12
MAX_PHASE_COLUMNS = 8


def kpis(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The whole-run KPIs as name → entry dict (entries that are not dicts are dropped)."""
    raw = summary.get("kpis")
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): dict(v) for k, v in raw.items() if isinstance(v, Mapping)}


def kpi_value(summary: Mapping[str, Any], name: str) -> float | None:
    entry = kpis(summary).get(name)
    return number(entry.get("value")) if entry else None


def number(value: Any) -> float | None:
    """A finite float, else None (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def display(entry: Mapping[str, Any]) -> str:
    """An entry's value with its unit, as HTML (escaped). Ratios with unit "ratio" show as %."""
    value = entry.get("value")
    unit = str(entry.get("unit") or "")
    ratio = number(value)
    if unit in ("ratio", "fraction") and ratio is not None:
        return format_value(100.0 * ratio, "%")
    return format_value(value, unit)


def label_of(name: str, entry: Mapping[str, Any]) -> str:
    label = entry.get("label")
    return str(label) if isinstance(label, str) and label else name


def headline_cards(summary: Mapping[str, Any], slo: Mapping[str, float]) -> str:
    """KPI cards: the headline KPIs present in the summary, then others to fill MAX_CARDS."""
    entries = kpis(summary)
    names = [n for n in HEADLINE_KPIS if n in entries]
    names += [n for n in entries if n not in names and number(entries[n].get("value")) is not None]
    cards = []
    for name in names[:MAX_CARDS]:
        entry = entries[name]
        better = entry.get("better")
        note = {"lower": "lower is better", "higher": "higher is better"}.get(str(better), "")
        cls = ""
        value = number(entry.get("value"))
        limit = _slo_limit(name, slo)
        if value is not None and limit is not None:
            cls = "bad" if value > limit else "ok"
            unit = str(entry.get("unit") or "")
            note = (
                f"SLO {format_number(limit * 100)}%" if name == "error_rate" else f"SLO {format_number(limit)} {unit}"
            )
        cards.append((label_of(name, entry), display(entry), note, cls))
    if not cards:
        return '<p class="note">No KPIs in the summary.</p>'
    return kpi_cards(cards)


def _slo_limit(name: str, slo: Mapping[str, float]) -> float | None:
    if name == "p95_ms":
        return slo.get("p95_ms")
    if name == "error_rate":
        return slo.get("error_rate")
    return None


def phases(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = summary.get("phases")
    return [dict(p) for p in raw if isinstance(p, Mapping)] if isinstance(raw, Sequence) else []


def phase_table(summary: Mapping[str, Any]) -> str:
    """One row per phase: name, start, end, then the phase KPIs (union, in first-seen order)."""
    rows_in = phases(summary)
    if not rows_in:
        return '<p class="note">No phases in the summary.</p>'
    columns: list[tuple[str, str, str]] = []  # name, label, unit
    for phase in rows_in:
        for name, entry in (phase.get("kpis") or {}).items():
            if isinstance(entry, Mapping) and name not in [c[0] for c in columns]:
                columns.append((str(name), label_of(str(name), entry), str(entry.get("unit") or "")))
    preferred = {name: i for i, name in enumerate(HEADLINE_KPIS)}
    columns.sort(key=lambda c: preferred.get(c[0], len(preferred)))
    columns = columns[:MAX_PHASE_COLUMNS]
    header = ["phase", "start", "end", *[label for _, label, _ in columns]]
    body = []
    for phase in rows_in:
        phase_kpis = phase.get("kpis") if isinstance(phase.get("kpis"), Mapping) else {}
        cells = [
            esc(phase.get("name", "?")),
            esc(format_elapsed(_or_nan(number(phase.get("start_s"))))),
            esc(format_elapsed(_or_nan(number(phase.get("end_s"))))),
        ]
        for name, _, _ in columns:
            entry = phase_kpis.get(name) if isinstance(phase_kpis, Mapping) else None
            cells.append(display(entry) if isinstance(entry, Mapping) else "–")
        body.append(cells)
    return table(header, body)


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def all_kpis_table(summary: Mapping[str, Any]) -> str:
    entries = kpis(summary)
    if not entries:
        return '<p class="note">No KPIs in the summary.</p>'
    rows = [
        [esc(name), esc(label_of(name, e)), display(e), esc(e.get("better") or "informational")]
        for name, e in entries.items()
    ]
    return table(["kpi", "meaning", "value", "better"], rows)
