"""The value types and bounds every scenario model shares (spec.py and the shape kinds)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

Name = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
PositiveSeconds = Annotated[float, Field(gt=0, le=7 * 24 * 3600)]
Unit = Literal["users", "rps"]

MAX_USERS = 100_000
MAX_RPS = 1_000_000.0
WARMUP_STAGE = "warmup"
MAX_STAGES = 1000
MAX_RATES = 100_000  # a replay's rows (scenarios.traces.MAX_ROWS)
MAX_PLAN_S = 7 * 24 * 3600.0  # the whole plan, warm-up included: a run is bounded in time
