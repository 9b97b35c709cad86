"""`sawtooth`: a linear rise and an instant drop, repeated; one stage per tooth."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from hpabench.scenarios.segments import Segment
from hpabench.scenarios.shape_kinds import register_shape
from hpabench.scenarios.shape_kinds.band import Band
from hpabench.scenarios.spec_types import PositiveSeconds


class Sawtooth(Band):
    """`teeth` times: rise linearly from `low` to `high` over `period_s`, then drop at once.

    Stages are named `tooth-1`, `tooth-2`, ...
    """

    kind: Literal["sawtooth"]
    period_s: PositiveSeconds
    teeth: Annotated[int, Field(ge=1, le=1000)] = 3


def sawtooth_segments(shape: Sawtooth, start_s: float) -> list[Segment]:
    return [
        Segment(
            f"tooth-{k + 1}",
            start_s + k * shape.period_s,
            start_s + (k + 1) * shape.period_s,
            shape.unit,
            "linear",
            shape.low,
            shape.high,
            ramp_s=shape.period_s,
        )
        for k in range(shape.teeth)
    ]


register_shape(Sawtooth, sawtooth_segments)
