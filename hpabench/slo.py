"""The SLO: one model, one set of defaults, one precedence — resolved once per run.

A scenario declares what its users expect; a variant file may override that deliberately:

    defaults (DEFAULT_SLO)  <  the scenario's `slo:`  <  the variant's `slo:` (fields it sets)

`resolve_slo` applies that order, field by field, and says where each value came from. The
pipeline records the result in manifest.json (`slo`, `slo_sources`); analysis judges the run
against what the manifest recorded, falling back to the same DEFAULT_SLO for runs without one.

Fields: `p95_ms` / `p99_ms` — client latency bounds (ms); `error_rate` — failed/all (0..1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from hpabench.specio import StrictModel

Source = Literal["default", "scenario", "variant"]

DEFAULT_SLO: dict[str, float] = {"p95_ms": 500.0, "error_rate": 0.01}
"""What a run is judged against when neither its scenario nor its variant says otherwise."""


class Slo(StrictModel):
    """The `slo:` block of a scenario or a variant file; every field optional."""

    p95_ms: Annotated[float, Field(gt=0, le=3_600_000)] | None = None
    p99_ms: Annotated[float, Field(gt=0, le=3_600_000)] | None = None
    error_rate: Annotated[float, Field(ge=0, le=1)] | None = None


@dataclass(frozen=True)
class ResolvedSlo:
    """The run's SLO: every field's value (`p99_ms` may be None: no p99 bound) and its source."""

    p95_ms: float
    error_rate: float
    p99_ms: float | None
    sources: dict[str, Source]

    def as_manifest(self) -> dict[str, float]:
        """The `slo` of manifest.json (fields without a value omitted)."""
        values = {"p95_ms": self.p95_ms, "p99_ms": self.p99_ms, "error_rate": self.error_rate}
        return {k: v for k, v in values.items() if v is not None}


def resolve_slo(scenario_slo: Slo | None, variant_slo: Slo | None) -> ResolvedSlo:
    """Apply the precedence of the module docstring; pure."""
    values: dict[str, float | None] = {"p95_ms": None, "p99_ms": None, **DEFAULT_SLO}
    sources: dict[str, Source] = dict.fromkeys(DEFAULT_SLO, "default")
    for source, declared in (("scenario", scenario_slo), ("variant", variant_slo)):
        if declared is None:
            continue
        for name in ("p95_ms", "p99_ms", "error_rate"):
            value = getattr(declared, name)
            if value is not None:
                values[name] = float(value)
                sources[name] = source  # type: ignore[assignment]
    p95, error_rate = values["p95_ms"], values["error_rate"]
    assert p95 is not None and error_rate is not None  # DEFAULT_SLO sets both
    return ResolvedSlo(p95_ms=p95, error_rate=error_rate, p99_ms=values["p99_ms"], sources=sources)
