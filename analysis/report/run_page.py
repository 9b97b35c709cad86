"""The per-run HTML report (`report.html`): header, flags, KPI cards, the shared timeline, the
scale-lag breakdown, the phase table and the run details.

Contract:
* `render_run_report(run, summary, plotlyjs=, plotlyjs_src=) -> str` is pure (no I/O): an
  offline page (plotly.js inline, or linked from `plotlyjs_src` for `shared`) in which every
  user-provided string (names, descriptions, labels, event messages) is escaped, in HTML and
  in the figure JSON. Missing data never raises: a panel or section says "no data" instead.
* `write_run_report(run_path, plotlyjs="embed") -> Path` loads the run, reads `summary.json`
  (or computes the summary through the analysis API when it is absent, unreadable or of another
  schema version — the page then says so), writes `report.html` atomically and returns its
  path; `shared` also writes one plotly.js copy into the run's parent folder. A path that is
  not a run directory raises `SpecError` naming it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hpabench.analysis.report import errors_table, events_section, lag, run_series, summaryview
from hpabench.analysis.report.figures import chart
from hpabench.analysis.report.htmlkit import banner, esc, footer, page, section, status_badge, table
from hpabench.analysis.report.plotlyjs import PlotlyJsMode, check_mode, script_tag, shared_file_name, write_shared_copy
from hpabench.analysis.report.scales import format_elapsed, format_number
from hpabench.analysis.report.timeline_figure import timeline_figure
from hpabench.analysis.rundata import RunData, load_run
from hpabench.analysis.summary import SCHEMA_VERSION, build_summary
from hpabench.contract import write_text_atomic
from hpabench.errors import SpecError, SpecIssue

# Flags a reader must not miss, with what they mean for the numbers in this report.
FLAG_TEXT = {
    "generator_overloaded": "Load generator overloaded (a generator process above ~70% of a core): "
    "client latencies include the generator's own queueing — treat them as upper bounds.",
    "generator_behind": "Load generator fell behind the intended arrival rate by more than 5%: "
    "the system received less load than planned.",
    "cgroups_not_enforced": "CPU/memory limits were not enforced (no usable cgroups): pods were not "
    "throttled, so CPU use and scaling differ from a real cluster.",
}
STATUS_FLAGS = {"interrupted", "failed"}
BAD_FLAGS = {"generator_overloaded", "generator_behind", "cgroups_not_enforced"}
LOG_EVENT_KINDS = (
    "warning",
    "fault",
    "pod_crashed",
    "pod_restarted",
    "hpa_condition",
    "generator_overloaded",
    "generator_behind",
)
MAX_LOG_ROWS = 300


def run_flags(run: RunData, summary: Mapping[str, Any]) -> list[str]:
    """Flags from the summary and the manifest, plus `cgroups_not_enforced` from the host facts."""
    flags: list[str] = []
    for source in (summary.get("flags"), run.manifest.get("flags")):
        if isinstance(source, list):
            flags += [str(f) for f in source if str(f) not in flags]
    host = run.manifest.get("host")
    if isinstance(host, Mapping) and host.get("cgroups_enforced") is False and "cgroups_not_enforced" not in flags:
        flags.append("cgroups_not_enforced")
    return flags


def _first_event_t(run: RunData, kind: str) -> float | None:
    times = [float(e["t_s"]) for e in run.events if e.get("kind") == kind]
    return min(times) if times else None


def _header(run: RunData, summary: Mapping[str, Any]) -> str:
    scenario = str(summary.get("scenario") or run.scenario_name)
    variant = str(summary.get("variant") or run.variant_name)
    status = str(run.manifest.get("status") or summary.get("status") or "unknown")
    meta: list[tuple[str, str]] = [("target", str(summary.get("target") or run.target))]
    started = run.manifest.get("load_started_at")
    if isinstance(started, (int, float)) and not isinstance(started, bool):
        meta.append(("load started", datetime.fromtimestamp(started, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")))
    meta.append(("load duration", format_elapsed(run.load_duration_s)))
    time_scale = run.manifest.get("time_scale")
    if isinstance(time_scale, (int, float)) and time_scale != 1:
        meta.append(("time scale", f"{time_scale:g}"))
    host = run.manifest.get("host")
    if isinstance(host, Mapping):
        cgroup = f"cgroup {_cgroup_label(host.get('cgroup_version'))}"
        meta.append(("host", f"{host.get('hostname', '?')} · {host.get('cpus', '?')} CPUs · {cgroup}"))
    sha = run.manifest.get("git_sha")
    if isinstance(sha, str) and sha:
        meta.append(("git", sha[:12]))
    meta_html = "".join(f"<span>{esc(k)}: <b>{esc(v)}</b></span>" for k, v in meta)
    descriptions = []
    for kind in ("scenario", "variant"):
        spec = run.manifest.get(kind)
        if isinstance(spec, Mapping) and spec.get("description"):
            descriptions.append(f"<b>{esc(kind)}</b>: {esc(spec['description'])}")
    desc_html = f'<p class="sub">{" · ".join(descriptions)}</p>' if descriptions else ""
    return (
        f"<header><h1>{esc(scenario)} · {esc(variant)}{status_badge(status)}</h1>"
        f'<p class="sub">run {esc(summary.get("run_id") or run.run_id)}</p>'
        f'<div class="meta">{meta_html}</div>{desc_html}{_key_numbers(run, summary)}</header>'
    )


def _key_numbers(run: RunData, summary: Mapping[str, Any]) -> str:
    """One line of the numbers people quote: p95, errors, peak ready replicas, requests."""
    parts = []
    for name in ("p95_ms", "error_rate", "slo_violation_pct", "scale_up_ready_s"):
        entry = summaryview.kpis(summary).get(name)
        if entry is not None:
            parts.append(f"{esc(summaryview.label_of(name, entry))} <b>{summaryview.display(entry)}</b>")
    for name, label in (("max_replicas", "max web pods"), ("requests", "requests")):
        value = summaryview.kpi_value(summary, name)
        if value is not None:
            parts.append(f"{esc(label)} <b>{format_number(value)}</b>")
    return f'<p class="keynums">{" · ".join(parts)}</p>' if parts else ""


def _status_banner(run: RunData) -> str:
    status = str(run.manifest.get("status") or "")
    if status not in ("interrupted", "failed", "running"):
        return ""
    planned_s = float(run.planned["t_s"].max()) + 1.0 if not run.planned.empty else math.nan
    lines = [f"The load phase ran {format_elapsed(run.load_duration_s)} of {format_elapsed(planned_s)} planned."]
    error = run.manifest.get("error")
    if error:
        lines.append(f"Error: {error}")
    lines.append("Everything below is the partial data that was recorded; KPIs cover only that part.")
    title = {"interrupted": "Run INTERRUPTED", "failed": "Run FAILED", "running": "Run still RUNNING (or crashed)"}
    return banner("bad" if status == "failed" else "warn", title[status], lines)


def _flags_banner(run: RunData, summary: Mapping[str, Any]) -> str:
    # `interrupted`/`failed` are flags too, but the status banner already says so.
    flags = [f for f in run_flags(run, summary) if f not in STATUS_FLAGS]
    if not flags:
        return ""
    lines = []
    for flag in flags:
        text = FLAG_TEXT.get(flag, flag)
        first = _first_event_t(run, flag)
        if first is not None:
            text += f" (first at {format_elapsed(first)})"
        lines.append(text)
    level = "bad" if any(f in BAD_FLAGS for f in flags) else "warn"
    return banner(level, "Flags — read before trusting the numbers", lines)


def _slo(run: RunData, summary: Mapping[str, Any]) -> dict[str, float]:
    """The SLO the KPIs were judged against: the summary's (it may hold defaults), else the run's."""
    raw = summary.get("slo")
    if isinstance(raw, Mapping):
        slo = {str(k): v for k, v in ((k, summaryview.number(v)) for k, v in raw.items()) if v is not None}
        if slo:
            return slo
    return run.slo


def _notes_banner(run: RunData, summary: Mapping[str, Any]) -> str:
    """Two boxes: what the reader could not read (`run.notes`), then the analysis' other notes
    (faults, errors, how tier links were impaired) — the latter are not missing data."""
    missing = list(run.notes)
    extra = summary.get("notes")
    other = [str(n) for n in extra if str(n) not in missing] if isinstance(extra, list) else []
    return (banner("warn", "Missing or unreadable data", missing) if missing else "") + (
        banner("warn", "Notes — read with the numbers", other) if other else ""
    )


def _details(run: RunData, summary: Mapping[str, Any]) -> str:
    parts = []
    pods = summaryview.pods_table(summary)
    if pods:
        parts.append("<h3>Web pods</h3>" + pods)
    scenario = run.manifest.get("scenario")
    stages = scenario.get("stages") if isinstance(scenario, Mapping) else None
    if isinstance(stages, list) and stages:
        keys: list[str] = []
        for stage in stages:
            if isinstance(stage, Mapping):
                keys += [str(k) for k in stage if str(k) not in keys]
        rows = [[esc(s.get(k, "")) if isinstance(s, Mapping) else "" for k in keys] for s in stages]
        parts.append("<h3>Scenario stages</h3>" + table(keys, rows))
    for key in ("variant", "hpa_settings", "versions"):
        value = run.manifest.get(key)
        if value:
            parts.append(
                f"<h3>{esc(key)}</h3><pre>{esc(json.dumps(value, indent=2, sort_keys=True, default=str))}</pre>"
            )
    log = [e for e in run.events if e.get("kind") in LOG_EVENT_KINDS]
    if log:
        rows = [
            [esc(format_elapsed(float(e["t_s"]))), esc(e.get("kind")), esc(_event_text(e))] for e in log[:MAX_LOG_ROWS]
        ]
        more = f'<p class="note">{len(log) - MAX_LOG_ROWS} more in events.jsonl</p>' if len(log) > MAX_LOG_ROWS else ""
        parts.append("<h3>Warnings and notable events</h3>" + table(["t", "kind", "detail"], rows, "log") + more)
    return "<details><summary>Run details</summary>" + "".join(parts) + "</details>" if parts else ""


def _event_text(event: Mapping[str, Any]) -> str:
    skip = {"ts", "t_s", "kind"}
    return ", ".join(f"{k}={event[k]}" for k in sorted(event) if k not in skip)


TIMELINE_NOTE = (
    "Time since the load started; drag to zoom (every panel follows), double-click to reset, the "
    "buttons select a load stage, click a legend entry to hide a line. Shaded: load stages, and in "
    "colour scenario events from start to end, their kind written at the top (hover: name, state); vertical "
    "lines: HPA rescales (orange up, blue down); ▲▼ on Replicas: HPA decisions (hover: what it saw and "
    "what held it), ○: a recommendation held back, |: a pod became ready."
)


def render_run_report(
    run: RunData, summary: dict[str, Any], *, plotlyjs: PlotlyJsMode = "embed", plotlyjs_src: str = ""
) -> str:
    """The whole report page for one run (see the module docstring)."""
    lo_s, hi_s = run_series.time_range(run)
    slo = _slo(run, summary)
    figure, reduction = timeline_figure(
        run_series.run_panels(run, slo), lo_s, hi_s, run_series.markers(run), spans=run_series.spans(run)
    )
    timeline = chart(figure, "timeline", label="Run timeline", caption=reduction.describe())
    body = [
        _header(run, summary),
        _status_banner(run),
        _flags_banner(run, summary),
        _notes_banner(run, summary),
        section("Key performance indicators", summaryview.headline_cards(summary, slo)),
        section("Timeline", timeline, TIMELINE_NOTE),
        section(
            "Scaling response and lag breakdown",
            lag.render_lag_section(summary),
            "For each load change: where the time from the change to ready capacity went. Reaction = "
            "first HPA decision in the change's direction; ready capacity = ready replicas reach the "
            "desired count; settled = replicas stop changing.",
        ),
        section("Phases", summaryview.phase_table(summary)),
        events_section.render_events_section(summary),
        section("Routes (client side)", summaryview.routes_table(summary)) if summary.get("routes") else "",
        errors_table.errors_section(summary),
        section("All KPIs", f"<details><summary>show all</summary>{summaryview.all_kpis_table(summary)}</details>"),
        _details(run, summary),
        footer(f"hpabench report · run {run.run_id}"),
    ]
    title = f"hpabench · {summary.get('scenario') or run.scenario_name} · {summary.get('variant') or run.variant_name}"
    return page(title, "\n".join(part for part in body if part), script_tag(plotlyjs, plotlyjs_src))


def _read_summary(run_path: Path, run: RunData) -> dict[str, Any]:
    """summary.json when it is current; else the summary computed now (not written — that is the
    analyze stage's job), with a note saying why, like `compare_runs` does."""
    file = run_path / "summary.json"
    problem = ""
    if file.exists():
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            data, problem = None, f"summary.json unreadable ({exc})"
        if (
            isinstance(data, dict)
            and data.get("schema_version") == SCHEMA_VERSION
            and isinstance(data.get("kpis"), dict)
        ):
            return data
        problem = problem or "summary.json has another schema version or no kpis"
    summary = build_summary(run)
    if problem:
        summary["notes"] = [*summary.get("notes", []), f"{problem}: KPIs recomputed from the run's data"]
    return summary


def check_run_dir(run_path: Path) -> None:
    """Raise SpecError (exit 2) unless `run_path` is a run directory (has manifest.json)."""
    if not run_path.is_dir() or not (run_path / "manifest.json").exists():
        what = "does not exist" if not run_path.exists() else "is not a run directory (no manifest.json)"
        raise SpecError(SpecIssue(str(run_path), "", what))


def load_run_checked(run_path: Path) -> RunData:
    """`load_run`, with a clear input error when `run_path` is not a run directory."""
    check_run_dir(run_path)
    return load_run(run_path)


def write_run_report(run_path: Path, plotlyjs: str = "embed") -> Path:
    """Render `<run_path>/report.html` (see the module docstring) and return its path."""
    mode = check_mode(plotlyjs)
    run_path = Path(run_path)
    run = load_run_checked(run_path)
    summary = _read_summary(run_path, run)
    src = ""
    if mode == "shared":
        write_shared_copy(run_path.resolve().parent)
        src = f"../{shared_file_name()}"
    out = run_path / "report.html"
    write_text_atomic(out, render_run_report(run, summary, plotlyjs=mode, plotlyjs_src=src))
    return out


__all__ = ["render_run_report", "run_flags", "write_run_report"]


def _cgroup_label(version: object) -> str:
    """`v1`, `v2` or `none` as recorded (older manifests say `1` / `2`): never `vv1`."""
    text = str(version) if version is not None else "?"
    return text if text.startswith("v") or not text[:1].isdigit() else f"v{text}"
