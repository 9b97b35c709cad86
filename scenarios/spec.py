"""Scenario specs: the traffic profile as validated data (DESIGN.md convention 1).

A scenario is *what* load to offer over time, never *how* Locust produces it:

* `stages` — a list of stages, each with a `duration_s` and a target of either **users**
  (closed model: N concurrent users, each thinking `think_time` between requests) or **rps**
  (open model: requests/s arrive on a schedule whether or not earlier ones finished). A stage's
  `transition` says how it gets to its level: `step` (at once) or `linear` (a ramp from the
  previous stage's level over `ramp_s`, default the whole stage).
* or `shape` — a shape that needs more than stages, with typed parameters: `diurnal` (a
  compressed day as a raised cosine), `sawtooth` (linear rise, instant drop, repeated), `replay`
  (a requests/s trace from a CSV file, one row per `interval_s`).
* `warmup` (optional) — a constant stage named `warmup` played before everything else.
* `mix` — weights over the reference app's routes; `think_time` (closed model) and `arrivals`
  (open model pacing); `slo` (optional thresholds); `seed` (reproducible randomness).

Times are scenario seconds; a run's `time_scale` compresses them, never the load levels.
Use `hpabench.scenarios.catalogue.load_scenario` to load one with file + field-path errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from hpabench.scenarios.events import EventSpec, check_events
from hpabench.scenarios.shape_kinds import shape_segments, shape_union
from hpabench.scenarios.shape_kinds.diurnal import Diurnal
from hpabench.scenarios.shape_kinds.replay import Replay
from hpabench.scenarios.shape_kinds.sawtooth import Sawtooth
from hpabench.scenarios.spec_types import (
    MAX_PLAN_S,
    MAX_RATES,
    MAX_RPS,
    MAX_STAGES,
    MAX_USERS,
    WARMUP_STAGE,
    Name,
    PositiveSeconds,
    Unit,
)
from hpabench.slo import Slo
from hpabench.specio import OneLineText, StrictModel

__all__ = [
    "MAX_PLAN_S",
    "MAX_RATES",
    "MAX_RPS",
    "MAX_STAGES",
    "MAX_USERS",
    "WARMUP_STAGE",
    "Diurnal",
    "Name",
    "PositiveSeconds",
    "Replay",
    "Sawtooth",
    "Scenario",
    "Unit",
]

Description = Annotated[OneLineText, Field(min_length=1, max_length=200)]


def _one_target(users: int | None, rps: float | None) -> None:
    if (users is None) == (rps is None):
        raise ValueError("give exactly one of `users` (closed model) or `rps` (open model)")


class Stage(StrictModel):
    """One stage: hold (or ramp to) `users` or `rps` for `duration_s` seconds."""

    name: Name
    duration_s: PositiveSeconds
    users: Annotated[int, Field(ge=0, le=MAX_USERS)] | None = None
    rps: Annotated[float, Field(ge=0, le=MAX_RPS)] | None = None
    transition: Literal["step", "linear"] = "step"
    ramp_s: PositiveSeconds | None = None

    @model_validator(mode="after")
    def _check(self) -> Stage:
        _one_target(self.users, self.rps)
        if self.ramp_s is not None:
            if self.transition != "linear":
                raise ValueError("`ramp_s` only applies to `transition: linear`")
            if self.ramp_s > self.duration_s:
                raise ValueError(f"`ramp_s` ({self.ramp_s:g}) is longer than `duration_s` ({self.duration_s:g})")
        return self

    @property
    def unit(self) -> Unit:
        return "users" if self.users is not None else "rps"

    @property
    def level(self) -> float:
        return float(self.users if self.users is not None else self.rps or 0.0)


class Warmup(StrictModel):
    """A constant stage named `warmup` played first (caches, connection pools, JIT-less Python)."""

    duration_s: PositiveSeconds
    users: Annotated[int, Field(ge=0, le=MAX_USERS)] | None = None
    rps: Annotated[float, Field(ge=0, le=MAX_RPS)] | None = None

    @model_validator(mode="after")
    def _check(self) -> Warmup:
        _one_target(self.users, self.rps)
        return self


# Every registered shape kind (hpabench.scenarios.shape_kinds), told apart by its `kind`; the
# union is built at import time from the registry, so type checkers see the common base.
if TYPE_CHECKING:
    Shape = BaseModel
else:
    Shape = shape_union()


class HotReads(StrictModel):
    """`GET /items/{id}` over a small id set (1..ids): served from the cache after the first miss."""

    weight: Annotated[float, Field(ge=0)] = 0.55
    ids: Annotated[int, Field(ge=1, le=10_000_000)] = 100


class ColdReads(StrictModel):
    """`GET /items/{id}` uniformly over id_min..id_max: mostly cache misses reading PostgreSQL."""

    weight: Annotated[float, Field(ge=0)] = 0.15
    id_min: Annotated[int, Field(ge=1)] = 1
    id_max: Annotated[int, Field(ge=1, le=1_000_000_000)] = 10_000

    @model_validator(mode="after")
    def _check(self) -> ColdReads:
        if self.id_max < self.id_min:
            raise ValueError("`id_max` is below `id_min`")
        return self


class Writes(StrictModel):
    """`POST /orders` {"item_id", "quantity"}: a transaction plus a cache invalidation."""

    weight: Annotated[float, Field(ge=0)] = 0.10
    id_max: Annotated[int, Field(ge=1, le=1_000_000_000)] = 10_000
    quantity_max: Annotated[int, Field(ge=1, le=1000)] = 3


class CpuCalls(StrictModel):
    """`GET /work?cost=N`: N rounds of SHA-256 on the app's event loop (~0.3 µs a round)."""

    weight: Annotated[float, Field(ge=0)] = 0.20
    cost: Annotated[int, Field(ge=0, le=10_000_000)] = 20_000


class Mix(StrictModel):
    """Relative weights over the four route families; the client-side `route` names are the keys."""

    hot_read: HotReads = HotReads()
    cold_read: ColdReads = ColdReads()
    write: Writes = Writes()
    cpu: CpuCalls = CpuCalls()

    @model_validator(mode="after")
    def _check(self) -> Mix:
        if sum(self.weights().values()) <= 0:
            raise ValueError("at least one route needs a weight > 0")
        return self

    def weights(self) -> dict[str, float]:
        return {
            "hot_read": self.hot_read.weight,
            "cold_read": self.cold_read.weight,
            "write": self.write.weight,
            "cpu": self.cpu.weight,
        }


class ThinkTime(StrictModel):
    """Pause of a closed-model user after each response (seconds).

    `uniform`: U(mean·(1-jitter), mean·(1+jitter)); `exponential`: mean `mean_s`; `constant`:
    exactly `mean_s` (synchronises users — measured to distort latency; avoid unless intended).
    """

    distribution: Literal["uniform", "exponential", "constant"] = "uniform"
    mean_s: Annotated[float, Field(ge=0, le=3600)] = 0.5
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.5


class Arrivals(StrictModel):
    """Open-model pacing (stages with `rps`).

    Arrivals follow a `poisson` process or `jittered` intervals (1/rate · U(0.5, 1.5)). The user
    pool is sized once, for the highest planned rate: users = ceil(peak_rps · concurrency_s)
    within [min_users, max_users] (Little's law: enough users for requests lasting up to
    concurrency_s on average). An arrival that no user could start within `max_lag_s` is
    dropped and shows as achieved < intended; the run is flagged `generator_behind` when achieved
    stays below 95% of intended over `behind_window_s`.
    """

    process: Literal["poisson", "jittered"] = "poisson"
    concurrency_s: Annotated[float, Field(gt=0, le=600)] = 2.0
    min_users: Annotated[int, Field(ge=1, le=MAX_USERS)] = 4
    max_users: Annotated[int, Field(ge=1, le=MAX_USERS)] = 400
    max_lag_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    behind_window_s: Annotated[float, Field(gt=0, le=3600)] = 10.0

    @model_validator(mode="after")
    def _check(self) -> Arrivals:
        if self.min_users > self.max_users:
            raise ValueError(f"`min_users` ({self.min_users}) exceeds `max_users` ({self.max_users})")
        return self


class Scenario(StrictModel):
    """A traffic profile; see the module docstring."""

    name: Name
    description: Description
    stages: list[Stage] = Field(default_factory=list, max_length=MAX_STAGES)
    shape: Shape | None = None
    warmup: Warmup | None = None
    mix: Mix = Mix()
    think_time: ThinkTime = ThinkTime()
    arrivals: Arrivals = Arrivals()
    slo: Slo | None = None
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 1
    # Rollouts and disruptions at offsets after the warm-up (hpabench.scenarios.events).
    events: list[EventSpec] = Field(default_factory=list)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if bool(self.stages) == (self.shape is not None):
            raise ValueError("give either `stages` (a non-empty list) or `shape`, not both")
        names = [stage.name for stage in self.stages]
        if self.warmup is not None:
            names.insert(0, WARMUP_STAGE)
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"stage names must be unique (`warmup` is reserved): {', '.join(duplicates)}")
        planned_s = self.planned_duration_s()
        if planned_s > MAX_PLAN_S:
            raise ValueError(
                f"the plan lasts {planned_s:g} s, more than the limit of {MAX_PLAN_S:g} s (7 days, warm-up included)"
            )
        if self.events:
            check_events(list(self.events), self._duration_after_warmup_s())
        return self

    def planned_duration_s(self) -> float:
        """Scenario seconds from the start of the warm-up to the end of the plan (time scale 1)."""
        total = self.warmup.duration_s if self.warmup is not None else 0.0
        if self.shape is not None:
            if isinstance(self.shape, Replay) and self.shape.rates_rps is None:
                return total  # the trace is not loaded yet; the loader checks again once it is
            compiled = shape_segments(self.shape, 0.0)
            return total + (compiled[-1].end_s if compiled else 0.0)
        return total + sum(stage.duration_s for stage in self.stages)

    def _duration_after_warmup_s(self) -> float | None:
        """Scenario seconds after the warm-up; None while a replay trace is not yet resolved."""
        if isinstance(self.shape, Replay) and self.shape.rates_rps is None:
            return None
        warmup_s = self.warmup.duration_s if self.warmup is not None else 0.0
        return self.planned_duration_s() - warmup_s

    @property
    def uses_open_model(self) -> bool:
        """True if any part of the plan is an `rps` target."""
        if self.warmup is not None and self.warmup.rps is not None:
            return True
        if self.shape is not None:
            return isinstance(self.shape, Replay) or getattr(self.shape, "unit", "rps") == "rps"
        return any(stage.rps is not None for stage in self.stages)
