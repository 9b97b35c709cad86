"""Settings of the k8s target (`K8sSettings`), validated from `TargetOptions.extra` (unknown key → SpecError).

- `kubeconfig` / `context`: which cluster (default: $KUBECONFIG or ~/.kube/config, its current
  context); `in_cluster`: use the pod's service account (default: auto when running in a pod).
- `namespace_prefix`: every run gets a fresh namespace `<prefix>-<run id>-<4 hex>`.
- `prometheus_url`: a Prometheus the runner can reach (e.g. http://127.0.0.1:9090 of your own
  port-forward). Unset: discover a kube-prometheus-stack Prometheus pod (label
  `app.kubernetes.io/name=prometheus`) and reach it through a port-forward the target opens.
- `ready_timeout_s`, `teardown_timeout_s`: waits for readiness and for the namespace to go.
- `watch_timeout_s`: how long each watch request lives before it is resumed (API load vs. churn).
- `monitors`: create ServiceMonitor/PodMonitor objects scraping the run at the scrape interval
  (needs the Prometheus Operator's CRDs; "auto" = when the cluster serves monitoring.coreos.com).
- `load_from`: `runner` (default: Locust on this machine through the loopback port-forward — the
  small-run mode) or `cluster` (a Locust master Job and `expect_workers` worker pods in the run's
  namespace, image `loadgen_image`; the load clock starts when all are connected, waiting at most
  `expect_workers_wait_s`; see `incluster_driver`).
- `helm` (`--helm`): deploy the reference architecture as a Helm release (`helm.py`) of
  `deploy/helm/hpabench-reference/` instead of applying the rendered objects: `release` name,
  the run's `variant` file and `overrides` (what `--variant`/`--set` gave: the chart values are
  resolved from them), `binary` (default: helm on PATH, else .tools/bin/helm), `timeout_s` per
  helm command.
- `hpa_flags`: what the API cannot show, recorded as user-supplied facts in manifest.json:
  the controller-manager's `--horizontal-pod-autoscaler-sync-period`, `-tolerance`,
  `-downscale-stabilization` (seconds / ratio). Defaults are Kubernetes' (15 s, 0.1, 300 s).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hpabench.errors import SpecError, SpecIssue

_PREFIX = re.compile(r"^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$")


class HpaFlags(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sync_period_s: float = Field(default=15.0, gt=0)
    tolerance: float = Field(default=0.1, ge=0, lt=1)
    downscale_stabilization_s: float = Field(default=300.0, ge=0)
    source: str = "kubernetes defaults (not read from the cluster)"


class HelmSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    release: str = "hpabench"
    variant: Path | None = None
    overrides: tuple[str, ...] = ()
    binary: str | None = None
    timeout_s: float = Field(default=300.0, gt=0, le=3600)

    @field_validator("release")
    @classmethod
    def _release(cls, value: str) -> str:
        if not re.match(r"^[a-z0-9]([a-z0-9-]{0,51}[a-z0-9])?$", value):
            raise ValueError("must be a Helm release name: lowercase letters, digits and '-', at most 53 characters")
        return value


class K8sSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kubeconfig: Path | None = None
    context: str | None = None
    in_cluster: bool | None = None
    namespace_prefix: str = "hpabench"
    prometheus_url: str | None = None
    ready_timeout_s: float = Field(default=300.0, gt=0, le=3600)
    teardown_timeout_s: float = Field(default=300.0, gt=0, le=3600)
    watch_timeout_s: int = Field(default=60, ge=5, le=600)
    monitors: Literal["auto", "on", "off"] = "auto"
    hpa_flags: HpaFlags = HpaFlags()
    helm: HelmSettings | None = None
    load_from: Literal["runner", "cluster"] = "runner"
    loadgen_image: str = "hpabench/loadgen:0.1.0"
    expect_workers: int = Field(default=2, ge=1, le=64)
    expect_workers_wait_s: float = Field(default=120.0, gt=0, le=3600)

    @field_validator("namespace_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _PREFIX.match(value):
            raise ValueError("must be a DNS label of at most 30 characters: lowercase letters, digits and '-'")
        return value

    @field_validator("prometheus_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL, e.g. http://127.0.0.1:9090")
        return value.rstrip("/") if value else value


def settings_from_extra(extra: dict[str, Any]) -> K8sSettings:
    """`TargetOptions.extra` → K8sSettings; SpecError listing every bad or unknown key."""
    try:
        return K8sSettings.model_validate(extra)
    except ValidationError as exc:
        issues = [
            SpecIssue("target settings", ".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()
        ]
        raise SpecError(issues, headline="invalid k8s target settings:") from None
