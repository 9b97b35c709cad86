"""State shared by the Locust-side pieces of one Locust process — without importing Locust.

The driver (parent process) writes a `RuntimeConfig` JSON file and starts Locust with
`HPABENCH_LOCUST_CONFIG=<file>`, `HPABENCH_PROCESS=<name>` (`main`, `master`, `worker-1`, ...)
and `HPABENCH_PROCESS_INDEX=<i>` (0..generators-1 among the processes that run users). Inside
Locust, the shape, the users and the recorder share one `ProcessRuntime` (`get_runtime()`):

* the **clock**: t0 = unix time of the load phase's start, decided by the shape on the master
  (or standalone) process at its first tick, sent to every worker in a Locust custom message
  (`locust_messages`) and written to `data/locust_clock.json` for the driver, so every process —
  and the driver — agrees on "t_s = 0";
* the **target** now (the pure `target_at`, cached for 50 ms);
* the open model's **arrival queue** (this process's share of the planned rate);
* per-second counters of requests **sent** by hpabench users.

Plain Python (no gevent), so it is unit-tested with explicit `now` values.
"""

from __future__ import annotations

import json
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpabench.contract import LOCUST_CSV_PREFIX, LOCUST_HTML, write_text_atomic
from hpabench.scenarios.drive.mix import think_time_s
from hpabench.scenarios.drive.pacing import ArrivalQueue, ArrivalSchedule
from hpabench.scenarios.plan import Plan, Target, compile_plan
from hpabench.scenarios.spec import Arrivals, Mix, Scenario, ThinkTime

ENV_CONFIG = "HPABENCH_LOCUST_CONFIG"
ENV_PROCESS = "HPABENCH_PROCESS"
ENV_PROCESS_INDEX = "HPABENCH_PROCESS_INDEX"
CONFIG_FILE = "locust_config.json"
CLOCK_FILE = "locust_clock.json"
TARGET_CACHE_S = 0.05


@dataclass(frozen=True)
class Behaviour:
    """What the users do (not when): the route mix, think time, open-model pacing, the seed."""

    mix: Mix
    think_time: ThinkTime
    arrivals: Arrivals
    seed: int

    @classmethod
    def of(cls, scenario: Scenario) -> Behaviour:
        return cls(scenario.mix, scenario.think_time, scenario.arrivals, scenario.seed)

    def to_json(self) -> dict[str, Any]:
        return {
            "mix": self.mix.model_dump(mode="json"),
            "think_time": self.think_time.model_dump(mode="json"),
            "arrivals": self.arrivals.model_dump(mode="json"),
            "seed": self.seed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Behaviour:
        return cls(
            Mix.model_validate(data["mix"]),
            ThinkTime.model_validate(data["think_time"]),
            Arrivals.model_validate(data["arrivals"]),
            int(data["seed"]),
        )


@dataclass(frozen=True)
class RuntimeConfig:
    """What every Locust process of a run needs to know (written by the driver as JSON).

    The driver builds it from the scenario (`plan` and `behaviour` derived from it, or the plan
    the pipeline compiled); Locust processes read it back without the scenario: the compiled plan
    travels as plain data and is never rebuilt or re-validated there.
    """

    scenario: Scenario | None
    time_scale: float
    data_dir: Path
    generators: int  # processes that run users: 1 standalone, N workers in distributed mode
    own_locustfile: bool = False
    keepalive: bool = True  # False: every request on a fresh connection (`Connection: close`)
    # Workers send their rows to the master (locust_messages) instead of writing them: in-cluster
    # workers are pods whose folders nobody collects.
    ship_rows: bool = False
    plan: Plan | None = None  # compiled from `scenario` when not given (never None after init)
    behaviour: Behaviour | None = None

    @property
    def compiled_plan(self) -> Plan:
        assert self.plan is not None  # set in __post_init__
        return self.plan

    @property
    def user_behaviour(self) -> Behaviour:
        assert self.behaviour is not None  # set in __post_init__
        return self.behaviour

    def __post_init__(self) -> None:
        if self.plan is None or self.behaviour is None:
            if self.scenario is None:
                raise ValueError("RuntimeConfig needs a scenario, or both a compiled plan and a behaviour")
            if self.plan is None:
                object.__setattr__(self, "plan", compile_plan(self.scenario, self.time_scale))
            if self.behaviour is None:
                object.__setattr__(self, "behaviour", Behaviour.of(self.scenario))

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.compiled_plan.to_json(),
            "behaviour": self.user_behaviour.to_json(),
            "time_scale": self.time_scale,
            "data_dir": str(self.data_dir),
            "generators": self.generators,
            "own_locustfile": self.own_locustfile,
            "keepalive": self.keepalive,
            "ship_rows": self.ship_rows,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RuntimeConfig:
        return cls(
            scenario=None,
            plan=Plan.from_json(data["plan"]),
            behaviour=Behaviour.from_json(data["behaviour"]),
            time_scale=float(data["time_scale"]),
            data_dir=Path(data["data_dir"]),
            generators=int(data["generators"]),
            own_locustfile=bool(data.get("own_locustfile", False)),
            keepalive=bool(data.get("keepalive", True)),
            ship_rows=bool(data.get("ship_rows", False)),
        )

    def write(self, path: Path) -> None:
        _write_json_atomic(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> RuntimeConfig:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(data, sort_keys=True) + "\n")


def report_args(data_dir: Path) -> list[str]:
    """Locust's own CSV and HTML reports into `data_dir` (names in hpabench.contract), for the
    standalone or master process: it holds the run's statistics and writes them as it stops."""
    return ["--csv", str(data_dir / LOCUST_CSV_PREFIX), "--html", str(data_dir / LOCUST_HTML)]


def read_clock(data_dir: Path) -> dict[str, Any]:
    """`{"t0": unix s, "t_end": unix s (once stopped), "pid": ...}` or {} if not yet written."""
    try:
        data = json.loads((data_dir / CLOCK_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def write_clock(data_dir: Path, **fields: float | int | str) -> dict[str, Any]:
    """Merge `fields` into the clock file atomically (only the master/standalone process writes)."""
    clock = {**read_clock(data_dir), **fields}
    _write_json_atomic(data_dir / CLOCK_FILE, clock)
    return clock


class ProcessRuntime:
    """Per-process state; see the module docstring. Not thread-safe (gevent: one OS thread)."""

    def __init__(self, config: RuntimeConfig, process_name: str = "main", process_index: int = 0) -> None:
        self.config = config
        self.plan = config.compiled_plan
        self.behaviour = config.user_behaviour
        self.time_scale = config.time_scale
        self.process_name = process_name
        self.process_index = process_index
        self.duration_s = self.plan.duration_s
        self.open_pool_users = self.plan.pool_users
        self.t0: float | None = None
        self._target: Target | None = None
        self._target_at = -math.inf
        self._queue: ArrivalQueue | None = None
        self._user_counter = 0
        self.sent: dict[int, int] = {}

    # -- clock ------------------------------------------------------------------------------
    def set_t0(self, t0: float) -> None:
        self.t0 = t0
        self._target_at = -math.inf

    def elapsed_s(self, now: float) -> float:
        return now - self.t0 if self.t0 is not None else 0.0

    # -- target -----------------------------------------------------------------------------
    def target(self, now: float) -> Target | None:
        """The planned target at `now` (unix s); cached for TARGET_CACHE_S."""
        if abs(now - self._target_at) > TARGET_CACHE_S:
            self._target = self.plan.target_at(max(0.0, self.elapsed_s(now)))
            self._target_at = now
        return self._target

    def is_open_model(self, now: float) -> bool:
        target = self.target(now)
        return target is not None and target.rps is not None

    def users_for(self, target: Target) -> int:
        """Users the shape asks Locust for: the closed target, or the open model's fixed pool."""
        return int(target.users) if target.users is not None else self.open_pool_users

    # -- open model -------------------------------------------------------------------------
    def _rate(self, t_s: float) -> float | None:
        target = self.plan.target_at(t_s)
        if target is None or target.rps is None:
            return None
        return float(target.rps) / self.config.generators

    def arrival_queue(self) -> ArrivalQueue | None:
        """This process's arrival queue (None before t0 is known or for a closed-only plan)."""
        if self._queue is None and self.t0 is not None and self.open_pool_users > 0:
            rng = random.Random(f"arrivals-{self.behaviour.seed}-{self.process_index}")
            arrivals = self.behaviour.arrivals
            schedule = ArrivalSchedule(self._rate, self.duration_s, arrivals.process, rng)
            self._queue = ArrivalQueue(schedule, self.t0, max_lag_s=arrivals.max_lag_s)
        return self._queue

    def claim_arrival(self, now: float) -> float | None:
        queue = self.arrival_queue()
        return queue.claim(now) if queue is not None else None

    # -- users ------------------------------------------------------------------------------
    def user_rng(self) -> random.Random:
        """A distinct, reproducible RNG per user (seed, process, user number)."""
        self._user_counter += 1
        return random.Random(f"user-{self.behaviour.seed}-{self.process_index}-{self._user_counter}")

    def think_time_s(self, rng: random.Random) -> float:
        return float(think_time_s(self.behaviour.think_time, rng))

    def count_sent(self, now: float) -> None:
        """Count one request sent by an hpabench user in its run second (after t0 only)."""
        if self.t0 is None:
            return
        second = math.floor(now - self.t0)
        self.sent[second] = self.sent.get(second, 0) + 1

    def take_counts(self, now: float, before_second: int) -> dict[int, dict[str, int]]:
        """Pop per run second {sent, intended, dropped} for seconds k < before_second."""
        queue = self._queue
        if queue is not None:
            queue.advance(now)
        result: dict[int, dict[str, int]] = {}
        for second in [s for s in self.sent if s < before_second]:
            result.setdefault(second, {})["sent"] = self.sent.pop(second)
        if queue is not None:
            for second, (intended, dropped) in queue.take_counts(before_second).items():
                row = result.setdefault(second, {})
                row["intended"], row["dropped"] = intended, dropped
        return result

    @property
    def has_arrivals(self) -> bool:
        return self._queue is not None


_RUNTIME: ProcessRuntime | None = None


def get_runtime() -> ProcessRuntime:
    """The process's runtime, created on first use from the environment the driver set."""
    global _RUNTIME
    if _RUNTIME is None:
        path = os.environ.get(ENV_CONFIG)
        if not path:
            raise RuntimeError(f"{ENV_CONFIG} is not set: hpabench's Locust files run under the hpabench driver")
        config = RuntimeConfig.read(Path(path))
        _RUNTIME = ProcessRuntime(
            config,
            process_name=os.environ.get(ENV_PROCESS, "main"),
            process_index=int(os.environ.get(ENV_PROCESS_INDEX, "0")),
        )
    return _RUNTIME
