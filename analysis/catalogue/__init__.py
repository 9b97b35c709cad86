"""The KPI catalogue: every KPI of summary.json as data, registered by the concern modules.

A `KpiDefinition` names the KPI and its unit, label and better direction, says where it is
evaluated (`scopes`: the whole load phase and/or each phase), whether it is a headline KPI (its
position on the report's cards), a verdict KPI of a comparison (`key`), and its default gate
threshold; `compute(facts, window)` returns the number (or None: not measurable). The headline
lists, the comparison's key KPIs and the default thresholds are all derived from here.

Adding a KPI = one definition in a module of this package, registered with `register`; a new
module is added to `CONCERN_MODULES` (its registration). A duplicate name is an error.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hpabench.analysis.facts import RunFacts, Window
from hpabench.analysis.kpi import Better

RUN = "run"
PHASE = "phase"

Compute = Callable[[RunFacts, Window], float | int | None]

# The concern modules, in the order their KPIs appear in summary.json and the full KPI table.
CONCERN_MODULES = (
    "latency_kpis",
    "slo_kpis",
    "scaling_kpis",
    "stability_kpis",
    "provisioning_kpis",
    "server_kpis",
    "fairness_kpis",
    "generator_kpis",
    "peak_kpis",
)


@dataclass(frozen=True)
class KpiDefinition:
    """One KPI (see the module docstring). `headline`/`phase_column`: position (0 first) in the
    report's cards / phase table, None when not shown there."""

    name: str
    unit: str
    label: str
    compute: Compute
    better: Better = None
    scopes: frozenset[str] = frozenset({RUN})
    headline: int | None = None
    phase_column: int | None = None
    key: bool = False
    threshold: str | Mapping[str, Any] | None = None
    phase_label: str | None = None
    label_of: Callable[[RunFacts], str] | None = None

    def label_in(self, scope: str, facts: RunFacts | None = None) -> str:
        """The label for `scope`; `label_of` may add what only the run knows (e.g. a source)."""
        if scope == PHASE and self.phase_label:
            return self.phase_label
        if self.label_of is not None and facts is not None:
            return self.label_of(facts)
        return self.label


_REGISTRY: dict[str, KpiDefinition] = {}
_loaded = False


def register(*definitions: KpiDefinition) -> None:
    """Add KPIs to the catalogue; a name registered twice is a programming error."""
    for definition in definitions:
        if definition.name in _REGISTRY:
            raise ValueError(f"KPI {definition.name!r} is already registered")
        if not definition.scopes or not definition.scopes <= {RUN, PHASE}:
            raise ValueError(f"KPI {definition.name!r}: scopes must be a non-empty subset of run/phase")
        _REGISTRY[definition.name] = definition


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in CONCERN_MODULES:
            importlib.import_module(f"{__name__}.{module}")


def definitions(scope: str | None = None) -> list[KpiDefinition]:
    """Every registered KPI in catalogue order (only those evaluated in `scope`, if given)."""
    _load()
    return [d for d in _REGISTRY.values() if scope is None or scope in d.scopes]


def definition(name: str) -> KpiDefinition | None:
    _load()
    return _REGISTRY.get(name)


def headline_kpis() -> tuple[str, ...]:
    """The KPIs a reader wants first, in order (the report's cards, the comparison's headline)."""
    shown = [d for d in definitions() if d.headline is not None]
    return tuple(d.name for d in sorted(shown, key=lambda d: d.headline or 0))


def phase_columns() -> tuple[str, ...]:
    """The per-phase KPIs of the report's phase table, in column order."""
    shown = [d for d in definitions(PHASE) if d.phase_column is not None]
    return tuple(d.name for d in sorted(shown, key=lambda d: d.phase_column or 0))


def key_kpis() -> tuple[str, ...]:
    """The KPIs a comparison's verdict talks about."""
    return tuple(d.name for d in definitions() if d.key)


def default_threshold_specs() -> tuple[str | Mapping[str, Any], ...]:
    """The gate's thresholds when the user gives none, in catalogue order."""
    return tuple(d.threshold for d in definitions() if d.threshold is not None)
