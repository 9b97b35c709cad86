"""The report's "Events during load" section: plain HTML from summary.json's `events` (pure).

`render_events_section(summary) -> str` returns "" for a run without scenario events, else:
* a strip on the load's time axis (0 … duration_s, the same seconds as the timeline) with each
  event's *during* span, so rollouts and disruptions line up with the charts above;
* one table per event: before / during / after with errors, p95/p99, SLO violation seconds,
  ready capacity and HPA decisions, plus the time until back within the SLO;
* for rollouts, a table of the rollout KPIs (duration, failures by status code, lowest ready
  capacity, HPA activity and surge view, draining losses).
Every user-provided string is escaped (htmlkit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hpabench.analysis.report.htmlkit import esc, format_value, section, table
from hpabench.analysis.report.panels import event_color

PHASE_COLUMNS = (
    ("requests", "requests"),
    ("failures", "failed"),
    ("error_rate", "error rate"),
    ("p95_ms", "p95"),
    ("p99_ms", "p99"),
    ("slo_violation_s", "SLO violation"),
    ("ready_replicas_min", "ready (min)"),
    ("ready_replicas_mean", "ready (mean)"),
    ("hpa_decisions", "HPA decisions"),
)
STRIP_WIDTH = 900
STRIP_ROW_PX = 18


def _value(kpis: Mapping[str, Any], name: str) -> str:
    entry = kpis.get(name) or {}
    return format_value(entry.get("value"), str(entry.get("unit") or ""))


def _strip(events: list[Mapping[str, Any]], duration_s: float) -> str:
    """An SVG row per event on [0, duration_s]: its during span and its name."""
    if duration_s <= 0:
        return ""
    height = STRIP_ROW_PX * len(events) + 20

    def x(t_s: Any) -> float:
        value = float(t_s or 0.0)
        return round(max(0.0, min(value, duration_s)) / duration_s * STRIP_WIDTH, 1)

    shapes = []
    for row, event in enumerate(events):
        y = row * STRIP_ROW_PX
        start, end = x(event.get("start_s")), x(event.get("end_s"))
        color = event_color(str(event.get("kind")))  # the same colour as its span on the timeline
        label = f"{event.get('name')} ({event.get('kind')})"
        shapes.append(
            f'<rect x="{start}" y="{y + 3}" width="{max(end - start, 2.0)}" height="{STRIP_ROW_PX - 6}" '
            f'fill="{color}"><title>{esc(label)}</title></rect>'
            f'<text x="{min(end + 4, STRIP_WIDTH - 150)}" y="{y + STRIP_ROW_PX - 5}" font-size="11">{esc(label)}</text>'
        )
    ticks = []
    step = max(1, round(duration_s / 10))
    for t in range(0, int(duration_s) + 1, step):
        ticks.append(f'<text x="{x(t)}" y="{height - 4}" font-size="10" fill="#666">{t}s</text>')
    return (
        f'<svg class="events-strip" viewBox="0 0 {STRIP_WIDTH} {height}" width="100%" height="{height}" '
        f'role="img" aria-label="events on the load time axis">{"".join(shapes)}{"".join(ticks)}</svg>'
    )


def _phase_table(event: Mapping[str, Any]) -> str:
    rows = []
    for phase in event.get("phases") or []:
        kpis = phase.get("kpis") or {}
        window = f"{format_value(phase.get('start_s'))}–{format_value(phase.get('end_s'))} s"
        rows.append([esc(phase.get("name")), window, *(_value(kpis, name) for name, _ in PHASE_COLUMNS)])
    return table(["phase", "load time", *(label for _, label in PHASE_COLUMNS)], rows, "events-phases")


def _rollout_table(rollout: Mapping[str, Any]) -> str:
    rows = [[esc(entry.get("label") or name), _value(rollout, name)] for name, entry in rollout.items()]
    return table(["rollout KPI", "value"], rows, "events-rollout")


def render_events_section(summary: Mapping[str, Any]) -> str:
    events = [e for e in summary.get("events") or [] if isinstance(e, Mapping)]
    if not events:
        return ""
    duration_s = float(summary.get("duration_s") or 0.0)
    parts = [_strip(events, duration_s)]
    for event in events:
        back = event.get("back_within_slo_s")
        codes = event.get("fail_codes") or {}
        codes_text = ", ".join(f"{esc(code)}: {int(n)}" for code, n in sorted(codes.items())) or "none"
        head = (
            f"<h3>{esc(event.get('name'))} <small>({esc(event.get('kind'))}, {esc(event.get('state'))}, "
            f"at {format_value(event.get('start_s'))} s)</small></h3>"
            f"<p>back within SLO after: {format_value(back, 's') if back is not None else 'not within the run'}"
            f" · failed requests by status during it: {codes_text}"
            + (f" · error: {esc(event.get('error'))}" if event.get("error") else "")
            + "</p>"
        )
        parts.append(head + _phase_table(event))
        if isinstance(event.get("rollout"), Mapping):
            parts.append(_rollout_table(event["rollout"]))
    return section(
        "Events during load",
        "".join(parts),
        "Each scenario event is a phase boundary: before = since the previous event, during = until the "
        "event's action was over (rollout complete, pod replaced, server ready), after = until the next "
        "event. Status 0 = no response; 502 = the load balancer lost a pod's connection; 503 = no endpoint.",
    )
