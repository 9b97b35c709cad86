"""The busiest second of the run: what the system actually served at its peak.

(Also the worked example of adding a KPI: this module plus its name in `CONCERN_MODULES`.)
"""

from __future__ import annotations

import numpy as np

from hpabench.analysis.catalogue import PHASE, RUN, KpiDefinition, register
from hpabench.analysis.facts import RunFacts, Window


def _peak_rps(facts: RunFacts, window: Window) -> float | None:
    achieved = np.asarray(facts.per_second["achieved_rps"], dtype=float)[window.mask(facts.at_s)]
    return float(np.nanmax(achieved)) if np.isfinite(achieved).any() else None


register(
    KpiDefinition(
        "peak_rps", "req/s", "busiest second: requests achieved", _peak_rps, "higher", frozenset({RUN, PHASE})
    )
)
