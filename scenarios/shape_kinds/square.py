"""`square`: load jumps between `low` and `high` every half period — the classic way to make an
autoscaler flap (a scale-down window shorter than the low phase shows up as churn).

Stages are named `high-1`, `low-1`, `high-2`, … (the high half comes first). Also the worked
example of adding a shape kind: this module plus its name in `KIND_MODULES`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from hpabench.scenarios.segments import Segment
from hpabench.scenarios.shape_kinds import register_shape
from hpabench.scenarios.shape_kinds.band import Band
from hpabench.scenarios.spec_types import PositiveSeconds


class Square(Band):
    """`cycles` times: `high` for `duty` of `period_s`, then `low` for the rest (steps, no ramps)."""

    kind: Literal["square"]
    period_s: PositiveSeconds
    cycles: Annotated[int, Field(ge=1, le=1000)] = 3
    duty: Annotated[float, Field(gt=0, lt=1)] = 0.5


def square_segments(shape: Square, start_s: float) -> list[Segment]:
    out: list[Segment] = []
    high_s = shape.period_s * shape.duty
    for k in range(shape.cycles):
        t0 = start_s + k * shape.period_s
        out.append(Segment(f"high-{k + 1}", t0, t0 + high_s, shape.unit, "linear", shape.high, shape.high))
        out.append(
            Segment(f"low-{k + 1}", t0 + high_s, t0 + shape.period_s, shape.unit, "linear", shape.low, shape.low)
        )
    return out


register_shape(Square, square_segments)
