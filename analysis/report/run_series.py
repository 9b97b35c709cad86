"""From a loaded run (`RunData`) to the panels and markers of the run report's shared timeline.

Every function here only *selects and reshapes* data for drawing (x = `t_s`, seconds since the
load start); none computes a number shown as a KPI. The one derived series is the traffic share:
each pod's request rate over the sum, per time bucket. A series that is absent in the run gives an
empty Series (the panel then says "no data"); nothing here raises on missing columns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hpabench.analysis.events import event_spans
from hpabench.analysis.report.downsample import FloatArray, as_float_array
from hpabench.analysis.report.hpa_marks import decision_points, fault_points, ready_points
from hpabench.analysis.report.panels import HLine, Marker, Panel, Series, Span
from hpabench.analysis.rundata import RunData
from hpabench.analysis.series_grid import grid, ready_replicas

PLANNED = "#6b7280"
ACHIEVED = "#2563eb"
INTENDED = "#0891b2"
SERVER = "#9333ea"
P50 = "#16a34a"
P95 = "#ea580c"
P99 = "#dc2626"
READY = "#15803d"
DESIRED = "#c2410c"
SPEC = "#6b7280"
SHARE_BUCKETS = 600  # stacked layers: a mean per bucket, ~2 px each on a 1100 px page
POD_COLORS = ("#2563eb", "#0891b2", "#7c3aed", "#db2777", "#65a30d", "#ca8a04", "#0d9488", "#9333ea")

_EMPTY = np.empty(0, dtype=np.float64)


def _col(frame: pd.DataFrame, column: str) -> FloatArray:
    if frame.empty or column not in frame.columns:
        return _EMPTY
    return as_float_array(pd.to_numeric(frame[column], errors="coerce"))


def _has_values(values: FloatArray) -> bool:
    return bool(values.size) and bool(np.isfinite(values).any())


def _prom(run: RunData, name: str) -> pd.DataFrame:
    frame = run.prom.get(name)
    return frame if frame is not None else pd.DataFrame({"t_s": [], "value": []})


def _prom_total(run: RunData, name: str) -> tuple[FloatArray, FloatArray]:
    """Sum over all label sets per timestamp (e.g. request rate over routes)."""
    frame = _prom(run, name)
    if frame.empty:
        return _EMPTY, _EMPTY
    total = frame.groupby("t_s", sort=True)["value"].sum(min_count=1)
    return as_float_array(total.index), as_float_array(total.to_numpy())


def _prom_single(run: RunData, name: str) -> tuple[FloatArray, FloatArray]:
    """A series expected to have one label set; if several (e.g. two HPAs), the max per time."""
    frame = _prom(run, name)
    if frame.empty:
        return _EMPTY, _EMPTY
    if frame["t_s"].is_unique:
        return _col(frame, "t_s"), _col(frame, "value")
    top = frame.groupby("t_s", sort=True)["value"].max()
    return as_float_array(top.index), as_float_array(top.to_numpy())


def client_all(run: RunData) -> pd.DataFrame:
    """The client stats of route `ALL`; if the driver wrote none, per-second totals over routes
    (requests and failures summed; percentiles are then unknown and left NaN)."""
    client = run.client
    if client.empty:
        return client
    rows = client[client["route"] == "ALL"]
    if not rows.empty:
        return rows
    sums = client.groupby("t_s", sort=True)[["requests", "failures"]].sum().reset_index()
    return sums


def time_range(run: RunData) -> tuple[float, float]:
    """The shared x range: the load phase, widened to any load/client data that ran past it."""
    end = run.load_duration_s
    for frame in (run.client, run.load):
        if not frame.empty and frame["t_s"].notna().any():
            end = max(end, float(frame["t_s"].max()) + 1.0)
    if end <= 0 and not run.planned.empty:
        end = float(run.planned["t_s"].max()) + 1.0
    return 0.0, max(end, 1.0)


def load_panels(run: RunData) -> list[Panel]:
    """Requests/s planned vs intended vs achieved (and server-side); users when a stage is closed."""
    planned_t, planned_rps = _col(run.planned, "t_s"), _col(run.planned, "rps")
    series = []
    if _has_values(planned_rps):
        series.append(Series("planned", planned_t, planned_rps, PLANNED, dash="dash", step=True, width=2))
    load_t = _col(run.load, "t_s")
    intended = _col(run.load, "intended_rps")
    if _has_values(intended):
        series.append(Series("intended (offered)", load_t, intended, INTENDED, width=1.2))
    achieved = _col(run.load, "achieved_rps")
    if not _has_values(achieved):  # fall back to the client's own count
        everything = client_all(run)
        load_t, achieved = _col(everything, "t_s"), _col(everything, "requests")
    series.append(Series("achieved (client)", load_t, achieved, ACHIEVED))
    server_t, server_rps = _prom_total(run, "server_rps_by_route")
    if _has_values(server_rps):
        series.append(Series("served (server-side)", server_t, server_rps, SERVER, width=1.2, dash="dot"))
    panels = [Panel("Load", "req/s", series)]
    planned_users = _col(run.planned, "users")
    if _has_values(planned_users):
        users = [Series("planned users", planned_t, planned_users, PLANNED, dash="dash", step=True, width=2)]
        users.append(Series("users", _col(run.load, "t_s"), _col(run.load, "users"), ACHIEVED, step=True))
        panels.append(Panel("Users (closed model)", "users", users))
    return panels


def latency_panel(run: RunData, slo: Mapping[str, float]) -> Panel:
    everything = client_all(run)
    t = _col(everything, "t_s")
    series = [
        Series("client p50", t, _col(everything, "p50_ms"), P50),
        Series("client p95", t, _col(everything, "p95_ms"), P95, width=2),
        Series("client p99", t, _col(everything, "p99_ms"), P99, width=1.2),
    ]
    server_t, server_p95 = _prom_single(run, "server_p95_ms")
    if _has_values(server_p95):
        series.append(Series("server p95", server_t, server_p95, SERVER, dash="dot", width=1.4))
    slo_p95 = slo.get("p95_ms")
    hlines = [HLine(slo_p95, f"SLO p95 {slo_p95:g} ms")] if slo_p95 is not None else []
    # Overload makes p99 hundreds of times the p50: a log axis keeps both readable.
    return Panel("Latency (log scale)", "ms", series, hlines, log_y=True, y_floor=None)


def error_panel(run: RunData, slo: Mapping[str, float]) -> Panel:
    everything = client_all(run)
    requests = _col(everything, "requests")
    failures = _col(everything, "failures")
    with np.errstate(invalid="ignore", divide="ignore"):
        rate_pct = np.where(requests > 0, 100.0 * failures / requests, np.nan)
    series = [Series("client errors", _col(everything, "t_s"), rate_pct, P99)]
    server_t, server_ratio = _prom_single(run, "server_error_ratio")
    if _has_values(server_ratio):
        series.append(Series("server errors", server_t, 100.0 * server_ratio, SERVER, dash="dot", width=1.2))
    slo_errors = slo.get("error_rate")
    hlines = [HLine(100.0 * slo_errors, f"SLO errors {100.0 * slo_errors:g}%")] if slo_errors is not None else []
    return Panel("Error rate", "%", series, hlines)


def _hpa_setting(run: RunData, key: str) -> float | None:
    variant = run.manifest.get("variant")
    hpa = variant.get("hpa") if isinstance(variant, dict) else None
    value = hpa.get(key) if isinstance(hpa, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def replicas_panel(run: RunData) -> Panel:
    """Ready replicas, the HPA's desired count and the Deployment's spec replicas, as steps."""
    series = []
    # The same source the KPIs use (pod events, else pods frame, else Prometheus), so the drawn
    # curve agrees with "time to ready capacity".
    _, end_s = time_range(run)
    ready_t = grid(end_s)
    ready = ready_replicas(run, ready_t)
    series.append(Series("ready", ready_t, ready, READY, step=True, width=2.2))
    desired_t, desired = _col(run.hpa, "t_s"), _col(run.hpa, "desired_replicas")
    if not _has_values(desired):
        desired_t, desired = _prom_single(run, "hpa_desired_replicas")
    series.append(Series("desired (HPA)", desired_t, desired, DESIRED, step=True, dash="dash", width=1.8))
    spec_t, spec = _prom_single(run, "spec_replicas")
    if _has_values(spec):
        series.append(Series("spec", spec_t, spec, SPEC, step=True, dash="dot", width=1.4))
    hlines = []
    max_replicas = _hpa_setting(run, "max_replicas")
    if max_replicas is not None:
        hlines.append(HLine(max_replicas, f"maxReplicas {max_replicas:g}", color="#6b7280", dash="dot"))
    points = [*decision_points(run), *ready_points(run, ready_t, ready), *fault_points(run)]
    return Panel("Replicas", "pods", series, hlines, points, value_format=".0f")


def cpu_panel(run: RunData) -> Panel:
    """Per-pod CPU (millicores) against the request, the limit and the HPA's target level."""
    frame = _prom(run, "pod_cpu_cores")
    series: list[Series] = []
    if not frame.empty and "pod" in frame.columns:
        for i, (pod, rows) in enumerate(frame.groupby("pod", sort=True)):
            series.append(
                Series(
                    str(pod),
                    _col(rows, "t_s"),
                    1000.0 * _col(rows, "value"),
                    POD_COLORS[i % len(POD_COLORS)],
                    width=1.1,
                    legend_group="per-pod CPU",
                    opacity=0.8,
                )
            )
    pods = run.web_pods()
    request = _median(_col(pods, "cpu_request_millicores"))
    limit = _median(_col(pods, "cpu_limit_millicores"))
    hlines = []
    if request is not None:
        hlines.append(HLine(request, f"request {request:g}m", color="#111827", dash="dash"))
        target = _target_utilization_pct(run)
        if target is not None:
            level = request * target / 100.0
            hlines.append(HLine(level, f"HPA target {target:g}% = {level:g}m", color="#c2410c", dash="dashdot"))
    if limit is not None:
        hlines.append(HLine(limit, f"limit {limit:g}m", color="#b91c1c", dash="dot"))
    return Panel(
        "CPU per pod vs request", "millicores", series, hlines, empty_note="no per-pod CPU data", value_format=".0f"
    )


def share_panel(run: RunData, buckets: int = SHARE_BUCKETS) -> Panel:
    """Each web pod's share of the requests served (%, stacked), as the mean over `buckets`
    equal time buckets — shares are stacked, so every layer needs the same time points."""
    frame = _prom(run, "pod_rps")
    if frame.empty or "pod" not in frame.columns:
        return Panel("Traffic share per pod", "%", empty_note="no per-pod request rates")
    _, end_s = time_range(run)
    width_s = max(end_s / buckets, 1.0)
    rows = frame[["t_s", "pod", "value"]].dropna()
    rows = rows.assign(bucket=(rows["t_s"] // width_s).astype("int64"))
    rates = rows.pivot_table(index="bucket", columns="pod", values="value", aggfunc="mean").fillna(0.0)
    total = rates.sum(axis=1)
    share = rates.div(total.where(total > 0), axis=0) * 100.0
    t = as_float_array((share.index.to_numpy(dtype=np.float64) + 0.5) * width_s)
    series = [
        Series(str(pod), t, as_float_array(share[pod]), POD_COLORS[i % len(POD_COLORS)], stack=True)
        for i, pod in enumerate(share.columns)
    ]
    note = f"mean per {width_s:.2g} s" if width_s > 1.0 else ""
    return Panel("Traffic share per pod", "%", series, value_format=".1f", note=note)


def _median(values: FloatArray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else None


def _target_utilization_pct(run: RunData) -> float | None:
    """The HPA's CPU target in % of request: from the controller's own records, else the variant."""
    if not run.hpa.empty and "metrics" in run.hpa.columns:
        for raw in run.hpa["metrics"].dropna().head(5):
            try:
                metrics = json.loads(raw) if isinstance(raw, str) else raw
            except json.JSONDecodeError:
                continue
            if isinstance(metrics, dict):
                for metric in metrics.values():
                    target = metric.get("target") if isinstance(metric, dict) else None
                    if isinstance(target, (int, float)) and not isinstance(target, bool):
                        return float(target)
    return _hpa_setting(run, "target_cpu_utilization")


def markers(run: RunData) -> list[Marker]:
    """Load-stage starts, HPA rescale decisions, faults and crashes, on the shared axis."""
    out: list[Marker] = []
    for e in run.events:
        kind = e.get("kind")
        t_s = float(e["t_s"])
        if kind == "load_stage":
            out.append(Marker(t_s, str(e.get("name", "stage")), "stage"))
        elif kind == "hpa_rescale":
            before, after = e.get("from"), e.get("to")
            up = isinstance(before, (int, float)) and isinstance(after, (int, float)) and after > before
            out.append(Marker(t_s, f"{before}→{after}", "scale_up" if up else "scale_down", str(e.get("reason", ""))))
        elif kind in ("fault", "pod_crashed"):
            what = str(e.get("message") or e.get("pod") or kind)
            out.append(Marker(t_s, "✕", "fault", f"{kind}: {what}"))
    if not any(m.kind == "stage" for m in out):
        out.extend(_stages_from_planned(run.planned))
    return out


def spans(run: RunData) -> list[Span]:
    """The scenario events that started, each from its start to its end (`scenario_event` rows;
    still running at the end of the data: until the end of the time range), in run seconds —
    the same spans the events section's strip and the per-event KPIs use."""
    _, end_s = time_range(run)
    out = []
    for span in event_spans(run.events, end_s):
        detail = f"{span.name} ({span.kind}, {span.state})"
        if span.error:
            detail += f": {span.error}"
        out.append(Span(span.start_s, span.end_s, span.kind, span.kind, detail))
    return out


def _stages_from_planned(planned: pd.DataFrame) -> Sequence[Marker]:
    if planned.empty or "stage" not in planned.columns:
        return []
    stages = planned["stage"].astype(str).to_numpy()
    t = _col(planned, "t_s")
    starts = np.flatnonzero(np.r_[True, stages[1:] != stages[:-1]])
    return [Marker(float(t[i]), str(stages[i]), "stage") for i in starts]


def run_panels(run: RunData, slo: Mapping[str, float] | None = None) -> list[Panel]:
    """The run report's panels, top to bottom; `slo` (`p95_ms`, `error_rate`) draws reference
    lines (default: the run's own SLO)."""
    slo = run.slo if slo is None else slo
    return [
        *load_panels(run),
        latency_panel(run, slo),
        error_panel(run, slo),
        replicas_panel(run),
        cpu_panel(run),
        share_panel(run),
    ]
