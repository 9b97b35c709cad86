"""The local target as a `hpabench.target.Target`: the rendered objects on 127.0.0.1.

`LocalTarget.admit` runs every check `LocalCluster.start` would run before it starts a process
(the local interpretation of the objects, the HPA features the local controller honours, the
server binaries), so the pipeline can refuse a run before its run directory exists.
`admit_events` also remembers which tier links the scenario's `add-latency` events will delay:
`start` gives those Services a delay relay (`deploy/local/tierlinks.py`), since the pods' env
cannot be re-pointed once they run.
"""

from __future__ import annotations

from typing import Any

from hpabench.deploy.hpa.admission import validate_hpa
from hpabench.deploy.hpa.controller_settings import HpaSettings
from hpabench.deploy.local import events as local_events
from hpabench.deploy.local.binaries import check_binaries
from hpabench.deploy.local.cluster import LocalCluster, required_binaries
from hpabench.deploy.local.netem import netem_admission
from hpabench.deploy.local.settings import LocalSettings
from hpabench.deploy.local.workloads import parse_objects
from hpabench.errors import SpecError, SpecIssue
from hpabench.rundir import RunDir
from hpabench.scenarios.events import BaseEvent
from hpabench.target import Progress, ReplicaView, TargetOptions, register_target

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


class LocalDeployed:
    """A running `LocalCluster`, seen through the `Deployed` protocol."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster

    @property
    def service_url(self) -> str:
        return self.cluster.service_url("web")

    @property
    def prometheus_url(self) -> str:
        return self.cluster.prometheus_url

    @property
    def namespace(self) -> str:
        return self.cluster.settings.namespace

    @property
    def load_hosts(self) -> tuple[str, ...]:
        return LOOPBACK_HOSTS

    def replicas(self, workload: str = "web") -> ReplicaView:
        deployment = self.cluster.deployment(workload)
        ready = sum(1 for pod in deployment.pods() if pod.ready)
        return ReplicaView(spec_replicas=deployment.spec_replicas, ready_replicas=ready)

    def perform_event(self, event: BaseEvent, emit: Any) -> dict[str, Any]:
        """One scenario event on the running stack (`deploy/local/events.py`)."""
        return local_events.perform(self.cluster, event, emit)

    def align_autoscaler(self, anchor_ts: float, phase_s: float) -> None:
        """Place every HPA controller's sync grid at `phase_s` after `anchor_ts` (studies)."""
        for controller in self.cluster.hpa_controllers:
            controller.align_sync(anchor_ts, phase_s)

    def stop(self) -> None:
        self.cluster.stop()


class LocalTarget:
    """Builds `LocalSettings` from the user's `TargetOptions` (plus `extra` LocalSettings fields)."""

    name = "local"

    def __init__(self, options: TargetOptions) -> None:
        self.settings = LocalSettings(
            scrape_interval_s=options.scrape_interval_s,
            autoscale=options.autoscale,
            hpa_settings=options.hpa_settings,
            **options.extra,
        )
        self.delayed_services: tuple[str, ...] = ()  # set by admit_events (latency events' links)

    def admit(self, objects: list[dict[str, Any]]) -> list[SpecIssue]:
        """Every reason the local target would refuse `objects`. MissingDependencyError (exit 1,
        naming the Debian package) when a server binary is absent."""
        try:
            spec = parse_objects(objects)
        except SpecError as exc:
            return list(exc.issues)
        issues: list[SpecIssue] = []
        hpa_settings = self.settings.hpa_settings or HpaSettings()
        for hpa in spec.hpas:
            issues += validate_hpa(hpa, objects, hpa_settings, "rendered manifests")
        issues += netem_admission(objects)
        check_binaries(required_binaries(spec, self.settings))
        return issues

    def admit_events(self, events: list[BaseEvent], objects: list[dict[str, Any]]) -> list[SpecIssue]:
        """The scenario events the local target would refuse (`events.<i>` paths)."""
        self.delayed_services = local_events.delayed_services(events)
        return [
            SpecIssue("scenario", f"events.{index}", f"{event.kind_name}: {problem}")
            for index, event in enumerate(events)
            for problem in local_events.admit(event, objects)
        ]

    def start(self, objects: list[dict[str, Any]], run: RunDir, progress: Progress) -> LocalDeployed:
        cluster = LocalCluster.start(
            objects, run, self.settings, progress=progress, delayed_services=self.delayed_services
        )
        return LocalDeployed(cluster)


register_target("local", LocalTarget)
