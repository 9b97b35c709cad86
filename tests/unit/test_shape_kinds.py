"""Shape kinds are plug-ins: one module + one registration, told apart by `kind`."""

from __future__ import annotations

from typing import Literal

import pytest

from hpabench.errors import SpecError
from hpabench.scenarios.shape_kinds import kinds, register_shape
from hpabench.scenarios.shape_kinds.square import Square
from hpabench.scenarios.shapes import stage_spans, target_at
from hpabench.scenarios.spec import Scenario
from hpabench.specio import StrictModel, validate_data


def square_scenario(**shape: object) -> Scenario:
    data = {"name": "sq", "description": "square wave", "shape": {"kind": "square", "low": 10, "high": 100,
            "period_s": 60, "cycles": 2, **shape}}  # fmt: skip
    return validate_data(Scenario, data, "sq.yaml")


def test_every_shipped_kind_is_registered() -> None:
    assert kinds() == ["diurnal", "replay", "sawtooth", "square"]


def test_the_example_kind_compiles_to_a_square_wave() -> None:
    scenario = square_scenario(duty=0.25)
    assert isinstance(scenario.shape, Square)
    spans = stage_spans(scenario, time_scale=0.5)
    assert [(s.name, s.start_s, s.end_s) for s in spans] == [
        ("high-1", 0.0, 7.5), ("low-1", 7.5, 30.0), ("high-2", 30.0, 37.5), ("low-2", 37.5, 60.0)
    ]  # fmt: skip
    assert [target_at(scenario, t).rps for t in (0, 14.9, 15, 60, 75)] == [100, 100, 10, 100, 10]  # type: ignore[union-attr]
    assert target_at(scenario, 120) is None


def test_a_kind_is_validated_with_file_and_field() -> None:
    with pytest.raises(SpecError) as info:
        square_scenario(duty=1.5)
    assert "sq.yaml" in str(info.value) and "shape.square.duty" in str(info.value)
    with pytest.raises(SpecError) as info:
        validate_data(Scenario, {"name": "x", "description": "x", "shape": {"kind": "zigzag"}}, "x.yaml")
    assert "zigzag" in str(info.value) or "kind" in str(info.value)


def test_a_kind_registered_twice_or_without_a_literal_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_shape(Square, lambda shape, start_s: [])

    class NoKind(StrictModel):
        kind: str

    with pytest.raises(ValueError, match="Literal"):
        register_shape(NoKind, lambda shape, start_s: [])

    class Fresh(StrictModel):
        kind: Literal["fresh-kind-for-this-test"]

    assert "fresh-kind-for-this-test" not in kinds()
