"""The Target seam: where a run's rendered objects are deployed, and what the pipeline may see.

A *target* turns the rendered Kubernetes objects into a running system and back:

    target = get_target("local")(TargetOptions(...))
    target.admit(objects)                      # every problem the target would refuse, before a run dir
    deployed = target.start(objects, run, progress=print)
    try:
        deployed.service_url; deployed.prometheus_url; deployed.replicas("web")
    finally:
        deployed.stop()                        # idempotent; leaves nothing behind

Contract:
- `admit(objects)` is pure with respect to the machine/cluster state that matters for the run:
  it starts nothing and returns `SpecIssue`s (empty = admissible). The pipeline calls it before
  the run directory exists, so invalid input is refused with exit 2 and no trace.
- `start` returns only when the workload is ready to take load; any failure or Ctrl-C inside
  it tears down what it started and re-raises (`TargetError` for the target's own failures).
- `Deployed.stop()` is idempotent and safe to call from `finally` after any failure.
- `Deployed.load_hosts` are the only hosts load may be sent to (loopback for local; a
  port-forward or in-cluster Service name for a cluster).

Targets register by name (`register_target`); a duplicate name is an error. The pipeline looks
targets up here and never imports a target module itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from hpabench.errors import SpecError, SpecIssue

if TYPE_CHECKING:
    from hpabench.rundir import RunDir

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReplicaView:
    """What the progress line and status need of a workload: desired (spec) and ready replicas."""

    spec_replicas: int
    ready_replicas: int


@dataclass(frozen=True)
class TargetOptions:
    """Target-independent deployment settings the user chose (CLI / RunOptions)."""

    scrape_interval_s: float = 5.0
    autoscale: bool = True
    hpa_settings: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class Deployed(Protocol):
    """A running deployment of the rendered objects."""

    @property
    def service_url(self) -> str: ...

    @property
    def prometheus_url(self) -> str: ...

    @property
    def namespace(self) -> str: ...

    @property
    def load_hosts(self) -> tuple[str, ...]: ...

    def replicas(self, workload: str = "web") -> ReplicaView: ...

    def stop(self) -> None: ...


class Target(Protocol):
    """One place to deploy to. Built by its registered factory from `TargetOptions`."""

    name: str

    def admit(self, objects: list[dict[str, Any]]) -> list[SpecIssue]: ...

    def start(self, objects: list[dict[str, Any]], run: RunDir, progress: Progress) -> Deployed: ...


TargetFactory = Callable[[TargetOptions], Target]

_REGISTRY: dict[str, TargetFactory] = {}
# Built-in targets are imported on first lookup so `hpabench --help` stays instant.
_BUILTIN_MODULES = {"local": "hpabench.deploy.local.target", "k8s": "hpabench.deploy.k8s.target"}


def register_target(name: str, factory: TargetFactory) -> None:
    """Make `--target NAME` available. Registering a name twice is a programming error."""
    if name in _REGISTRY:
        raise ValueError(f"target {name!r} is already registered")
    _REGISTRY[name] = factory


def target_names() -> list[str]:
    """Every target a user may name: the registered ones and the built-ins not yet imported."""
    return sorted(set(_REGISTRY) | set(_BUILTIN_MODULES))


def get_target(name: str) -> TargetFactory:
    """The factory registered as `name`; SpecError (exit 2) naming the known targets otherwise."""
    if name not in _REGISTRY and name in _BUILTIN_MODULES:
        import importlib

        try:
            importlib.import_module(_BUILTIN_MODULES[name])
        except ModuleNotFoundError as exc:
            if exc.name != _BUILTIN_MODULES[name]:
                raise
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise SpecError([SpecIssue("--target", "", f"unknown target {name!r} (available: {known})")])
    return _REGISTRY[name]
