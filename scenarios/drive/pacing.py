"""Open-model pacing math (pure, no clock of its own): arrival schedules and the arrival queue.

* `ArrivalSchedule.next_after(t_s)` — the next arrival of a time-varying process following
  `rate_fn(t_s)` requests/s (run seconds), by time rescaling: draw a unit of "work" E (Exp(1) for
  `poisson`, U(0.5, 1.5) for `jittered`) and advance until the integral of the rate reaches E.
  The rate is integrated piecewise-constant on a `grid_s` grid (sampled at each cell's middle),
  so rate changes inside one inter-arrival gap are honoured — a step from 1 to 100 req/s takes
  effect at the step, not one second later. Deterministic for a given `random.Random`.
* `ArrivalQueue` — one per Locust process. Users `claim(now)` the next arrival up to `horizon_s`
  ahead and sleep until it; an arrival nobody claimed within `max_lag_s` of its time is dropped.
  Every generated arrival is counted as *intended* in its run second (k = floor(t - t0), the
  interval [t0+k, t0+k+1)), every drop as *dropped*; `take_counts(before)` hands the finished
  seconds to the recorder.
* `behind_flags(intended, achieved, window)` — per second, whether achieved stayed below 95% of
  intended over the trailing window (the `generator_behind` rule).
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal

Process = Literal["poisson", "jittered"]
BEHIND_RATIO = 0.95


class ArrivalSchedule:
    """Arrival times following `rate_fn` (req/s; None or ≤ 0 means no arrivals) until `end_s`."""

    def __init__(
        self,
        rate_fn: Callable[[float], float | None],
        end_s: float,
        process: Process = "poisson",
        rng: random.Random | None = None,
        grid_s: float = 0.1,
    ) -> None:
        if grid_s <= 0:
            raise ValueError("grid_s must be > 0")
        self.rate_fn = rate_fn
        self.end_s = end_s
        self.process = process
        self.rng = rng or random.Random(0)
        self.grid_s = grid_s

    def _work(self) -> float:
        if self.process == "poisson":
            return self.rng.expovariate(1.0)
        return self.rng.uniform(0.5, 1.5)

    def _rate(self, cell: int) -> float:
        rate = self.rate_fn((cell + 0.5) * self.grid_s)
        return rate if rate is not None and rate > 0 else 0.0

    def next_after(self, t_s: float) -> float | None:
        """The first arrival after `t_s` (run seconds), or None if there is none before `end_s`."""
        remaining = self._work()
        t = max(t_s, 0.0)
        cell = math.floor(t / self.grid_s)
        # bounded: at most one iteration per grid cell up to the end of the plan
        while t < self.end_s:
            cell_end = min((cell + 1) * self.grid_s, self.end_s)
            rate = self._rate(cell)
            if rate > 0:
                needed = remaining / rate
                if t + needed <= cell_end:
                    return t + needed
                remaining -= rate * (cell_end - t)
            t = cell_end
            cell += 1
        return None


class ArrivalQueue:
    """Per-process arrivals in unix time (see module docstring). Single-threaded (gevent) use."""

    def __init__(self, schedule: ArrivalSchedule, t0: float, max_lag_s: float = 1.0, horizon_s: float = 1.0) -> None:
        self.schedule = schedule
        self.t0 = t0
        self.max_lag_s = max_lag_s
        self.horizon_s = horizon_s
        self._pending: deque[float] = deque()  # run seconds of generated, unclaimed arrivals
        self._last_run_s = -1e-9  # run seconds of the last generated arrival
        self._exhausted = False
        self.intended: dict[int, int] = {}
        self.dropped: dict[int, int] = {}
        self.intended_total = 0
        self.dropped_total = 0

    def _generate_until(self, limit: float) -> None:
        limit_run_s = limit - self.t0
        while not self._exhausted and self._last_run_s <= limit_run_s:
            t = self.schedule.next_after(self._last_run_s)
            if t is None:
                self._exhausted = True
                return
            self._last_run_s = t
            self._pending.append(t)
            second = math.floor(t)
            self.intended[second] = self.intended.get(second, 0) + 1
            self.intended_total += 1

    def _drop_stale(self, now: float) -> None:
        oldest_allowed = now - self.t0 - self.max_lag_s
        while self._pending and self._pending[0] < oldest_allowed:
            second = math.floor(self._pending.popleft())
            self.dropped[second] = self.dropped.get(second, 0) + 1
            self.dropped_total += 1

    def advance(self, now: float) -> None:
        """Generate (count) every arrival up to `now` and drop the stale ones, without claiming."""
        self._generate_until(now)
        self._drop_stale(now)

    def claim(self, now: float) -> float | None:
        """The next unclaimed arrival (unix time) due within `horizon_s` of `now`, else None."""
        self._generate_until(now + self.horizon_s)
        self._drop_stale(now)
        if self._pending and self.t0 + self._pending[0] <= now + self.horizon_s:
            return self.t0 + self._pending.popleft()
        return None

    @property
    def finished(self) -> bool:
        """True once the schedule has no more arrivals and none is waiting."""
        return self._exhausted and not self._pending

    def take_counts(self, before_second: int) -> dict[int, tuple[int, int]]:
        """Pop {run second: (intended, dropped)} for every run second k < `before_second`."""
        seconds = {s for s in self.intended if s < before_second} | {s for s in self.dropped if s < before_second}
        return {s: (self.intended.pop(s, 0), self.dropped.pop(s, 0)) for s in sorted(seconds)}


def behind_flags(
    intended: Sequence[float], achieved: Sequence[float], window: int, ratio: float = BEHIND_RATIO
) -> list[bool]:
    """Per second i: sum(achieved[i-window+1..i]) < ratio · sum(intended[same]) (intended > 0).

    NaN intended (closed-model seconds) counts as 0. The window is clipped at the start.
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    flags: list[bool] = []
    sum_intended = sum_achieved = 0.0
    clean_i = [0.0 if (x is None or math.isnan(x)) else float(x) for x in intended]
    clean_a = [0.0 if (x is None or math.isnan(x)) else float(x) for x in achieved]
    for i, (wanted, got) in enumerate(zip(clean_i, clean_a, strict=True)):
        sum_intended += wanted
        sum_achieved += got
        if i >= window:
            sum_intended -= clean_i[i - window]
            sum_achieved -= clean_a[i - window]
        flags.append(sum_intended > 0 and sum_achieved < ratio * sum_intended - 1e-9)
    return flags
