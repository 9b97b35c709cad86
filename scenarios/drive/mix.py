"""The traffic mix and think time as pure functions of a `random.Random` (no HTTP, no Locust).

* `RoutePicker(mix, rng).pick()` → a `Request(route, method, path, json)`: the route family is
  drawn by weight, then its parameters (ids, quantity, cost) from the spec. `route` is the mix
  key (`hot_read`, `cold_read`, `write`, `cpu`) — the `route` column of `client_stats`.
* `think_time_s(spec, rng)` → seconds a closed-model user pauses after a response.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass
from typing import Any

from hpabench.scenarios.spec import Mix, ThinkTime

ROUTES = ("hot_read", "cold_read", "write", "cpu")


@dataclass(frozen=True)
class Request:
    route: str
    method: str
    path: str
    json: dict[str, Any] | None = None


class RoutePicker:
    """Draws requests from a mix (see module docstring). One per user, seeded per user."""

    def __init__(self, mix: Mix, rng: random.Random) -> None:
        weights = mix.weights()
        self.routes = [route for route in ROUTES if weights[route] > 0]
        total = sum(weights[route] for route in self.routes)
        self._cumulative = list(itertools.accumulate(weights[route] / total for route in self.routes))
        self._cumulative[-1] = 1.0  # guard against float rounding leaving a gap at the top
        self.mix = mix
        self.rng = rng

    def pick_route(self) -> str:
        return self.routes[bisect.bisect_right(self._cumulative, self.rng.random())]

    def pick(self) -> Request:
        route = self.pick_route()
        rng, mix = self.rng, self.mix
        if route == "hot_read":
            return Request(route, "GET", f"/items/{rng.randint(1, mix.hot_read.ids)}")
        if route == "cold_read":
            return Request(route, "GET", f"/items/{rng.randint(mix.cold_read.id_min, mix.cold_read.id_max)}")
        if route == "write":
            body = {"item_id": rng.randint(1, mix.write.id_max), "quantity": rng.randint(1, mix.write.quantity_max)}
            return Request(route, "POST", "/orders", body)
        return Request(route, "GET", f"/work?cost={mix.cpu.cost}")


def think_time_s(spec: ThinkTime, rng: random.Random) -> float:
    """One think-time draw in seconds (uniform with jitter, exponential or constant)."""
    if spec.distribution == "constant" or spec.mean_s == 0:
        return float(spec.mean_s)
    if spec.distribution == "exponential":
        return rng.expovariate(1.0 / spec.mean_s)
    return rng.uniform(spec.mean_s * (1.0 - spec.jitter), spec.mean_s * (1.0 + spec.jitter))
