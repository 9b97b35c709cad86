"""Variants: a small YAML of typed knobs over the base manifests, plus RFC 6902 patches.

Contract: `load_variant(path)` returns a validated `Variant` or raises `SpecError` whose issues
name the file and the field path (`hpa.behavior.scaleUp.policies.0.periodSeconds`); every problem
is reported at once. `default_variant()` is the built-in `baseline` (no knob set). A knob left
unset (None) keeps the base manifests' value; `deploy.render` applies the knobs, then the patches.

Knobs and where they land (render.py does the landing):

- `web.resources.{requests,limits}.{cpu,memory}` (Kubernetes quantities) → the web container.
- `web.replicas` → Deployment `spec.replicas` (the starting point; the HPA then takes over).
- `web.concurrency` → uvicorn `--limit-concurrency` (container args) and, unless
  `web.db_pool_max` is set, `DB_POOL_MAX` in the ConfigMap.
- `web.cache_ttl_s`, `web.work_cost` → `CACHE_TTL_S`, `WORK_DEFAULT_COST` in the ConfigMap.
- `web.rollout.{max_surge,max_unavailable,min_ready_s,termination_grace_s,pre_stop_delay_s}` →
  the Deployment's strategy, minReadySeconds, grace period and a preStop sleep (deploy/strategy.py).
- `hpa.enabled: false` removes the HPA (fixed replicas); `min_replicas`, `max_replicas`,
  `target_cpu_utilization` (percent of the CPU request), extra `metrics` (autoscaling/v2
  MetricSpec list, appended) and `behavior` (autoscaling/v2, passed through verbatim).
- `networking.session_affinity` → Service `sessionAffinity`; `lb_algorithm` and
  `max_conn_per_pod` → Service annotations `hpabench.io/lb-algorithm`,
  `hpabench.io/max-conn-per-pod` (the local target's HAProxy honours them).
- `controller` → the local HPA controller (`HpaSettings`, upstream defaults); `slo` → the gate.
- `extras.networkpolicy`, `extras.pdb` → add `deploy/manifests/optional/` objects.
- `patches` → one RFC 6902 operation each, on one object chosen by `kind` + `name`.

Tuning-review knobs (issue 13):

- `web.remove_limits: [cpu, memory]` → no limit at all on the web container for those resources.
- `hpa.scale_point: raw | iso` (default raw). With `iso`, a variant that changes the CPU request
  gets its CPU target rescaled so that request × target (the per-pod load at which the HPA
  scales) stays what the base manifests have; the HPA carries `hpabench.io/scale-point-mode` and
  `hpabench.io/scale-point-millicores` so the report can say which question was asked.
- `hpa.target_rps_per_pod` → a `Pods` metric `http_requests_per_second` (AverageValue); the
  local controller answers it from Prometheus (`controller.custom_metrics` gets the PromQL unless
  the variant sets its own). `hpa.cpu_metric: false` drops the CPU metric (RPS only).
- `web.readiness.{period_s, failure_threshold, initial_delay_s}` → the web readinessProbe.
- `networking.lb_algorithm: source` → source-IP affinity (HAProxy `balance source`, the
  counterpart of `sessionAffinity: ClientIP`); `networking.client_keepalive: false` → Service
  annotation `hpabench.io/client-keepalive`, read by the load driver (a connection per request).
- `networking.netem.{client_web, web_db, web_cache}` → `delay_ms`, `jitter_ms`, `loss_pct`,
  `rate_mbit` added between the tiers, as annotation `hpabench.io/netem` (JSON) on the Service
  the traffic goes to (web, postgres, redis); a target that cannot apply it refuses the run.
- `extends: <variant>` and `--set path=value`: see `deploy/variant_layers.py`; the resolved
  variant records them in `extends` and `overrides`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from hpabench.deploy.apirules import quantity_problem
from hpabench.deploy.hpa.admission import api_problems
from hpabench.deploy.hpa.api_model import Behavior, HorizontalPodAutoscaler, MetricSpec
from hpabench.deploy.hpa.controller_settings import HpaSettings
from hpabench.deploy.hpa.quantity import parse_quantity
from hpabench.errors import SpecError, SpecIssue
from hpabench.slo import Slo
from hpabench.specio import OneLineText, StrictModel, validate_data

BUILTIN_SOURCE = "<built-in baseline variant>"
LB_ALGORITHMS = ("roundrobin", "leastconn", "random", "source")
RPS_METRIC = "http_requests_per_second"
# What prometheus-adapter would serve for the Pods metric: the app's own request counter per pod.
RPS_METRIC_QUERY = "sum by (pod) (rate(http_requests_total[30s]))"
TIERS = ("client_web", "web_db", "web_cache")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def cpu_millicores(quantity: str) -> int:
    """CPU quantity → millicores, rounded up like the API server ("250m" → 250, "0.5" → 500)."""
    return int(parse_quantity(quantity).milli)


def memory_bytes(quantity: str) -> int:
    """Memory quantity → bytes, rounded up ("128Mi" → 134217728)."""
    return -(-int(parse_quantity(quantity).milli) // 1000)


class ResourceList(StrictModel):
    """`cpu` / `memory` as Kubernetes quantities ("250m", "0.5", "128Mi"); numbers are accepted."""

    cpu: str | None = None
    memory: str | None = None

    @field_validator("cpu", "memory", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> Any:
        if value is None:
            return None
        problem = quantity_problem(value)  # the bounds an API server enforces
        if problem:
            raise ValueError(problem)
        parsed = parse_quantity(value)
        if parsed.value <= 0:
            raise ValueError("must be positive")
        return parsed.text


class Resources(StrictModel):
    requests: ResourceList | None = None
    limits: ResourceList | None = None

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        if self.requests is None or self.limits is None:
            return self
        if (
            self.requests.cpu
            and self.limits.cpu
            and cpu_millicores(self.requests.cpu) > cpu_millicores(self.limits.cpu)
        ):
            raise ValueError(f"requests.cpu {self.requests.cpu} exceeds limits.cpu {self.limits.cpu}")
        if (
            self.requests.memory
            and self.limits.memory
            and memory_bytes(self.requests.memory) > memory_bytes(self.limits.memory)
        ):
            raise ValueError(f"requests.memory {self.requests.memory} exceeds limits.memory {self.limits.memory}")
        return self


class RolloutKnobs(StrictModel):
    """How the web Deployment rolls (deploy/strategy.py renders it): `max_surge` /
    `max_unavailable` (pods or "N%", Kubernetes' rounding), `min_ready_s` (minReadySeconds),
    `termination_grace_s` (terminationGracePeriodSeconds), `pre_stop_delay_s` (a preStop sleep)."""

    max_surge: int | str | None = None
    max_unavailable: int | str | None = None
    min_ready_s: int | None = Field(default=None, ge=0, le=3600)
    termination_grace_s: int | None = Field(default=None, ge=0, le=3600)
    pre_stop_delay_s: int | None = Field(default=None, ge=0, le=3600)

    @field_validator("max_surge", "max_unavailable", mode="before")
    @classmethod
    def _int_or_percent(cls, value: Any) -> Any:
        from hpabench.deploy.strategy import parse_int_or_percent

        return None if value is None else parse_int_or_percent(value, "value")

    @model_validator(mode="after")
    def _consistent(self) -> RolloutKnobs:
        if self.max_surge in (0, "0%") and self.max_unavailable in (0, "0%"):
            raise ValueError("max_surge and max_unavailable may not both be 0 (the rollout could not progress)")
        if (
            self.pre_stop_delay_s is not None
            and self.termination_grace_s is not None
            and self.pre_stop_delay_s > self.termination_grace_s
        ):
            raise ValueError("pre_stop_delay_s exceeds termination_grace_s (the pod would be killed mid-hook)")
        return self


class Readiness(StrictModel):
    """The web container's readinessProbe timing (unset fields keep the manifest's)."""

    period_s: int | None = Field(default=None, ge=1, le=300)
    failure_threshold: int | None = Field(default=None, ge=1, le=100)
    initial_delay_s: int | None = Field(default=None, ge=0, le=3600)


class WebKnobs(StrictModel):
    """The web tier. Unset knobs keep the base manifests' values."""

    resources: Resources | None = None
    remove_limits: list[Literal["cpu", "memory"]] = Field(default_factory=list)
    readiness: Readiness | None = None
    replicas: int | None = Field(default=None, ge=1, le=1000)
    concurrency: int | None = Field(default=None, ge=1, le=10_000)
    db_pool_max: int | None = Field(default=None, ge=1, le=1000)
    cache_ttl_s: int | None = Field(default=None, ge=1, le=86_400)
    work_cost: int | None = Field(default=None, ge=0, le=2_000_000)
    rollout: RolloutKnobs | None = None


class HpaKnobs(StrictModel):
    """The web HPA (autoscaling/v2). `metrics` and `behavior` use the manifest's camelCase."""

    enabled: bool = True
    min_replicas: int | None = Field(default=None, ge=1, le=1000)
    max_replicas: int | None = Field(default=None, ge=1, le=1000)
    target_cpu_utilization: int | None = Field(default=None, ge=1, le=1000)
    metrics: list[MetricSpec] | None = None
    behavior: Behavior | None = None
    scale_point: Literal["raw", "iso"] = "raw"
    target_rps_per_pod: float | None = Field(default=None, gt=0, le=100_000)
    cpu_metric: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> HpaKnobs:
        if not self.enabled:
            set_knobs = sorted(name for name in self.model_fields_set if name not in ("enabled", "scale_point"))
            if set_knobs:
                raise ValueError(f"{', '.join(set_knobs)} set while enabled is false")
        if self.min_replicas is not None and self.max_replicas is not None and self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} exceeds max_replicas {self.max_replicas}")
        if not self.cpu_metric and self.target_rps_per_pod is None and not self.metrics:
            raise ValueError("cpu_metric false leaves the HPA without any metric; set target_rps_per_pod or metrics")
        if not self.cpu_metric and self.target_cpu_utilization is not None:
            raise ValueError("target_cpu_utilization set while cpu_metric is false")
        return self

    def metrics_manifest(self) -> list[dict[str, Any]]:
        """The extra metrics as manifest data (camelCase, unset fields omitted)."""
        return [m.model_dump(by_alias=True, exclude_none=True, mode="json") for m in self.metrics or []]

    def behavior_manifest(self) -> dict[str, Any] | None:
        """The behavior as manifest data, exactly the fields the variant set."""
        if self.behavior is None:
            return None
        dumped: dict[str, Any] = self.behavior.model_dump(by_alias=True, exclude_none=True, mode="json")
        return dumped


class Netem(StrictModel):
    """Impairment added to one direction-pair between two tiers (Linux netem semantics)."""

    delay_ms: float = Field(default=0.0, ge=0, le=10_000)
    jitter_ms: float = Field(default=0.0, ge=0, le=10_000)
    loss_pct: float = Field(default=0.0, ge=0, le=100)
    rate_mbit: float | None = Field(default=None, gt=0, le=100_000)

    @model_validator(mode="after")
    def _jitter_needs_delay(self) -> Netem:
        if self.jitter_ms > 0 and self.delay_ms == 0:
            raise ValueError("jitter_ms needs a delay_ms (netem varies the delay)")
        return self


class NetemKnobs(StrictModel):
    client_web: Netem | None = None
    web_db: Netem | None = None
    web_cache: Netem | None = None


class Networking(StrictModel):
    session_affinity: Literal["None", "ClientIP"] | None = None
    lb_algorithm: Literal["roundrobin", "leastconn", "random", "source"] | None = None
    max_conn_per_pod: int | None = Field(default=None, ge=1, le=100_000)
    client_keepalive: bool | None = None
    netem: NetemKnobs | None = None


class Extras(StrictModel):
    """Optional objects from `deploy/manifests/optional/`, off by default."""

    networkpolicy: bool = False
    pdb: bool = False


class Patch(StrictModel):
    """One RFC 6902 operation applied to the object `kind`/`name` after the knobs."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: str = Field(min_length=1)
    name: str = Field(min_length=1)
    op: Literal["add", "remove", "replace", "move", "copy", "test"]
    path: str
    value: Any = None
    from_: str | None = Field(default=None, alias="from")

    @field_validator("path", "from_")
    @classmethod
    def _pointer(cls, value: str | None) -> str | None:
        if value is not None and value != "" and not value.startswith("/"):
            raise ValueError("must be a JSON pointer starting with '/' (e.g. /spec/replicas)")
        return value

    @model_validator(mode="after")
    def _operands(self) -> Patch:
        if self.op in ("add", "replace", "test") and "value" not in self.model_fields_set:
            raise ValueError(f"a {self.op} operation needs a value")
        if self.op in ("move", "copy") and self.from_ is None:
            raise ValueError(f"a {self.op} operation needs from")
        return self

    def operation(self) -> dict[str, Any]:
        """The operation as RFC 6902 data."""
        op: dict[str, Any] = {"op": self.op, "path": self.path}
        if self.op in ("add", "replace", "test"):
            op["value"] = self.value
        if self.from_ is not None:
            op["from"] = self.from_
        return op


class Variant(StrictModel):
    """A named set of knobs; see the module docstring. `source_file` is where it was read from."""

    name: str
    description: Annotated[OneLineText, Field(max_length=500)] = ""
    extends: list[str] = Field(default_factory=list)
    overrides: list[str] = Field(default_factory=list)
    web: WebKnobs = Field(default_factory=WebKnobs)
    hpa: HpaKnobs = Field(default_factory=HpaKnobs)
    networking: Networking = Field(default_factory=Networking)
    controller: HpaSettings = Field(default_factory=HpaSettings)
    slo: Slo | None = None  # overrides the scenario's SLO field by field (hpabench.slo)
    extras: Extras = Field(default_factory=Extras)
    patches: list[Patch] = Field(default_factory=list)

    _source_file: str = PrivateAttr(default=BUILTIN_SOURCE)

    @field_validator("name")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if len(value) > 63 or not _NAME.match(value):
            raise ValueError("must be lower-case letters, digits and '-', at most 63 (it labels objects and runs)")
        return value

    @model_validator(mode="before")
    @classmethod
    def _rps_metric_query(cls, data: Any) -> Any:
        # The Pods metric needs an adapter query; supply the app's unless the variant set one.
        hpa = data.get("hpa") if isinstance(data, dict) else None
        if not isinstance(hpa, dict) or hpa.get("target_rps_per_pod") is None:
            return data
        if not isinstance(data.get("controller", {}), dict):
            return data  # validation reports the shape
        controller: dict[str, Any] = data.get("controller") or {}
        raw_custom = controller.get("custom_metrics")
        custom: dict[str, Any] = raw_custom if isinstance(raw_custom, dict) else {}
        if RPS_METRIC in custom:
            return data
        return {**data, "controller": {**controller, "custom_metrics": {**custom, RPS_METRIC: RPS_METRIC_QUERY}}}

    @property
    def source_file(self) -> str:
        """The file this variant came from (for error messages), or BUILTIN_SOURCE."""
        return self._source_file

    def with_source(self, file: str) -> Variant:
        """This variant, remembering `file` as its source."""
        self._source_file = file
        return self


def hpa_api_issues(variant: Variant, file: str) -> list[SpecIssue]:
    """What the API server would refuse in `hpa.metrics` / `hpa.behavior` (bounds, one source per
    metric, target kinds), as issues on the variant's own field paths."""
    knobs = variant.hpa
    if knobs.metrics is None and knobs.behavior is None:
        return []
    probe: dict[str, Any] = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "variant"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 1},
    }
    if knobs.metrics is not None:
        probe["spec"]["metrics"] = knobs.metrics_manifest()
    if knobs.behavior is not None:
        probe["spec"]["behavior"] = knobs.behavior_manifest()
    try:
        model = HorizontalPodAutoscaler.model_validate(probe)
    except ValidationError as exc:  # cannot happen for data that came from the same models
        return [SpecIssue(file, "hpa", f"not a valid autoscaling/v2 shape: {exc.error_count()} error(s)")]
    issues = []
    for path, message in api_problems(model):
        issues.append(SpecIssue(file, "hpa." + path.removeprefix("spec."), message))
    return issues


def load_variant(path: str | Path, overrides: Sequence[str] = ()) -> Variant:
    """Read and validate a variant file (its `extends` chain merged, then `overrides` applied,
    see `variant_layers`); raises SpecError listing every problem with its path."""
    from hpabench.deploy.variant_layers import apply_overrides, resolve_layers

    file = str(path)
    variant = validate_data(Variant, apply_overrides(resolve_layers(path), overrides), file)
    issues = hpa_api_issues(variant, file)
    if issues:
        raise SpecError(issues)
    return variant.with_source(file)


def resolve_variant(path: str | Path | None, overrides: Sequence[str] = ()) -> Variant:
    """`load_variant(path, overrides)`, or the built-in baseline with `overrides` applied."""
    if path is not None:
        return load_variant(path, overrides)
    if not overrides:
        return default_variant()
    from hpabench.deploy.variant_layers import apply_overrides

    base = default_variant().model_dump(exclude_defaults=True, mode="json")
    return validate_data(Variant, apply_overrides(base, overrides), "--set")


def default_variant() -> Variant:
    """The built-in `baseline`: the base manifests unchanged, upstream controller defaults."""
    return Variant(name="baseline", description="The base manifests as they are.")
