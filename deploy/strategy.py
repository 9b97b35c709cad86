"""The Deployment rollout strategy: manifest fields ↔ typed values, with Kubernetes' arithmetic.

Pure functions shared by rendering (variant knobs → manifest), the local target (which honours
the strategy) and the k8s-side event actions:

* `apply_strategy(deployment, knobs)` writes `spec.strategy.rollingUpdate.{maxSurge,maxUnavailable}`,
  `spec.minReadySeconds`, the pod template's `terminationGracePeriodSeconds` and a `preStop`
  sleep on the web container (the `sleep` lifecycle action, Kubernetes ≥ 1.30; older clusters
  need an image with `sleep` and an exec hook instead).
* `config_checksum(configmap)` / `CHECKSUM_ANNOTATION`: the Helm "checksum/config" pattern — the
  pod template carries a hash of the ConfigMap's data, so changing a value changes the template
  and restarts the pods through a rollout.
* `strategy_of(deployment)` reads a Deployment's strategy back (`RolloutStrategy`), and
  `resolve_fenceposts(replicas, max_surge, max_unavailable)` is the deployment controller's
  rounding: a percentage of maxSurge rounds **up**, of maxUnavailable **down**, and if both come
  out 0, maxUnavailable is 1 (kubernetes/pkg/controller/deployment/util.ResolveFenceposts).
  Defaults: 25 % / 25 %, minReadySeconds 0, grace 30 s.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

CHECKSUM_ANNOTATION = "checksum/config"
DEFAULT_SURGE = "25%"
DEFAULT_UNAVAILABLE = "25%"
DEFAULT_GRACE_S = 30.0
_PERCENT = re.compile(r"^(\d{1,3})%$")

IntOrPercent = int | str


def parse_int_or_percent(value: Any, what: str) -> IntOrPercent:
    """A non-negative integer or "N%" (ValueError otherwise)."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a non-negative integer or a percentage like 25%")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and _PERCENT.match(value.strip()):
        return value.strip()
    raise ValueError(f"{what} must be a non-negative integer or a percentage like 25%, not {value!r}")


def scaled_value(value: IntOrPercent, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, a percentage of `total` rounded."""
    if isinstance(value, int):
        return value
    match = _PERCENT.match(value)
    if match is None:
        raise ValueError(f"invalid percentage {value!r}")
    exact = int(match.group(1)) * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def resolve_fenceposts(replicas: int, max_surge: IntOrPercent, max_unavailable: IntOrPercent) -> tuple[int, int]:
    """(surge, unavailable) pods for `replicas` desired pods, rounded like the deployment controller."""
    surge = scaled_value(max_surge, replicas, round_up=True)
    unavailable = scaled_value(max_unavailable, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        # Both zero would never make progress; Kubernetes allows one unavailable pod.
        unavailable = 1
    return surge, unavailable


@dataclass(frozen=True)
class RolloutStrategy:
    """A Deployment's rollout behaviour; `kind` is RollingUpdate or Recreate."""

    kind: str = "RollingUpdate"
    max_surge: IntOrPercent = DEFAULT_SURGE
    max_unavailable: IntOrPercent = DEFAULT_UNAVAILABLE
    min_ready_s: float = 0.0
    progress_deadline_s: float = 600.0

    def limits(self, replicas: int) -> tuple[int, int]:
        """(surge, unavailable) for `replicas`; Recreate: no surge, everything may go."""
        if self.kind == "Recreate":
            return 0, replicas
        return resolve_fenceposts(replicas, self.max_surge, self.max_unavailable)


def strategy_of(deployment: dict[str, Any]) -> tuple[RolloutStrategy, list[tuple[str, str]]]:
    """The strategy a Deployment declares and its problems as (field path, message)."""
    spec = deployment.get("spec") or {}
    raw = spec.get("strategy") or {}
    problems: list[tuple[str, str]] = []
    kind = raw.get("type", "RollingUpdate")
    if kind not in ("RollingUpdate", "Recreate"):
        problems.append(("spec.strategy.type", "must be RollingUpdate or Recreate"))
        kind = "RollingUpdate"
    rolling = raw.get("rollingUpdate") or {}
    if kind == "Recreate" and rolling:
        problems.append(("spec.strategy.rollingUpdate", "may not be set when type is Recreate"))
    values: dict[str, IntOrPercent] = {}
    for field_name, default in (("maxSurge", DEFAULT_SURGE), ("maxUnavailable", DEFAULT_UNAVAILABLE)):
        try:
            values[field_name] = parse_int_or_percent(rolling.get(field_name, default), field_name)
        except ValueError as exc:
            problems.append((f"spec.strategy.rollingUpdate.{field_name}", str(exc)))
            values[field_name] = default
    if kind == "RollingUpdate" and values["maxSurge"] in (0, "0%") and values["maxUnavailable"] in (0, "0%"):
        problems.append(("spec.strategy.rollingUpdate", "maxSurge and maxUnavailable may not both be 0"))
    numbers: dict[str, float] = {}
    for field_name, default_s in (("minReadySeconds", 0.0), ("progressDeadlineSeconds", 600.0)):
        value = spec.get(field_name, default_s)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            problems.append((f"spec.{field_name}", "must be a non-negative integer"))
            value = default_s
        numbers[field_name] = float(value)
    strategy = RolloutStrategy(
        kind=kind,
        max_surge=values["maxSurge"],
        max_unavailable=values["maxUnavailable"],
        min_ready_s=numbers["minReadySeconds"],
        progress_deadline_s=numbers["progressDeadlineSeconds"],
    )
    return strategy, problems


def pre_stop_delay_s(container: dict[str, Any]) -> float | None:
    """The delay a container's preStop hook holds termination (a `sleep` action or an exec
    `sleep N`); None when there is no hook, ValueError for a hook this suite cannot interpret."""
    hook = ((container.get("lifecycle") or {}).get("preStop")) or None
    if hook is None:
        return None
    if "sleep" in hook:
        seconds = (hook.get("sleep") or {}).get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError("preStop.sleep.seconds must be a non-negative number")
        return float(seconds)
    command = (hook.get("exec") or {}).get("command")
    if isinstance(command, list) and len(command) == 2 and command[0] in ("sleep", "/bin/sleep"):
        try:
            return float(command[1])
        except ValueError:
            pass
    raise ValueError("only a `sleep` preStop hook (sleep action or exec [sleep, N]) has a local meaning")


def config_checksum(configmap: dict[str, Any]) -> str:
    """sha256 of the ConfigMap's data (canonical JSON), the value of CHECKSUM_ANNOTATION."""
    data = configmap.get("data") or {}
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def stamp_config_checksum(deployment: dict[str, Any], configmap: dict[str, Any]) -> None:
    """Put the ConfigMap's checksum on the Deployment's pod template (in place)."""
    template = deployment["spec"].setdefault("template", {})
    metadata = template.setdefault("metadata", {})
    if metadata.get("annotations") is None:
        metadata["annotations"] = {}
    metadata["annotations"][CHECKSUM_ANNOTATION] = config_checksum(configmap)


@dataclass(frozen=True)
class StrategyKnobs:
    """The manifest values a variant's `web.rollout` sets (None = keep the base manifests')."""

    max_surge: IntOrPercent | None = None
    max_unavailable: IntOrPercent | None = None
    min_ready_s: int | None = None
    termination_grace_s: int | None = None
    pre_stop_delay_s: int | None = None


def apply_strategy(deployment: dict[str, Any], container: dict[str, Any], knobs: StrategyKnobs) -> None:
    """Write the knobs into the Deployment and its web container (in place)."""
    spec = deployment["spec"]
    if knobs.max_surge is not None or knobs.max_unavailable is not None:
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        strategy["type"] = "RollingUpdate"
        rolling = strategy.setdefault("rollingUpdate", {})
        if knobs.max_surge is not None:
            rolling["maxSurge"] = knobs.max_surge
        if knobs.max_unavailable is not None:
            rolling["maxUnavailable"] = knobs.max_unavailable
    if knobs.min_ready_s is not None:
        spec["minReadySeconds"] = knobs.min_ready_s
    if knobs.termination_grace_s is not None:
        spec["template"]["spec"]["terminationGracePeriodSeconds"] = knobs.termination_grace_s
    if knobs.pre_stop_delay_s is not None:
        container.setdefault("lifecycle", {})["preStop"] = {"sleep": {"seconds": knobs.pre_stop_delay_s}}
