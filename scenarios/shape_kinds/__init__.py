"""Shape kinds: the `shape:` of a scenario, one module per kind, registered by name.

A kind is a pydantic model with a literal `kind` field (its YAML name) plus a pure function
that compiles it into plan segments starting at `start_s` (scenario seconds). `Scenario.shape`
accepts every registered kind, told apart by `kind`; the planner compiles it through
`shape_segments`. Adding a shape kind = one module here that calls `register_shape`, plus its
name in `KIND_MODULES`. A kind registered twice is an error.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from typing import Annotated, Any

from pydantic import BaseModel, Field

from hpabench.scenarios.segments import Segment

KIND_MODULES = ("diurnal", "sawtooth", "replay", "square")

SegmentsFn = Callable[[Any, float], list[Segment]]


@dataclass(frozen=True)
class ShapeKind:
    kind: str
    model: type[BaseModel]
    compile: SegmentsFn


_KINDS: dict[str, ShapeKind] = {}


def register_shape(model: type[BaseModel], compile_fn: SegmentsFn) -> None:
    """Register a shape model (its `kind` literal is the name) and its segment compiler."""
    field = model.model_fields.get("kind")
    choices: tuple[Any, ...] = tuple(getattr(field.annotation, "__args__", ())) if field is not None else ()
    if len(choices) != 1 or not isinstance(choices[0], str):
        raise ValueError(f'{model.__name__} needs a `kind: Literal["name"]` field')
    kind = choices[0]
    if kind in _KINDS:
        raise ValueError(f"shape kind {kind!r} is already registered")
    _KINDS[kind] = ShapeKind(kind, model, compile_fn)


def _load() -> None:
    for module in KIND_MODULES:
        importlib.import_module(f"{__name__}.{module}")


def kinds() -> list[str]:
    _load()
    return sorted(_KINDS)


def shape_union() -> Any:
    """The pydantic type of `Scenario.shape`: every registered kind, discriminated by `kind`."""
    _load()
    models = [k.model for k in _KINDS.values()]
    union: Any = reduce(lambda a, b: a | b, models)  # type: ignore[arg-type, return-value]
    return Annotated[union, Field(discriminator="kind")] if len(models) > 1 else union


def shape_segments(shape: BaseModel, start_s: float) -> list[Segment]:
    """Compile a validated shape into segments from `start_s` (scenario seconds)."""
    kind = str(getattr(shape, "kind", ""))
    if kind not in _KINDS:
        raise ValueError(f"unknown shape kind {kind!r} (known: {', '.join(kinds())})")
    return _KINDS[kind].compile(shape, start_s)
