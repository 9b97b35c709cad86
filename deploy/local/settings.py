"""Settings of the local target (`LocalSettings`), every field with its unit."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from hpabench.deploy.hpa.controller_settings import HpaSettings

CGROUP_MODES = ("auto", "v1", "v2", "none")


@dataclass(frozen=True)
class LocalSettings:
    """How the local target runs the rendered manifests.

    - `scrape_interval_s`: Prometheus scrape (and rule evaluation) interval, seconds.
    - `autoscale`: start one HPA controller per HorizontalPodAutoscaler object.
    - `hpa_settings`: passed through to the HPA controller (`hpabench.deploy.hpa.controller_settings.HpaSettings`).
    - `restart_backoff_base_s` / `restart_backoff_max_s`: the kubelet's crash-loop back-off: the
      first restart is immediate, then base, 2·base, 4·base, … capped at max (10 s / 300 s).
      Tests scale these down.
    - `backoff_reset_s`: a container that ran this long resets its back-off (kubelet: 10 min).
    - `ready_timeout_s`: how long `LocalCluster.start` waits for all pods to be ready, seconds.
    - `namespace`: the `namespace` label value on every series (the k8s target's namespace).
    - `cgroups`: "auto" (v2 if usable, else v1, else none), "v1", "v2" or "none" (no limits).
    - `cgroup_parent`: the cgroup (path relative to each hierarchy's root) our `hpabench-*`
      group is created in; default: v1 the cgroup this process is in, v2 the root.
    - `drop_privileges`: when running as root, run PostgreSQL as the `postgres` system user and
      the app and Redis as the manifest's `runAsUser`/`runAsGroup` (default 65534, "nobody").
    - `haproxy_maxconn`: HAProxy's global connection limit.
    - `probe_tick_s`: how often a pod's supervisor checks its process and due probes, seconds.
    """

    scrape_interval_s: float = 5.0
    autoscale: bool = True
    hpa_settings: HpaSettings | None = None
    restart_backoff_base_s: float = 10.0
    restart_backoff_max_s: float = 300.0
    backoff_reset_s: float = 600.0
    ready_timeout_s: float = 120.0
    namespace: str = "hpabench"
    cgroups: str = "auto"
    cgroup_parent: str | None = None
    drop_privileges: bool = True
    haproxy_maxconn: int = 4096
    probe_tick_s: float = 0.05

    def __post_init__(self) -> None:
        if self.cgroups not in CGROUP_MODES:
            raise ValueError(f"cgroups must be one of {', '.join(CGROUP_MODES)}, not {self.cgroups!r}")
        for name in ("scrape_interval_s", "ready_timeout_s", "probe_tick_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.restart_backoff_base_s < 0 or self.restart_backoff_max_s < self.restart_backoff_base_s:
            raise ValueError("need 0 <= restart_backoff_base_s <= restart_backoff_max_s")

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (the inverse of `from_json`)."""
        data = asdict(self)
        data["hpa_settings"] = self.hpa_settings.model_dump(mode="json") if self.hpa_settings else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LocalSettings:
        """Inverse of `to_json`."""
        data = dict(data)
        if isinstance(data.get("hpa_settings"), dict):
            data["hpa_settings"] = HpaSettings.model_validate(data["hpa_settings"])
        return cls(**data)
