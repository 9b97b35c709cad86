"""The comparison report: several runs (usually one scenario, several variants, repeated runs
grouped) side by side — the plain-language verdict, the KPI table with the winner per row and
the differences against the reference group with confidence intervals and a significance flag,
and the runs' timelines overlaid on one shared time axis (per group: the mean with its
confidence band; each run behind a legend toggle).

Contract:
* `render_compare_report(comparison, plotlyjs=, plotlyjs_src=) -> str` is pure: an offline
  page; every user-provided string (run ids, scenario/variant names, KPI labels, verdict text)
  is escaped, in HTML and in the figure JSON.
* `write_compare_report(paths, out_path, plotlyjs="embed") -> Path` runs `compare_runs(paths)`,
  writes the page atomically to `out_path` (parent folders created) and returns it; `shared`
  also writes one plotly.js copy beside it. A path that is not a run directory raises
  `SpecError` naming it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from hpabench.analysis.compare import Comparison, Difference, GroupStats, KpiRow
from hpabench.analysis.report.figures import chart
from hpabench.analysis.report.htmlkit import banner, esc, footer, format_value, page, section, status_badge, table
from hpabench.analysis.report.overlays import group_colors, overlay_panels
from hpabench.analysis.report.plotlyjs import PlotlyJsMode, check_mode, script_tag, write_shared_copy
from hpabench.analysis.report.run_page import FLAG_TEXT, check_run_dir
from hpabench.analysis.report.scales import format_number
from hpabench.analysis.report.summaryview import HEADLINE_KPIS, PHASE_KPIS
from hpabench.analysis.report.timeline_figure import timeline_figure
from hpabench.contract import write_text_atomic


def _stat_cell(stats: GroupStats | None, unit: str) -> str:
    """Mean (± stdev over n runs) of one group, as HTML."""
    if stats is None or stats.n == 0 or stats.mean is None:
        return "–"
    text = _value(stats.mean, unit)
    if stats.n > 1 and stats.stdev is not None:
        ratio = unit in ("ratio", "fraction")
        spread = f"{format_number(stats.stdev * 100)} pp" if ratio else format_number(stats.stdev)
        text += f' <span class="note">± {esc(spread)} (n={stats.n})</span>'
    return text


def _value(value: float | None, unit: str) -> str:
    if unit in ("ratio", "fraction") and value is not None:
        return format_value(100.0 * value, "%")
    return format_value(value, unit)


def _signed(value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    scale = 100.0 if unit in ("ratio", "fraction") else 1.0
    shown_unit = "pp" if scale == 100.0 else unit
    text = format_number(abs(value) * scale)
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{text} {esc(shown_unit)}".rstrip()


def _difference_cell(diff: Difference | None, unit: str) -> str:
    """`+12 ms (+8%) [CI 3 … 21] ✔ significant` with the direction judged by `better`."""
    if diff is None or diff.estimate is None:
        return "–"
    parts = [_signed(diff.estimate, unit)]
    if diff.relative is not None and math.isfinite(diff.relative):
        parts.append(f"({'+' if diff.relative >= 0 else '−'}{format_number(abs(diff.relative) * 100, 2)}%)")
    if diff.ci_low is not None and diff.ci_high is not None:
        scale = 100.0 if unit in ("ratio", "fraction") else 1.0
        level = format_number(diff.confidence * 100, 2)
        parts.append(
            f'<span class="note">{level}% CI [{esc(format_number(diff.ci_low * scale))} … '
            f"{esc(format_number(diff.ci_high * scale))}]</span>"
        )
    else:
        parts.append('<span class="note">(no CI: needs ≥2 runs per side)</span>')
    if diff.significant:
        mark = {True: "better", False: "worse", None: "different"}[diff.improved]
        parts.append(f'<span class="sig">✔ significant, {mark}</span>')
    else:
        parts.append('<span class="nosig">not significant</span>')
    return " ".join(parts)


def _kpi_table(rows: Sequence[KpiRow], comparison: Comparison) -> str:
    groups = [g.key for g in comparison.groups]
    others = [g for g in groups if g != comparison.reference]
    header = ["KPI", *[f"{g}{' (reference)' if g == comparison.reference else ''}" for g in groups]]
    header += [f"{g} vs reference" for g in others]
    body = []
    for row in rows:
        arrow = {"lower": " ↓ better", "higher": " ↑ better"}.get(str(row.better), "")
        unit = "%" if row.unit in ("ratio", "fraction") else row.unit
        cells = [f'{esc(row.label)} <span class="note">({esc(unit)}){esc(arrow)}</span>']
        for key in groups:
            cell = _stat_cell(row.stats.get(key), row.unit)
            if row.winner == key:
                tag = "winner" if row.winner_significant else "best, not significant"
                cells.append(f'<span class="win-cell">{cell} <span class="tag">{esc(tag)}</span></span>')
            else:
                cells.append(cell)
        by_group = {d.group: d for d in row.differences}
        cells += [_difference_cell(by_group.get(key), row.unit) for key in others]
        body.append(cells)
    if not body:
        return '<p class="note">No KPIs to compare.</p>'
    html = table(header, body, "kpi-compare")
    # Highlight the winner's cell (the marker span is ours, not user text).
    return html.replace('<td><span class="win-cell">', '<td class="win"><span class="win-cell">')


def _runs_table(comparison: Comparison) -> str:
    colors = group_colors(comparison)
    rows = []
    for group in comparison.groups:
        for run in group.runs:
            swatch = f'<span class="sw" style="background:{colors[group.key]}"></span>'
            flags = ", ".join(run.flags) if run.flags else ""
            rows.append([swatch + esc(group.key), esc(run.run_id), status_badge(run.status), esc(flags)])
    return table(["group", "run", "status", "flags"], rows)


def _flags_banner(comparison: Comparison) -> str:
    lines = list(comparison.warnings)
    for run in comparison.runs:
        for flag in run.flags:
            lines.append(f"{run.run_id}: {FLAG_TEXT.get(flag, flag)}")
        if run.status != "completed":
            lines.append(f"{run.run_id}: status {run.status} — its KPIs cover partial data.")
    return banner("warn", "Read before trusting the comparison", lines) if lines else ""


def _verdict(comparison: Comparison) -> str:
    lines = comparison.verdict_lines or ((comparison.verdict,) if comparison.verdict else ())
    body = "".join(f"<p>{esc(line)}</p>" for line in lines) or "<p>No verdict.</p>"
    return f'<div class="verdict">{body}</div>'


def _split(rows: Sequence[KpiRow], headline: Sequence[str]) -> tuple[list[KpiRow], list[KpiRow]]:
    """(rows named in `headline`, in that order; all rows) — the short table and the full one."""
    by_name = {row.name: row for row in rows}
    return [by_name[n] for n in headline if n in by_name], list(rows)


def _kpi_tables(rows: Sequence[KpiRow], comparison: Comparison, headline: Sequence[str]) -> str:
    """The headline KPIs as a table, every KPI in a collapsed table below it."""
    short, full = _split(rows, headline)
    if not short:
        return f'<div class="scroll">{_kpi_table(full, comparison)}</div>'
    return (
        f'<div class="scroll">{_kpi_table(short, comparison)}</div>'
        f'<details><summary>all {len(full)} KPIs</summary><div class="scroll">'
        f"{_kpi_table(full, comparison)}</div></details>"
    )


def render_compare_report(comparison: Comparison, *, plotlyjs: PlotlyJsMode = "embed", plotlyjs_src: str = "") -> str:
    """The whole comparison page (see the module docstring)."""
    scenarios = sorted({g.scenario for g in comparison.groups})
    title = f"{' / '.join(scenarios) or 'comparison'}: {' vs '.join(g.variant for g in comparison.groups)}"
    panels, end_s = overlay_panels(comparison)
    figure, reduction = timeline_figure(panels, 0.0, end_s, (), one_legend=True)
    overlay = chart(figure, "compare-timeline", label="Overlaid timelines", caption=reduction.describe())
    phase_html = "".join(
        f"<h3>{esc(name)}</h3>{_kpi_tables(rows, comparison, PHASE_KPIS)}"
        for name, rows in comparison.phase_rows.items()
    )
    ci = format_number(comparison.confidence * 100, 2)
    body = [
        f'<header><h1>{esc(title)}</h1><p class="sub">{len(comparison.runs)} runs in '
        f"{len(comparison.groups)} groups · reference: <b>{esc(comparison.reference)}</b></p></header>",
        _flags_banner(comparison),
        section("Verdict", _verdict(comparison)),
        section(
            "Key KPIs",
            _kpi_tables(comparison.rows, comparison, HEADLINE_KPIS),
            f"Mean per group (± standard deviation over repeated runs). Differences against the reference "
            f"with {ci}% bootstrap confidence intervals (seed {comparison.seed}); a difference whose "
            "interval contains 0 is reported as not significant — noise, not a win.",
        ),
        section(
            "Timelines (overlaid)",
            overlay,
            f"Time since each run's load started. One colour per group: the mean of its runs with the "
            f"{ci}% confidence band of that mean (groups of one run: the run). Each run is a dotted line, "
            "hidden until its legend entry is clicked. Drag to zoom every panel, double-click to reset.",
        ),
        section("KPIs per phase", phase_html or '<p class="note">No phase common to every group.</p>'),
        section("Runs", _runs_table(comparison)),
        footer("hpabench comparison"),
    ]
    return page(f"hpabench · {title}", "\n".join(part for part in body if part), script_tag(plotlyjs, plotlyjs_src))


def write_compare_report(paths: Sequence[Path], out_path: Path, plotlyjs: str = "embed") -> Path:
    """Compare the runs at `paths` and write the page to `out_path` (see the module docstring)."""
    from hpabench.analysis.compare import compare_runs

    mode = check_mode(plotlyjs)
    run_paths = [Path(p) for p in paths]
    for path in run_paths:
        check_run_dir(path)
    comparison = compare_runs(run_paths)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    src = write_shared_copy(out_path.parent).name if mode == "shared" else ""
    write_text_atomic(out_path, render_compare_report(comparison, plotlyjs=mode, plotlyjs_src=src))
    return out_path
