"""`replay`: a recorded requests/s trace (open model), one rate per interval."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from hpabench.scenarios.segments import Segment
from hpabench.scenarios.shape_kinds import register_shape
from hpabench.scenarios.spec_types import MAX_RATES, MAX_RPS, PositiveSeconds
from hpabench.specio import StrictModel


class Replay(StrictModel):
    """Replay a requests/s trace (open model): one rate per `interval_s` seconds, times `scale`.

    `trace` is a CSV file with a header and an `rps` column (e.g. `minute,rps`), relative to the
    scenario file or to the shipped `scenarios/traces/`. The loader resolves it into `rates_rps`
    (so the resolved spec in manifest.json is self-contained); rates may also be given inline.
    `interpolate` draws straight lines between rows instead of holding each row's rate.
    The single stage is named `replay`.
    """

    kind: Literal["replay"]
    trace: str | None = None
    rates_rps: Annotated[list[Annotated[float, Field(ge=0, le=MAX_RPS)]], Field(max_length=MAX_RATES)] | None = None
    interval_s: PositiveSeconds = 60.0
    scale: Annotated[float, Field(gt=0, le=1000)] = 1.0
    interpolate: bool = True

    @model_validator(mode="after")
    def _check(self) -> Replay:
        if self.trace is None and self.rates_rps is None:
            raise ValueError("give `trace` (a CSV file) or `rates_rps` (inline rates)")
        if self.rates_rps is not None and len(self.rates_rps) == 0:
            raise ValueError("`rates_rps` is empty")
        return self


def replay_segments(shape: Replay, start_s: float) -> list[Segment]:
    if shape.rates_rps is None:
        raise ValueError("replay shape has no rates: load the scenario with catalogue.load_scenario")
    rates = tuple(rate * shape.scale for rate in shape.rates_rps)
    end_s = start_s + len(rates) * shape.interval_s
    return [
        Segment(
            "replay",
            start_s,
            end_s,
            "rps",
            "rates",
            rates[0],
            rates[-1],
            rates=rates,
            interval_s=shape.interval_s,
            interpolate=shape.interpolate,
        )
    ]


register_shape(Replay, replay_segments)
