"""Comparing runs: groups of repeated runs, a KPI table with winners, CIs, and a verdict.

`compare_runs(paths)` reads each run's summary (computing it when summary.json is absent), groups
runs by (scenario, variant) — repeated runs of the same variant form one group — and builds a
`Comparison`: one `KpiRow` per KPI with each group's statistics, the winner (respecting `better`),
and the difference of every group against the reference group (the first one) with a bootstrap
confidence interval and a significance flag (see `analysis/stats.py`). The verdict only calls a
winner on a KPI when the difference is significant; everything else is reported as noise.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hpabench.analysis import catalogue, stats
from hpabench.analysis.kpi import Better, entry_value
from hpabench.analysis.rundata import RunData, load_run
from hpabench.analysis.series_grid import run_timeline
from hpabench.analysis.summary import SCHEMA_VERSION, build_summary
from hpabench.errors import SpecError, SpecIssue
from hpabench.rundir import SUMMARY


@dataclass(frozen=True)
class RunRef:
    """One run in a comparison: identity, its summary.json dict and its compact timeline.

    `timeline` is `analysis.timeline.run_timeline(run)`: one row per second of load time with
    `t_s`, `planned`, `achieved_rps`, `p50_ms`, `p95_ms`, `p99_ms`, `error_ratio`,
    `ready_replicas`, `desired_replicas` (NaN where unknown) — what the overlaid charts draw.
    """

    run_id: str
    path: Path
    scenario: str
    variant: str
    status: str
    flags: tuple[str, ...]
    summary: dict[str, Any]
    timeline: pd.DataFrame


@dataclass(frozen=True)
class GroupStats:
    """A KPI over the runs of one group: `values` are the non-null per-run values, in run order."""

    n: int
    mean: float | None
    median: float | None
    stdev: float | None
    min: float | None
    max: float | None
    values: tuple[float, ...]


@dataclass(frozen=True)
class Difference:
    """`group` minus `reference` for one KPI, in the KPI's unit.

    `estimate` = statistic(group) - statistic(reference) with `statistic` "mean" (or "median");
    `relative` = estimate / |statistic(reference)| (None when the reference is 0 or null);
    `ci_low`/`ci_high`: the bootstrap percentile interval at `confidence` (None with fewer than
    2 runs per side: one run cannot measure noise); `significant`: the interval excludes 0.
    `improved`: the difference goes in the KPI's `better` direction (None for informational KPIs).
    """

    kpi: str
    group: str
    reference: str
    statistic: str
    estimate: float | None
    relative: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    significant: bool
    improved: bool | None
    n_group: int
    n_reference: int


@dataclass(frozen=True)
class KpiRow:
    """One line of the KPI table.

    `stats` maps group key → GroupStats (n=0 and None statistics when no run had a value);
    `winner` is the group key with the best mean per `better` (None for informational KPIs,
    ties, or fewer than two groups with values); `winner_significant` says whether the winner
    beats every other group significantly. `differences` holds one entry per non-reference group.
    """

    name: str
    label: str
    unit: str
    better: str | None
    stats: dict[str, GroupStats]
    winner: str | None
    winner_significant: bool
    differences: tuple[Difference, ...]


@dataclass(frozen=True)
class Group:
    """Repeated runs of one scenario+variant. `key` is "<scenario>/<variant>" (unique)."""

    key: str
    scenario: str
    variant: str
    runs: tuple[RunRef, ...]


@dataclass(frozen=True)
class Comparison:
    """The data behind `hpabench compare` and the comparison report.

    - `groups`: in the order their first run was given; `reference` is the first group's key.
    - `rows`: the KPI table (whole-run KPIs, in summary order); `phase_rows`: the same per phase
      name, keyed by phase name (phases present in every group only).
    - `verdict`: a plain-language paragraph; `verdict_lines`: its sentences, for lists.
    - `warnings`: things a reader must know (mixed scenarios, interrupted runs, flags, single
      runs without confidence intervals).
    - `confidence`: the CI level used; `seed`: the bootstrap seed (results are reproducible).
    """

    groups: tuple[Group, ...]
    reference: str
    rows: tuple[KpiRow, ...]
    phase_rows: dict[str, tuple[KpiRow, ...]]
    verdict: str
    verdict_lines: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())
    confidence: float = 0.95
    seed: int = 0

    @property
    def runs(self) -> tuple[RunRef, ...]:
        return tuple(run for group in self.groups for run in group.runs)

    def row(self, name: str) -> KpiRow | None:
        return next((row for row in self.rows if row.name == name), None)


KEY_KPIS = catalogue.key_kpis()
"""The KPIs the verdict talks about (the table shows every KPI); declared in the KPI catalogue."""


def _current_summary(path: Path) -> dict[str, Any] | None:
    """summary.json of the run at `path` when it is readable and of the current schema, else None."""
    file = path / SUMMARY
    if not file.exists():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, OSError):  # undecodable or not JSON: runcheck names it; recompute here
        return None
    if isinstance(data, dict) and data.get("schema_version") == SCHEMA_VERSION and isinstance(data.get("kpis"), dict):
        return data
    return None


def _read_summary(path: Path, run: RunData) -> dict[str, Any]:
    return _current_summary(path) or build_summary(run)


def load_summary(path: Path) -> dict[str, Any]:
    """The summary of the run at `path`: summary.json when current, else computed (not written).
    SpecError when `path` is not a directory."""
    path = Path(path)
    if not path.is_dir():
        raise SpecError(SpecIssue(str(path), "", "is not a run directory"))
    return _current_summary(path) or build_summary(load_run(path))


def load_ref(path: Path) -> RunRef:
    """One run: its summary (summary.json, or computed without writing) and its timeline."""
    path = Path(path)
    if not path.is_dir():
        raise SpecError(SpecIssue(str(path), "", "is not a run directory"))
    run = load_run(path)
    summary = _read_summary(path, run)
    return RunRef(
        run_id=str(summary.get("run_id") or run.run_id),
        path=path,
        scenario=str(summary.get("scenario") or run.scenario_name),
        variant=str(summary.get("variant") or run.variant_name),
        status=str(summary.get("status") or run.status),
        flags=tuple(str(f) for f in summary.get("flags") or ()),
        summary=summary,
        timeline=run_timeline(run),
    )


def group_runs(runs: list[RunRef]) -> tuple[Group, ...]:
    """Group by (scenario, variant), in order of first appearance."""
    order: dict[tuple[str, str], list[RunRef]] = {}
    for run in runs:
        order.setdefault((run.scenario, run.variant), []).append(run)
    return tuple(
        Group(f"{scenario}/{variant}", scenario, variant, tuple(members))
        for (scenario, variant), members in order.items()
    )


def _group_stats(values: list[float | None]) -> GroupStats:
    n, mean, median, stdev = stats.summarize(values)
    present = [v for v in values if v is not None and math.isfinite(v)]
    return GroupStats(
        n=n,
        mean=mean,
        median=median,
        stdev=stdev,
        min=min(present) if present else None,
        max=max(present) if present else None,
        values=tuple(present),
    )


def _improved(estimate: float | None, better: Better) -> bool | None:
    if better is None or estimate is None or estimate == 0:
        return None
    return estimate < 0 if better == "lower" else estimate > 0


def _row(
    name: str,
    meta: dict[str, Any],
    values: dict[str, list[float | None]],
    reference: str,
    confidence: float,
    seed: int,
) -> KpiRow:
    better: Better = meta.get("better") if meta.get("better") in ("lower", "higher") else None
    group_stats = {key: _group_stats(vals) for key, vals in values.items()}
    differences = []
    for key, vals in values.items():
        if key == reference:
            continue
        ci = stats.bootstrap_difference(vals, values[reference], confidence=confidence, seed=seed)
        differences.append(
            Difference(
                kpi=name,
                group=key,
                reference=reference,
                statistic="mean",
                estimate=ci.estimate,
                relative=stats.relative(ci.estimate, group_stats[reference].mean),
                ci_low=ci.low,
                ci_high=ci.high,
                confidence=confidence,
                significant=ci.significant,
                improved=_improved(ci.estimate, better),
                n_group=ci.n_group,
                n_reference=ci.n_reference,
            )
        )
    winner, winner_significant = _winner(better, values, group_stats, confidence, seed)
    return KpiRow(
        name=name,
        label=str(meta.get("label") or name),
        unit=str(meta.get("unit") or ""),
        better=better,
        stats=group_stats,
        winner=winner,
        winner_significant=winner_significant,
        differences=tuple(differences),
    )


def _winner(
    better: Better,
    values: dict[str, list[float | None]],
    group_stats: dict[str, GroupStats],
    confidence: float,
    seed: int,
) -> tuple[str | None, bool]:
    measured = {key: s.mean for key, s in group_stats.items() if s.mean is not None}
    if better is None or len(measured) < 2:
        return None, False
    ranked = sorted(measured.items(), key=lambda item: item[1], reverse=better == "higher")
    if ranked[0][1] == ranked[1][1]:
        return None, False
    winner = ranked[0][0]
    beats_all = all(
        stats.bootstrap_difference(values[winner], values[other], confidence=confidence, seed=seed).significant
        for other in measured
        if other != winner
    )
    return winner, beats_all


def _kpi_rows(
    groups: tuple[Group, ...],
    kpi_lists: dict[str, list[dict[str, Any]]],
    reference: str,
    confidence: float,
    seed: int,
) -> tuple[KpiRow, ...]:
    """Rows for every KPI name present in any run; `kpi_lists[group]` holds each run's kpis dict."""
    names: list[str] = []
    meta: dict[str, dict[str, Any]] = {}
    for group in groups:
        for kpis in kpi_lists[group.key]:
            for name, entry in kpis.items():
                if name not in meta and isinstance(entry, dict):
                    names.append(name)
                    meta[name] = entry
    rows = []
    for name in names:
        values = {group.key: [entry_value(kpis.get(name)) for kpis in kpi_lists[group.key]] for group in groups}
        rows.append(_row(name, meta[name], values, reference, confidence, seed))
    return tuple(rows)


def _phase_rows(
    groups: tuple[Group, ...], reference: str, confidence: float, seed: int
) -> dict[str, tuple[KpiRow, ...]]:
    per_group: list[set[str]] = []
    for group in groups:
        names: set[str] | None = None
        for run in group.runs:
            run_names = {str(p.get("name")) for p in run.summary.get("phases") or []}
            names = run_names if names is None else names & run_names
        per_group.append(names or set())
    common = set.intersection(*per_group) if per_group else set()
    order = [str(p.get("name")) for p in groups[0].runs[0].summary.get("phases") or []] if groups else []
    out: dict[str, tuple[KpiRow, ...]] = {}
    for phase in [name for name in order if name in common]:
        kpi_lists = {
            group.key: [
                next((p.get("kpis") or {} for p in run.summary.get("phases") or [] if p.get("name") == phase), {})
                for run in group.runs
            ]
            for group in groups
        }
        out[phase] = _kpi_rows(groups, kpi_lists, reference, confidence, seed)
    return out


def _format(value: float, unit: str) -> str:
    if unit == "ratio" and abs(value) < 1:
        return f"{value * 100:.2f} pp"  # a difference of ratios, in percentage points
    magnitude = abs(value)
    text = f"{value:.0f}" if magnitude >= 100 else f"{value:.1f}" if magnitude >= 10 else f"{value:.2f}"
    return f"{text} {unit}".strip()


def _describe(difference: Difference, row: KpiRow) -> str:
    assert difference.estimate is not None
    change = _format(abs(difference.estimate), row.unit)
    direction = "lower" if difference.estimate < 0 else "higher"
    rel = f" ({difference.relative * 100:+.0f} %)" if difference.relative is not None else ""
    ci = ""
    if difference.ci_low is not None and difference.ci_high is not None:
        ci = (
            f", {difference.confidence * 100:.0f} % CI [{_format(difference.ci_low, row.unit)}, "
            f"{_format(difference.ci_high, row.unit)}]"
        )
    return f"{row.label}: {change} {direction}{rel}{ci}"


def _verdict(groups: tuple[Group, ...], rows: tuple[KpiRow, ...], reference: str, confidence: float) -> tuple[str, ...]:
    if len(groups) < 2:
        only = groups[0] if groups else None
        if only is None:
            return ("No runs to compare.",)
        return (
            f"All {len(only.runs)} run(s) are {only.key}: there is nothing to compare against; "
            "the table shows their spread.",
        )
    lines = []
    key_rows = [row for row in rows if row.name in KEY_KPIS and row.better is not None]
    for group in groups:
        if group.key == reference:
            continue
        ref_n = len(next(g for g in groups if g.key == reference).runs)
        better, worse, noise = [], [], []
        for row in key_rows:
            diff = next((d for d in row.differences if d.group == group.key), None)
            if diff is None or diff.estimate is None:
                continue
            if diff.significant and diff.improved is True:
                better.append(_describe(diff, row))
            elif diff.significant and diff.improved is False:
                worse.append(_describe(diff, row))
            else:
                noise.append(row.label)
        head = f"{group.key} ({len(group.runs)} run(s)) against {reference} ({ref_n} run(s)):"
        if better and not worse:
            overall = f"{group.variant} is better"
        elif worse and not better:
            overall = f"{group.variant} is worse"
        elif better and worse:
            overall = f"{group.variant} is a trade-off"
        else:
            overall = "no significant difference"
        lines.append(f"{head} {overall}.")
        if better:
            lines.append(f"Significantly better: {'; '.join(better)}.")
        if worse:
            lines.append(f"Significantly worse: {'; '.join(worse)}.")
        if noise:
            lines.append(f"Within noise at {confidence * 100:.0f} % confidence: {', '.join(noise)}.")
        if min(len(group.runs), ref_n) < stats.DEFAULT_MIN_RUNS:
            lines.append(
                f"With fewer than {stats.DEFAULT_MIN_RUNS} runs per variant no difference is called significant; "
                f"repeat each variant at least {stats.DEFAULT_MIN_RUNS} times for a verdict."
            )
    return tuple(lines)


def _warnings(groups: tuple[Group, ...]) -> tuple[str, ...]:
    out = []
    scenarios = sorted({g.scenario for g in groups})
    if len(scenarios) > 1:
        out.append(
            f"runs of different scenarios are compared ({', '.join(scenarios)}): differences mix load and settings"
        )
    for group in groups:
        for run in group.runs:
            if run.status != "completed":
                out.append(f"{run.run_id} is {run.status}: its KPIs cover only what was measured")
            noisy = [f for f in run.flags if f not in ("interrupted", "failed")]
            if noisy:
                out.append(f"{run.run_id} is flagged: {', '.join(noisy)}")
    return tuple(out)


def compare_runs(paths: list[Path], *, confidence: float = 0.95, seed: int = 0) -> Comparison:
    """Compare the runs at `paths` (see the module docstring). Raises SpecError for a path that is
    not a run directory or an empty list."""
    if not paths:
        raise SpecError(SpecIssue("compare", "runs", "no run directories given"))
    runs = [load_ref(Path(p)) for p in paths]
    groups = group_runs(runs)
    reference = groups[0].key
    kpi_lists = {g.key: [dict(r.summary.get("kpis") or {}) for r in g.runs] for g in groups}
    rows = _kpi_rows(groups, kpi_lists, reference, confidence, seed)
    lines = _verdict(groups, rows, reference, confidence)
    return Comparison(
        groups=groups,
        reference=reference,
        rows=rows,
        phase_rows=_phase_rows(groups, reference, confidence, seed),
        verdict=" ".join(lines),
        verdict_lines=lines,
        warnings=_warnings(groups),
        confidence=confidence,
        seed=seed,
    )
