"""Reading summary.json dicts (docs/contracts.md "summary.json") for display: KPI lookup, cards,
the phase table and the full KPI table. Tolerant: a KPI that is missing, null, or malformed
shows as "–"; nothing here raises on an unexpected summary shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from hpabench.analysis import catalogue
from hpabench.analysis.report.htmlkit import esc, format_value, kpi_cards, table
from hpabench.analysis.report.scales import format_elapsed, format_number

# The KPIs a reader wants first, in this order, and the phase table's columns: both declared in
# the KPI catalogue (analysis/catalogue). Names a summary lacks are simply skipped.
HEADLINE_KPIS = catalogue.headline_kpis()
PHASE_KPIS = catalogue.phase_columns()
_LEVEL_UNITS = {"rps": "req/s", "users": "users"}
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
    """One row per phase: name, start, end, planned level, then the PHASE_KPIS present in any
    phase (other phase KPIs follow in first-seen order, up to MAX_PHASE_COLUMNS)."""
    rows_in = phases(summary)
    if not rows_in:
        return '<p class="note">No phases in the summary.</p>'
    seen: dict[str, str] = {}  # name → label
    for phase in rows_in:
        phase_kpis = phase.get("kpis")
        if isinstance(phase_kpis, Mapping):
            for name, entry in phase_kpis.items():
                if isinstance(entry, Mapping) and str(name) not in seen:
                    seen[str(name)] = label_of(str(name), entry)
    names = [n for n in PHASE_KPIS if n in seen] or list(seen)
    names = names[:MAX_PHASE_COLUMNS]
    header = ["phase", "start", "end", "planned load", *[seen[n] for n in names]]
    body = []
    for phase in rows_in:
        phase_kpis = phase.get("kpis") if isinstance(phase.get("kpis"), Mapping) else {}
        name = esc(phase.get("name", "?"))
        if phase.get("truncated"):
            name += ' <span class="note">(cut short)</span>'
        level = number(phase.get("level"))
        cells = [
            name,
            esc(format_elapsed(_or_nan(number(phase.get("start_s"))))),
            esc(format_elapsed(_or_nan(number(phase.get("end_s"))))),
            format_value(level, _LEVEL_UNITS.get(str(phase.get("level_unit")), "")) if level is not None else "–",
        ]
        for kpi_name in names:
            entry = phase_kpis.get(kpi_name) if isinstance(phase_kpis, Mapping) else None
            cells.append(display(entry) if isinstance(entry, Mapping) else "–")
        body.append(cells)
    return table(header, body)


def routes_table(summary: Mapping[str, Any]) -> str:
    """Client latency and errors per route (the summary's `routes`), ALL last."""
    routes = summary.get("routes")
    if not isinstance(routes, Mapping) or not routes:
        return ""
    order = sorted((r for r in routes if r != "ALL"), key=str) + (["ALL"] if "ALL" in routes else [])
    rows = []
    for route in order:
        entry = routes[route] if isinstance(routes[route], Mapping) else {}
        rate = number(entry.get("error_rate"))
        rows.append(
            [
                esc(route),
                format_value(number(entry.get("requests"))),
                format_value(None if rate is None else 100.0 * rate, "%"),
                *[format_value(number(entry.get(k)), "ms") for k in ("p50_ms", "p95_ms", "p99_ms")],
            ]
        )
    return table(["route", "requests", "errors", "p50", "p95", "p99"], rows)


def pods_table(summary: Mapping[str, Any]) -> str:
    """Per web pod: lifetime, start → ready, request share and time to fair share."""
    pods = summary.get("pods")
    if not isinstance(pods, Mapping) or not pods:
        return ""
    rows = []
    for pod, raw in pods.items():
        entry = raw if isinstance(raw, Mapping) else {}
        share = number(entry.get("request_share"))
        rows.append(
            [
                esc(pod),
                esc(format_elapsed(_or_nan(number(entry.get("created_s"))))),
                esc(format_elapsed(_or_nan(number(entry.get("ready_s"))))),
                esc(format_elapsed(_or_nan(number(entry.get("deleted_s"))))),
                format_value(number(entry.get("start_to_ready_s")), "s"),
                format_value(None if share is None else 100.0 * share, "%"),
                format_value(number(entry.get("time_to_fair_share_s")), "s"),
            ]
        )
    header = ["pod", "created", "ready", "deleted", "start → ready", "request share", "time to fair share"]
    return table(header, rows)


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
