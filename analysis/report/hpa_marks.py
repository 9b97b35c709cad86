"""Points for the Replicas panel: the HPA's decisions (with what it saw and what held it), pods
becoming ready, and faults — each with the hover text a reader needs at that moment.

Source: the HPA timeline (`hpa.parquet`, one row per sync, docs/contracts.md) when the run has
one; else the `hpa_rescale` events (reason only). Pure: `RunData` in, `Points` out; a missing
column gives fewer details, never an error.

What held a recommendation, per sync (upstream's order: recommendation → stabilization →
policies/rate limits → min/max replicas):
* raw ≠ stabilized: the stabilization window kept an earlier recommendation;
* stabilized ≠ desired: a scale policy (rate limit) or min/max replicas bounded it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, cast

import numpy as np

from hpabench.analysis.report.downsample import as_float_array
from hpabench.analysis.report.panels import Points
from hpabench.analysis.report.scales import format_elapsed, format_number
from hpabench.analysis.report.summaryview import number
from hpabench.analysis.rundata import RunData

UP, DOWN, HELD = "#c2410c", "#1d4ed8", "#a16207"
MAX_HELD_POINTS = 400  # a long flapping run: enough to read, bounded for the page


def _int(value: Any) -> int | None:
    """A replica count from a timeline cell (None when missing or not a finite number)."""
    found = number(value)
    return int(found) if found is not None else None


def metrics_text(raw: Any) -> str:
    """`cpu: 183% (target 60%)` per metric of a `metrics` JSON cell; "" when unreadable."""
    try:
        metrics = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return ""
    if not isinstance(metrics, Mapping):
        return ""
    parts = []
    for name, metric in metrics.items():
        if not isinstance(metric, Mapping):
            continue
        current, target = metric.get("current"), metric.get("target")
        unit = "%" if str(metric.get("type", "")).lower() == "resource" else ""
        now = format_number(float(current)) if isinstance(current, (int, float)) else "?"
        goal = f" (target {format_number(float(target))}{unit})" if isinstance(target, (int, float)) else ""
        parts.append(f"{name}: {now}{unit}{goal}")
    return ", ".join(parts)


def held_by(row: Mapping[str, Any], min_replicas: int | None, max_replicas: int | None) -> str:
    """What kept the desired count from the raw recommendation ("" when nothing did)."""
    raw, stabilized, desired = (
        _int(row.get(k)) for k in ("raw_recommendation", "stabilized_recommendation", "desired_replicas")
    )
    reasons = []
    if raw is not None and stabilized is not None and raw != stabilized:
        window = "scale-down" if raw < stabilized else "scale-up"
        reasons.append(f"{window} stabilization window (recommendation {raw} → {stabilized})")
    base = stabilized if stabilized is not None else raw
    if base is not None and desired is not None and base != desired:
        if max_replicas is not None and desired == max_replicas and base > desired:
            reasons.append(f"maxReplicas {max_replicas}")
        elif min_replicas is not None and desired == min_replicas and base < desired:
            reasons.append(f"minReplicas {min_replicas}")
        else:
            reasons.append(f"scale policy rate limit ({base} → {desired})")
    return "; ".join(reasons)


def _sync_text(row: Mapping[str, Any], title: str, held: str) -> str:
    lines = [f"{format_elapsed(float(row['t_s']))} {title}"]
    seen = metrics_text(row.get("metrics"))
    if seen:
        lines.append(f"saw {seen}")
    age = row.get("metrics_age_s")
    if isinstance(age, (int, float)) and math.isfinite(age):
        lines.append(f"metrics {format_number(float(age))} s old")
    ready, unready = _int(row.get("ready_pods")), _int(row.get("unready_pods"))
    if ready is not None:
        lines.append(f"pods ready {ready}, not ready {unready if unready is not None else '?'}")
    raw, stabilized = _int(row.get("raw_recommendation")), _int(row.get("stabilized_recommendation"))
    if raw is not None:
        lines.append(f"recommended {raw}" + (f", stabilized {stabilized}" if stabilized is not None else ""))
    lines.append(f"held by: {held}" if held else "held by: nothing")
    reason = row.get("reason")
    if isinstance(reason, str) and reason:
        lines.append(f"reason: {reason}")
    return "\n".join(lines)


def _limits(run: RunData) -> tuple[int | None, int | None]:
    variant = run.manifest.get("variant")
    hpa = variant.get("hpa") if isinstance(variant, Mapping) else None
    if not isinstance(hpa, Mapping):
        return None, None
    return _int(hpa.get("min_replicas")), _int(hpa.get("max_replicas"))


def decision_points(run: RunData) -> list[Points]:
    """Scale-ups, scale-downs and held recommendations at (sync time, desired replicas)."""
    hpa = run.web_hpa()  # a run with several HPAs: the web tier's
    if hpa.empty or "desired_replicas" not in hpa.columns or "current_replicas" not in hpa.columns:
        return _event_points(run)
    low, high = _limits(run)
    rows: dict[str, list[tuple[float, float, str]]] = {"up": [], "down": [], "held": []}
    for row in cast(list[dict[str, Any]], hpa.to_dict("records")):
        current, desired = _int(row.get("current_replicas")), _int(row.get("desired_replicas"))
        raw = _int(row.get("raw_recommendation"))
        if current is None or desired is None or not math.isfinite(float(row.get("t_s", math.nan))):
            continue
        held = held_by(row, low, high)
        if desired != current:
            kind = "up" if desired > current else "down"
            text = _sync_text(row, f"HPA scaled {current} → {desired}", held)
        elif raw is not None and raw != current:
            kind = "held"
            text = _sync_text(row, f"HPA kept {current} (recommended {raw})", held)
        else:
            continue
        rows[kind].append((float(row["t_s"]), float(desired), text))
    rows["held"] = rows["held"][:MAX_HELD_POINTS]
    styles = {
        "up": ("HPA scale-up", UP, "triangle-up", 11.0),
        "down": ("HPA scale-down", DOWN, "triangle-down", 11.0),
        "held": ("HPA held a recommendation", HELD, "circle-open", 8.0),
    }
    return [_points(styles[kind], found) for kind, found in rows.items() if found]


def _points(style: tuple[str, str, str, float], found: list[tuple[float, float, str]]) -> Points:
    name, color, symbol, size = style
    t, y, text = zip(*found, strict=True)
    return Points(name, as_float_array(t), as_float_array(y), list(text), color, symbol, size)


def _event_points(run: RunData) -> list[Points]:
    """Without an HPA timeline: the `hpa_rescale` events, with their reason."""
    found: dict[str, list[tuple[float, float, str]]] = {"up": [], "down": []}
    for e in run.events:
        if e.get("kind") != "hpa_rescale":
            continue
        before, after = _int(e.get("from")), _int(e.get("to"))
        if before is None or after is None:
            continue
        text = f"{format_elapsed(float(e['t_s']))} HPA scaled {before} → {after}\nreason: {e.get('reason', '?')}"
        found["up" if after > before else "down"].append((float(e["t_s"]), float(after), text))
    styles = {"up": ("HPA scale-up", UP, "triangle-up", 11.0), "down": ("HPA scale-down", DOWN, "triangle-down", 11.0)}
    return [_points(styles[k], v) for k, v in found.items() if v]


def ready_points(run: RunData, ready_t_s: np.ndarray, ready: np.ndarray) -> list[Points]:
    """A web pod became ready: at the ready count just after it (hover: the pod's name)."""
    web = run.web_deployment()
    events = [e for e in run.events if e.get("kind") == "pod_ready" and e.get("deployment") in (None, web)]
    if not events:
        return []
    t = as_float_array([float(e["t_s"]) for e in events])
    idx = np.clip(np.searchsorted(ready_t_s, t, side="right"), 0, max(ready.size - 1, 0))
    y = ready[idx] if ready.size else np.zeros(t.size)
    text = [f"{format_elapsed(float(e['t_s']))} pod ready: {e.get('pod', 'pod')}" for e in events]
    return [Points("pod ready", t, as_float_array(y), text, "#15803d", "line-ns-open", 10.0)]


def fault_points(run: RunData) -> list[Points]:
    """Faults and crashes at y = 0 of the Replicas panel."""
    events = [e for e in run.events if e.get("kind") in ("fault", "pod_crashed")]
    if not events:
        return []
    t = as_float_array([float(e["t_s"]) for e in events])
    text = [f"{format_elapsed(float(e['t_s']))} {e['kind']}: {e.get('message') or e.get('pod') or ''}" for e in events]
    return [Points("fault / crash", t, np.zeros(t.size), text, "#b3261e", "x", 10.0)]


__all__ = ["decision_points", "fault_points", "held_by", "metrics_text", "ready_points"]
