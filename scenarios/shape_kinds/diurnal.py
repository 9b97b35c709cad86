"""`diurnal`: a compressed day as a raised cosine, one stage per cycle."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from hpabench.scenarios.segments import Segment
from hpabench.scenarios.shape_kinds import register_shape
from hpabench.scenarios.shape_kinds.band import Band
from hpabench.scenarios.spec_types import PositiveSeconds


class Diurnal(Band):
    """A compressed day: level = low + (high-low)·(1-cos(2πt/period_s))/2, starting at the trough.

    Stages are named `day-1`, `day-2`, ... one per cycle.
    """

    kind: Literal["diurnal"]
    period_s: PositiveSeconds
    cycles: Annotated[int, Field(ge=1, le=1000)] = 1


def diurnal_segments(shape: Diurnal, start_s: float) -> list[Segment]:
    return [
        Segment(
            f"day-{k + 1}",
            start_s + k * shape.period_s,
            start_s + (k + 1) * shape.period_s,
            shape.unit,
            "cosine",
            shape.low,
            shape.high,
        )
        for k in range(shape.cycles)
    ]


register_shape(Diurnal, diurnal_segments)
