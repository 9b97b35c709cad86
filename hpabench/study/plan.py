"""The run order of a study (pure and seeded).

Contract: `plan_runs(spec)` lists every (scenario, variant, repetition) cell once. Repetition r
is one block holding every scenario × variant cell, in an order shuffled with
`numpy.random.default_rng([seed, r])`, so machine drift (thermal, noisy neighbours, a slowly
filling disk) spreads over all variants instead of landing on whichever ran last, and any
prefix of the plan holds complete repetitions. Every local run redeploys from the manifests'
starting replicas, which is the reset between runs; there is no deploy to share, so the order
does not need to group deploy-time settings.

HPA sync phase: with `sync_phase.mode: seeded` each run gets `sync_phase` in [0, 1) — where in
its sync period the HPA controller's first sync after the load start falls, as a fraction of the
period. With `hold_across_variants` one phase is drawn per (scenario, repetition) and shared by
its variants (common random numbers: a difference between variants is then not a difference in
sync luck); otherwise one per run. `free` leaves it None (measured afterwards, not controlled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpabench.study.spec import StudySpec


@dataclass(frozen=True)
class PlannedRun:
    index: int  # 0-based position in the run order
    scenario: str
    variant: str
    repetition: int  # 1-based
    sync_phase: float | None

    @property
    def key(self) -> str:
        """Stable identity of the cell, used to resume: `scenario/variant/rN`."""
        return f"{self.scenario}/{self.variant}/r{self.repetition}"


def plan_runs(spec: StudySpec) -> list[PlannedRun]:
    """See the module docstring."""
    variants = [entry.name for entry in spec.variant_entries()]
    runs: list[PlannedRun] = []
    for repetition in range(1, spec.repetitions + 1):
        rng = np.random.default_rng([spec.seed, repetition])
        phases = {scenario: float(rng.uniform(0.0, 1.0)) for scenario in spec.scenarios}
        cells = [(scenario, variant) for scenario in spec.scenarios for variant in variants]
        order = rng.permutation(len(cells))
        for position in order:
            scenario, variant = cells[int(position)]
            if spec.sync_phase.mode == "free":
                phase = None
            elif spec.sync_phase.hold_across_variants:
                phase = phases[scenario]
            else:
                phase = float(rng.uniform(0.0, 1.0))
            runs.append(PlannedRun(len(runs), scenario, variant, repetition, phase))
    return runs
