"""A level band (`low` to `high`, in users or requests/s) shared by the periodic shape kinds."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from hpabench.scenarios.spec_types import MAX_RPS, MAX_USERS, Unit
from hpabench.specio import StrictModel


class Band(StrictModel):
    unit: Unit = "rps"
    low: Annotated[float, Field(ge=0, le=MAX_RPS)]
    high: Annotated[float, Field(ge=0, le=MAX_RPS)]

    @model_validator(mode="after")
    def _check_band(self) -> Band:
        if self.high < self.low:
            raise ValueError(f"`high` ({self.high:g}) is below `low` ({self.low:g})")
        if self.unit == "users" and self.high > MAX_USERS:
            raise ValueError(f"`high` exceeds {MAX_USERS} users")
        return self
