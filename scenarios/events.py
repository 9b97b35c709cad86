"""Scenario events: rollouts and disruptions at offsets into the load, as validated data.

A scenario may carry `events:`, each one a mapping with a `kind` and an `at_s` offset:

    events:
      - {at_s: 30, kind: rollout, image_tag: "0.1.1"}          # new image tag on the web pods
      - {at_s: 30, kind: rollout, config: {CACHE_TTL_S: "5"}}  # ConfigMap change + checksum restart
      - {at_s: 30, kind: rollout, patch: [{op: add, path: /spec/containers/0/env/-, value: {...}}]}
      - {at_s: 60, kind: kill-pod, count: 1}                    # or `fraction: 0.5`
      - {at_s: 90, kind: restart-db}    /   {kind: restart-cache}
      - {at_s: 20, kind: add-latency, between: [web, postgres], delay_ms: 20}
      - {at_s: 50, kind: remove-latency, between: [web, postgres]}
      - {at_s: 70, kind: scale-to, replicas: 3}

Contract:
* `at_s` is in *scenario seconds after the warm-up*; `scheduled(scenario, time_scale)` turns the
  events into load-phase offsets (`(warmup + at_s) * time_scale`), ordered by time (stable for
  equal offsets, so the file order breaks ties). Real-time limits such as `timeout_s` are not
  scaled: a rollout takes as long as the pods take.
* Every event kind is one pydantic class with a unique `kind` literal plus one `register` call;
  a duplicate kind is an error. `EventSpec` (a discriminated union over the registered classes)
  is what `Scenario.events` holds; register plug-in kinds before `hpabench.scenarios.spec` is
  imported.
* Every event is a phase boundary in the analysis; `name` (default `<kind>-<n>`) labels it.
* Which target can perform which kind is the target's business (`hpabench.events`); this module
  only knows the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from hpabench.specio import StrictModel

if TYPE_CHECKING:
    from hpabench.scenarios.spec import Scenario

MAX_EVENTS = 100
TIER_NAMES = ("web", "postgres", "redis")
Offset = Annotated[float, Field(ge=0, le=7 * 24 * 3600)]
EventName = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Tier = Literal["web", "postgres", "redis"]


class BaseEvent(StrictModel):
    """What every event has: when (`at_s`, scenario seconds after the warm-up) and a label."""

    at_s: Offset
    name: EventName | None = None

    @property
    def kind_name(self) -> str:
        return str(getattr(self, "kind", type(self).__name__))

    def params(self) -> dict[str, Any]:
        """The kind-specific fields, for events.jsonl (JSON-able)."""
        return self.model_dump(mode="json", exclude={"at_s", "name", "kind"}, exclude_none=True)


class PatchOp(StrictModel):
    """One RFC 6902 operation on the web Deployment's *pod template* (`/spec/...` = template spec)."""

    op: Literal["add", "remove", "replace", "test"]
    path: Annotated[str, Field(pattern=r"^/")]
    value: Any = None

    @model_validator(mode="after")
    def _value(self) -> PatchOp:
        if self.op in ("add", "replace", "test") and "value" not in self.model_fields_set:
            raise ValueError(f"a {self.op} operation needs a value")
        return self


class Rollout(BaseEvent):
    """A rolling update of the web Deployment: exactly one of a new `image_tag`, `config` values
    for the web ConfigMap (restarted through the checksum annotation), or a pod-template `patch`.
    The Deployment's strategy (variant knobs) governs it; `timeout_s` is its progress deadline."""

    kind: Literal["rollout"]
    image_tag: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")] | None = (
        None
    )
    config: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] | None = None
    patch: list[PatchOp] | None = None
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 300.0

    @model_validator(mode="after")
    def _one_change(self) -> Rollout:
        given = [k for k in ("image_tag", "config", "patch") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `image_tag`, `config` or `patch`")
        if self.config is not None and not self.config:
            raise ValueError("`config` is empty")
        if self.patch is not None and not self.patch:
            raise ValueError("`patch` is empty")
        return self


class KillPod(BaseEvent):
    """Kill web pods at once (no graceful termination, like a node loss): `count` pods or a
    `fraction` of the ready ones (rounded up, at least one); the Deployment replaces them."""

    kind: Literal["kill-pod"]
    count: Annotated[int, Field(ge=1, le=1000)] | None = None
    fraction: Annotated[float, Field(gt=0, le=1)] | None = None

    @model_validator(mode="after")
    def _one(self) -> KillPod:
        if self.count is not None and self.fraction is not None:
            raise ValueError("give `count` or `fraction`, not both")
        return self

    def victims(self, ready_pods: int) -> int:
        """How many of `ready_pods` to kill: `count` (default 1) or ceil(fraction · ready), ≥ 1."""
        if self.fraction is not None:
            return max(1, math.ceil(self.fraction * ready_pods - 1e-9))
        return self.count if self.count is not None else 1


class RestartDb(BaseEvent):
    """Restart the PostgreSQL container in place (SIGTERM, then the kubelet restarts it)."""

    kind: Literal["restart-db"]


class RestartCache(BaseEvent):
    """Restart the Redis container in place (its data is lost, as with an emptyDir)."""

    kind: Literal["restart-cache"]


class _LinkEvent(BaseEvent):
    """An event on the network link between two tiers (`between`)."""

    between: list[Tier]

    @model_validator(mode="after")
    def _two_tiers(self) -> _LinkEvent:
        if len(self.between) != 2 or self.between[0] == self.between[1]:
            raise ValueError("`between` names two different tiers, e.g. [web, postgres]")
        return self


class AddLatency(_LinkEvent):
    """Add `delay_ms` (± `jitter_ms`) one-way delay, each direction, on the link between two tiers.

    The local target applies it through the tier link's delay relay (on top of a variant's own
    delay; see deploy/local/tierlinks.py); the k8s target refuses it before the run.
    """

    kind: Literal["add-latency"]
    delay_ms: Annotated[float, Field(gt=0, le=10_000)]
    jitter_ms: Annotated[float, Field(ge=0, le=10_000)] = 0.0


class RemoveLatency(_LinkEvent):
    """Remove the delay an earlier `add-latency` put on the same link."""

    kind: Literal["remove-latency"]


class ScaleTo(BaseEvent):
    """Set the web Deployment's replicas by hand; the HPA then respects or overrides it."""

    kind: Literal["scale-to"]
    replicas: Annotated[int, Field(ge=0, le=1000)]


_KINDS: dict[str, type[BaseEvent]] = {}


def register_event_kind(cls: type[BaseEvent]) -> type[BaseEvent]:
    """Make an event kind known (its `kind` literal is the name). A duplicate is an error."""
    kind = cls.model_fields["kind"].annotation.__args__[0]  # type: ignore[union-attr]
    if kind in _KINDS:
        raise ValueError(f"event kind {kind!r} is already registered")
    _KINDS[kind] = cls
    return cls


def event_kinds() -> list[str]:
    return sorted(_KINDS)


for _cls in (Rollout, KillPod, RestartDb, RestartCache, AddLatency, RemoveLatency, ScaleTo):
    register_event_kind(_cls)


def event_union() -> Any:
    """The discriminated union of the registered kinds (what `Scenario.events` validates)."""
    classes = tuple(_KINDS.values())
    return Annotated[Union[classes], Field(discriminator="kind")]  # noqa: UP007 - built at runtime


EventSpec = event_union()


def check_events(events: list[BaseEvent], duration_s: float | None) -> None:
    """Cross-event rules (ValueError naming the event): offsets inside the load after the
    warm-up, and latency removed only from a link an earlier event delayed."""
    if len(events) > MAX_EVENTS:
        raise ValueError(f"at most {MAX_EVENTS} events")
    delayed: set[tuple[str, ...]] = set()
    names: set[str] = set()
    for index, event in ordered(events):
        where = f"events.{index} ({event.kind_name})"
        if duration_s is not None and event.at_s >= duration_s:
            raise ValueError(f"{where}: at_s {event.at_s:g} is not before the end of the load ({duration_s:g} s)")
        label = event_name(event, index)
        if label in names:
            raise ValueError(f"{where}: event name {label!r} is used twice")
        names.add(label)
        if isinstance(event, AddLatency):
            delayed.add(tuple(sorted(event.between)))
        elif isinstance(event, RemoveLatency):
            link = tuple(sorted(event.between))
            if link not in delayed:
                raise ValueError(f"{where}: no earlier add-latency on {'-'.join(link)}")
            delayed.discard(link)


def ordered(events: list[BaseEvent]) -> list[tuple[int, BaseEvent]]:
    """(index in the file, event) by `at_s`; equal offsets keep their file order."""
    return sorted(enumerate(events), key=lambda pair: (pair[1].at_s, pair[0]))


def event_name(event: BaseEvent, index: int) -> str:
    return event.name or f"{event.kind_name}-{index + 1}"


@dataclass(frozen=True)
class ScheduledEvent:
    """An event placed on the load phase's clock: `t_s` = seconds after the load started."""

    index: int
    name: str
    t_s: float
    event: BaseEvent

    @property
    def kind(self) -> str:
        return self.event.kind_name


def scheduled(scenario: Scenario, time_scale: float = 1.0) -> list[ScheduledEvent]:
    """The scenario's events in firing order, at `(warm-up + at_s) * time_scale` load seconds."""
    if time_scale <= 0:
        raise ValueError("time_scale must be > 0")
    warmup_s = scenario.warmup.duration_s if scenario.warmup is not None else 0.0
    return [
        ScheduledEvent(index, event_name(event, index), (warmup_s + event.at_s) * time_scale, event)
        for index, event in ordered(list(scenario.events))
    ]
