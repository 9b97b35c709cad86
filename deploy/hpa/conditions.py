"""HPA status conditions (AbleToScale, ScalingActive, ScalingLimited), as upstream keeps them."""

from __future__ import annotations

from dataclasses import dataclass, replace

ABLE_TO_SCALE = "AbleToScale"
SCALING_ACTIVE = "ScalingActive"
SCALING_LIMITED = "ScalingLimited"
CONDITION_TYPES = (ABLE_TO_SCALE, SCALING_ACTIVE, SCALING_LIMITED)

TRUE = "True"
FALSE = "False"
UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Condition:
    """One condition; `last_transition_ts` moves only when `status` changes (setConditionInList)."""

    type: str
    status: str
    reason: str
    message: str
    last_transition_ts: float


def set_condition(
    conditions: tuple[Condition, ...], type_: str, status: str, reason: str, message: str, now: float
) -> tuple[Condition, ...]:
    """Set `type_` in place (new types are appended, like upstream), keeping the transition time
    when the status is unchanged."""
    for index, existing in enumerate(conditions):
        if existing.type == type_:
            transition = existing.last_transition_ts if existing.status == status else now
            updated = replace(existing, status=status, reason=reason, message=message, last_transition_ts=transition)
            return (*conditions[:index], updated, *conditions[index + 1 :])
    return (*conditions, Condition(type_, status, reason, message, now))


def get_condition(conditions: tuple[Condition, ...], type_: str) -> Condition | None:
    for condition in conditions:
        if condition.type == type_:
            return condition
    return None


def is_true(conditions: tuple[Condition, ...], type_: str) -> bool:
    condition = get_condition(conditions, type_)
    return condition is not None and condition.status == TRUE
