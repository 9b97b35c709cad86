"""`Segment`: one piece of a load plan, a pure function of time (no clock, no I/O).

A plan is a tuple of consecutive segments; stages and every shape kind compile to them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from hpabench.scenarios.spec_types import Unit

Curve = Literal["linear", "cosine", "rates"]


@dataclass(frozen=True)
class Segment:
    """A piece of the plan on [start_s, end_s) in scenario seconds (time_scale 1).

    `linear`: from `start_level` to `end_level` over `ramp_s`, then held (a step has ramp_s 0).
    `cosine`: a raised cosine from `start_level` (trough) to `end_level` (peak) and back.
    `rates`: `rates` one per `interval_s`, held or linearly interpolated.
    """

    name: str
    start_s: float
    end_s: float
    unit: Unit
    curve: Curve
    start_level: float
    end_level: float
    ramp_s: float = 0.0
    rates: tuple[float, ...] = ()
    interval_s: float = 1.0
    interpolate: bool = False

    def level_at(self, t_s: float) -> float:
        """The level `t_s` seconds into the whole plan (the caller ensures start ≤ t < end)."""
        rel = t_s - self.start_s
        if self.curve == "linear":
            if self.ramp_s <= 0 or rel >= self.ramp_s:
                return self.end_level
            return self.start_level + (self.end_level - self.start_level) * rel / self.ramp_s
        if self.curve == "cosine":
            period = self.end_s - self.start_s
            return (
                self.start_level
                + (self.end_level - self.start_level) * (1.0 - math.cos(2.0 * math.pi * rel / period)) / 2.0
            )
        index = min(int(rel / self.interval_s), len(self.rates) - 1)
        if not self.interpolate or index + 1 >= len(self.rates):
            return self.rates[index]
        frac = rel / self.interval_s - index
        return self.rates[index] + (self.rates[index + 1] - self.rates[index]) * frac

    @property
    def peak_level(self) -> float:
        if self.curve == "rates":
            return max(self.rates)
        return max(self.start_level, self.end_level)
