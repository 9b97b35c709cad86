"""The Locust adapter: the catalogue's user behaviour and the scenario as a `LoadTestShape`.

Imported only inside Locust processes (through `scenarios/drive/locustfiles/`); the parent process
never imports this module, so gevent's monkey-patching stays in the Locust processes.

* `ScenarioShape.tick()` only calls the pure `target_at` (via the process runtime): closed-model
  stages ask Locust for the planned users, open-model stages for the fixed user pool sized for
  the peak rate. At its first tick it fixes t0 and publishes it in the clock file; after the
  plan it returns None, which ends a headless run.
* `HpabenchUser` (FastHttpUser: ~3k req/s per core here, several times the requests library)
  draws each request from the scenario's route mix. Closed model: one request, then a jittered
  think time. Open model: claim the next arrival of this process's queue, sleep until it, send;
  when no arrival is due within the horizon, idle a random 0.25–0.5 s (random, so idle users
  never wake in lockstep).
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from locust import LoadTestShape, task
from locust.contrib.fasthttp import FastHttpUser

from hpabench.scenarios.drive.locust_messages import publish_t0
from hpabench.scenarios.drive.locust_runtime import get_runtime
from hpabench.scenarios.drive.mix import RoutePicker

IDLE_SLEEP_S = (0.25, 0.5)
ARRIVAL_WAIT_S = 1.0


class ScenarioShape(LoadTestShape):
    """The scenario's plan as Locust user counts; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Locust's __init__ is unannotated
        self._t0: float | None = None
        self._last_users = 0
        self._spawn_rate = 1.0

    def tick(self) -> tuple[int, float] | None:
        runtime = get_runtime()
        now = time.time()
        if self._t0 is None:
            self._t0 = now
            publish_t0(getattr(self.runner, "environment", None), runtime, now, "shape")
        target = runtime.target(now)
        if target is None:
            return None
        users = runtime.users_for(target)
        if users != self._last_users:
            # Reach the new count within about a second: a step is a step, a ramp moves each tick.
            self._spawn_rate = float(max(1, abs(users - self._last_users)))
            self._last_users = users
        return users, self._spawn_rate


class HpabenchUser(FastHttpUser):
    """A user of the reference app following the scenario's mix; see the module docstring."""

    network_timeout = 30.0
    connection_timeout = 10.0

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self._runtime = get_runtime()
        self._rng = self._runtime.user_rng()
        self._picker = RoutePicker(self._runtime.behaviour.mix, self._rng)
        # Keep-alive off: the server closes after each response, so every request opens a new
        # connection (what clients behind a connection-per-request proxy do to the balancer).
        self._headers = None if self._runtime.config.keepalive else {"Connection": "close"}

    def wait_time(self) -> float:
        target = self._runtime.target(time.time())
        if target is None or target.rps is not None:
            return 0.0  # open model: the arrival schedule paces; after the plan: nothing to pace
        return float(self._runtime.think_time_s(self._rng))

    def _await_arrival(self) -> bool:
        """Sleep until this user's next arrival; False if none came due within ARRIVAL_WAIT_S."""
        runtime = self._runtime
        give_up = time.time() + ARRIVAL_WAIT_S
        while True:
            now = time.time()
            if not runtime.is_open_model(now):
                return False
            arrival = runtime.claim_arrival(now)
            if arrival is not None:
                if arrival > now:
                    gevent.sleep(arrival - now)
                return True
            if now >= give_up:
                return False
            gevent.sleep(self._rng.uniform(*IDLE_SLEEP_S))

    @task
    def request(self) -> None:
        runtime = self._runtime
        target = runtime.target(time.time())
        if target is None:  # the plan is over and Locust is stopping users: send nothing more
            gevent.sleep(self._rng.uniform(*IDLE_SLEEP_S))
            return
        if target.rps is not None and not self._await_arrival():
            return
        request = self._picker.pick()
        runtime.count_sent(time.time())
        if request.method == "GET":
            self.client.get(request.path, name=request.route, headers=self._headers)
        else:
            self.client.request(
                request.method, request.path, name=request.route, json=request.json, headers=self._headers
            )
