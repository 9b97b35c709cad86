"""Comparing runs: groups of repeated runs, a KPI table with winners, CIs, and a verdict.

`compare_runs(paths)` reads each run's summary (computing it when summary.json is absent), groups
runs by (scenario, variant) — repeated runs of the same variant form one group — and builds a
`Comparison`: one `KpiRow` per KPI with each group's statistics, the winner (respecting `better`),
and the difference of every group against the reference group (the first one) with a bootstrap
confidence interval and a significance flag (see `analysis/stats.py`). The verdict only calls a
winner on a KPI when the difference is significant; everything else is reported as noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


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


def compare_runs(paths: list[Path], *, confidence: float = 0.95, seed: int = 0) -> Comparison:
    """Compare the runs at `paths` (see the module docstring)."""
    raise NotImplementedError("statistics land in the next commit")
