"""Scenario events as phase boundaries: before / during / after KPIs, and rollout KPIs (pure).

Inputs are what the analysis already has: the run's events (each with `t_s`), the client
histograms, the ready web replicas on the 1 s grid, the SLO and the failed requests by status
code (`fail_codes`: a frame `t_s`, `code`, `count`, see `analysis/failcodes.py`).

For every scenario event that started (`scenario_event` rows):
* **during** = [start, end): from the event's start to its end (the rollout complete, the killed
  pod replaced, the database ready again), at least 1 s;
* **before** = [end of the previous event or 0, start); **after** = [end, start of the next
  event or the end of the load);
* per window: requests, failures, error rate, p95/p99, SLO violation seconds (1 s windows over
  the p95 or error-rate objective), ready replicas (min/mean), HPA decisions (scale events by
  the HPA) — `window_kpis`;
* `back_within_slo_s`: seconds from the event's start until p95 and errors are back within the
  SLO for `hold_s` (0 when the SLO never broke, None when it never came back in the window);
* for rollouts, `rollout_kpis`: duration, failed requests during it and by status code (502: the
  load balancer lost a connection to a pod; 503: no endpoint could take the request; 0: no
  response at all), lowest ready capacity, whether the HPA scaled during the rollout, the most
  surge pods the HPA counted (its utilisation averages over surge pods too) and draining
  losses: connection-level failures (502, no response) within the grace window of old pods that
  were terminated — and how many of them got SIGTERM before the load balancer had drained them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from hpabench.analysis.kpi import Kpi, clean, kpi, kpis_as_dict
from hpabench.analysis.latency import ClientHistograms, latency_stats
from hpabench.analysis.slo import evaluate_windows

FloatArray = npt.NDArray[np.float64]
EVENT_KIND = "scenario_event"
MIN_DURING_S = 1.0
HOLD_S = 5.0


@dataclass(frozen=True)
class EventSpan:
    """One performed event: [start_s, end_s) in load seconds; `state` finished | failed | running."""

    name: str
    kind: str
    start_s: float
    end_s: float
    state: str
    params: dict[str, Any]
    result: dict[str, Any]
    error: str | None


def event_spans(events: list[dict[str, Any]], duration_s: float) -> list[EventSpan]:
    """The scenario events that started, in time order; a still-running one ends with the load."""
    started: dict[str, dict[str, Any]] = {}
    ended: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.get("kind") != EVENT_KIND:
            continue
        name = str(event.get("name"))
        if event.get("state") == "started":
            started[name] = event
        elif event.get("state") in ("finished", "failed"):
            ended[name] = event
    spans = []
    for name, start in started.items():
        end = ended.get(name)
        start_s = float(start["t_s"])
        end_s = float(end["t_s"]) if end is not None else duration_s
        spans.append(
            EventSpan(
                name=name,
                kind=str(start.get("event")),
                start_s=start_s,
                end_s=max(end_s, start_s + MIN_DURING_S),
                state=str(end.get("state")) if end is not None else "running",
                params=dict(start.get("params") or {}),
                result=dict((end or {}).get("result") or {}),
                error=(end or {}).get("error"),
            )
        )
    return sorted(spans, key=lambda s: s.start_s)


def _hpa_decisions(events: list[dict[str, Any]], start_s: float, end_s: float) -> int:
    return sum(
        1
        for e in events
        if e.get("kind") == "scale" and e.get("by") == "hpa" and start_s <= float(e.get("t_s", math.nan)) < end_s
    )


def slo_violation_s(hists: ClientHistograms, start_s: float, end_s: float, slo: dict[str, Any]) -> float | None:
    """Seconds of [start_s, end_s) whose 1 s window broke the p95 or error-rate objective."""
    if end_s <= start_s:
        return None
    windows = evaluate_windows(hists, start_s, end_s, slo["p95_ms"], slo["error_rate"], 1.0)
    if not windows.evaluated.any():
        return None
    widths = np.diff(windows.edges_s)
    return float(widths[windows.violating].sum())


def window_kpis(
    hists: ClientHistograms,
    start_s: float,
    end_s: float,
    slo: dict[str, Any],
    at_s: FloatArray,
    ready: FloatArray,
    events: list[dict[str, Any]],
) -> dict[str, Kpi]:
    """The KPIs of one before/during/after window (see the module docstring)."""
    stats = latency_stats(hists, start_s, end_s)
    mask = (at_s >= math.floor(start_s)) & (at_s < end_s)
    ready_in = ready[mask]
    known = ready_in[np.isfinite(ready_in)]
    return {
        "requests": kpi(stats.requests, "requests", "requests completed"),
        "failures": kpi(stats.failures, "requests", "failed requests", "lower"),
        "error_rate": kpi(stats.error_rate, "ratio", "failed / completed", "lower"),
        "p95_ms": kpi(stats.p95_ms, "ms", "client p95 latency", "lower"),
        "p99_ms": kpi(stats.p99_ms, "ms", "client p99 latency", "lower"),
        "slo_violation_s": kpi(slo_violation_s(hists, start_s, end_s, slo), "s", "seconds in SLO violation", "lower"),
        "ready_replicas_min": kpi(float(known.min()) if len(known) else None, "replicas", "lowest ready replicas"),
        "ready_replicas_mean": kpi(float(known.mean()) if len(known) else None, "replicas", "mean ready replicas"),
        "hpa_decisions": kpi(_hpa_decisions(events, start_s, end_s), "decisions", "HPA scale decisions"),
    }


def back_within_slo_s(
    hists: ClientHistograms, start_s: float, end_s: float, slo: dict[str, Any], hold_s: float = HOLD_S
) -> float | None:
    """Seconds after `start_s` until `hold_s` consecutive 1 s windows meet the SLO (see module)."""
    if end_s <= start_s:
        return None
    windows = evaluate_windows(hists, start_s, end_s, slo["p95_ms"], slo["error_rate"], 1.0)
    bad = windows.violating
    if not bad.any():
        return 0.0
    needed = max(1, math.ceil(hold_s))
    first_bad = int(np.nonzero(bad)[0][0])
    good_run = 0
    for i in range(first_bad + 1, len(bad)):
        good_run = good_run + 1 if windows.evaluated[i] and not bad[i] else 0
        if good_run >= needed or (good_run and i == len(bad) - 1):
            return float(windows.edges_s[i - good_run + 1]) - start_s
    return None


def codes_in(fail_codes: pd.DataFrame, start_s: float, end_s: float) -> dict[str, int]:
    """Failed requests by status code in [start_s, end_s) ("0" = no response)."""
    if fail_codes.empty:
        return {}
    rows = fail_codes[(fail_codes["t_s"] >= math.floor(start_s)) & (fail_codes["t_s"] < end_s)]
    return {str(code): int(count) for code, count in rows.groupby("code")["count"].sum().items()}


def rollout_kpis(
    span: EventSpan,
    hists: ClientHistograms,
    fail_codes: pd.DataFrame,
    events: list[dict[str, Any]],
    hpa: pd.DataFrame,
    at_s: FloatArray,
    ready: FloatArray,
) -> dict[str, Any]:
    """The rollout's own KPIs (see the module docstring); `hpa` is the web HPA's sync frame."""
    stats = latency_stats(hists, span.start_s, span.end_s)
    mask = (at_s >= math.floor(span.start_s)) & (at_s < span.end_s)
    known = ready[mask][np.isfinite(ready[mask])]
    terminated = [
        e for e in events if e.get("kind") == "pod_terminating" and span.start_s <= float(e["t_s"]) < span.end_s + 1
    ]
    drain_losses = 0
    for event in terminated:
        # Connection-level failures (502, no response) while an old pod shut down; a 503 means
        # no endpoint was left, which is capacity, not draining.
        t_s = float(event["t_s"])
        codes = codes_in(fail_codes, math.floor(t_s), t_s + float(event.get("grace_left_s") or 0) + 1)
        drain_losses += codes.get("502", 0) + codes.get("0", 0)
    surge_view = None
    scaled = _hpa_decisions(events, span.start_s, span.end_s) > 0
    if not hpa.empty and "t_s" in hpa:
        rows = hpa[(hpa["t_s"] >= span.start_s) & (hpa["t_s"] < span.end_s)]
        if len(rows):
            counted = rows["ready_pods"].fillna(0) + rows["unready_pods"].fillna(0)
            surge_view = int(max(0.0, float((counted - rows["current_replicas"]).max())))
            scaled = scaled or bool((rows["desired_replicas"] != rows["current_replicas"]).any())
    result = span.result
    return kpis_as_dict(
        {
            "rollout_duration_s": kpi(
                clean(result.get("duration_s")) or span.end_s - span.start_s, "s", "rollout duration", "lower"
            ),
            "rollout_failed_requests": kpi(stats.failures, "requests", "failed during the rollout", "lower"),
            "rollout_p99_ms": kpi(stats.p99_ms, "ms", "client p99 during the rollout", "lower"),
            "rollout_502": kpi(
                codes_in(fail_codes, span.start_s, span.end_s).get("502", 0),
                "requests",
                "502 (lost connection)",
                "lower",
            ),
            "rollout_503": kpi(
                codes_in(fail_codes, span.start_s, span.end_s).get("503", 0), "requests", "503 (no endpoint)", "lower"
            ),
            "rollout_min_ready": kpi(
                float(known.min()) if len(known) else clean(result.get("min_ready")),
                "replicas",
                "lowest ready capacity",
                "higher",
            ),
            "rollout_hpa_scaled": kpi(int(scaled), "bool", "the HPA scaled during the rollout"),
            "rollout_hpa_surge_pods": kpi(surge_view, "pods", "most surge pods in the HPA's utilisation view"),
            "rollout_drain_losses": kpi(drain_losses, "requests", "502/no-response while old pods terminated", "lower"),
            "rollout_undrained_pods": kpi(
                sum(1 for e in terminated if not e.get("drained")), "pods", "old pods stopped before draining", "lower"
            ),
        }
    )


def event_entries(
    events: list[dict[str, Any]],
    hists: ClientHistograms,
    slo: dict[str, Any],
    duration_s: float,
    at_s: FloatArray,
    ready: FloatArray,
    fail_codes: pd.DataFrame,
    hpa: pd.DataFrame,
) -> list[dict[str, Any]]:
    """summary.json `events`: one entry per performed event with its three windows."""
    spans = event_spans(events, duration_s)
    entries = []
    for index, span in enumerate(spans):
        before_start = spans[index - 1].end_s if index else 0.0
        after_end = spans[index + 1].start_s if index + 1 < len(spans) else duration_s
        windows = [
            ("before", min(before_start, span.start_s), span.start_s),
            ("during", span.start_s, min(span.end_s, duration_s)),
            ("after", min(span.end_s, duration_s), max(after_end, min(span.end_s, duration_s))),
        ]
        entry: dict[str, Any] = {
            "name": span.name,
            "kind": span.kind,
            "state": span.state,
            "start_s": clean(span.start_s),
            "end_s": clean(span.end_s),
            "params": span.params,
            "error": span.error,
            "back_within_slo_s": clean(back_within_slo_s(hists, span.start_s, after_end, slo)),
            "fail_codes": codes_in(fail_codes, span.start_s, span.end_s),
            "phases": [
                {
                    "name": label,
                    "start_s": clean(start),
                    "end_s": clean(end),
                    "kpis": kpis_as_dict(window_kpis(hists, start, end, slo, at_s, ready, events)),
                }
                for label, start, end in windows
            ],
        }
        if span.kind == "rollout":
            entry["rollout"] = rollout_kpis(span, hists, fail_codes, events, hpa, at_s, ready)
        entries.append(entry)
    return entries
