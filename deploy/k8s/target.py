"""The k8s target as a `hpabench.target.Target`: the rendered objects in a fresh namespace of a real cluster.

Flow of `start` (any failure or Ctrl-C inside it deletes the namespace again and re-raises):
create the run's namespace → watch it (`observe.ClusterObserver`) → server-side apply exactly the
rendered objects (+ PodMonitors when the Prometheus Operator is there) → wait until every
workload is ready (`readiness`) → open a loopback port-forward balancing over the ready web
pods (the only place load may go) and one to Prometheus unless `prometheus_url` was given.
With `load_from: cluster`, `K8sDeployed.load_driver` is an `incluster_driver.InClusterDriver`
(Locust as pods in the namespace, reaching the app at its in-cluster Service name); the pipeline
uses it in place of the local driver. Otherwise it is None and load goes through the port-forward.
`K8sDeployed.stop()` closes the port-forwards and watches, writes the pods/HPA tables, deletes the
namespace and waits for it to be gone, then records what it measured of its own API use.

`admit` is the pre-flight (`preflight`): it creates nothing. `admit_events` refuses the scenario
events a cluster cannot perform (`deploy/k8s_events.admit`) and asks the API server for the
permissions the others need; `K8sDeployed.perform_event` performs one (`deploy/k8s_events.perform`
through `event_client.RestEventApi`) on the objects as deployed in the run's namespace.

With `--helm` (`K8sSettings.helm`, see `helm.py`) the rendered objects are not applied: the chart is
installed as a release into the run's namespace (`helm upgrade --install`), the pre-flight having
checked that helm is there and that the chart renders exactly the rendered objects; monitors are
still applied by the target. A rollout event's new image tag becomes a `helm upgrade`; any other
change is the API patch. Teardown runs `helm uninstall` before deleting the namespace.
manifest.json records `deployed_via` (`server-side-apply` or `helm`, with the chart version).
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path
from typing import Any

from hpabench.deploy import k8s_events
from hpabench.deploy.k8s.api import KubeApi
from hpabench.deploy.k8s.apply import apply_objects, create_namespace, delete_namespace
from hpabench.deploy.k8s.event_client import RestEventApi
from hpabench.deploy.k8s.helm import CHART, HelmRelease, chart_version, connection_args, find_helm, helm_issues
from hpabench.deploy.k8s.incluster_driver import HttpMasterLink, InClusterDriver, MasterLink
from hpabench.deploy.k8s.loadgen import ARTEFACT_PORT
from hpabench.deploy.k8s.monitors import monitor_objects, operator_served
from hpabench.deploy.k8s.observe import ClusterObserver
from hpabench.deploy.k8s.permissions import event_rules
from hpabench.deploy.k8s.portforward import PortForwarder, pod_upstream, round_robin
from hpabench.deploy.k8s.preflight import PROMETHEUS_SELECTOR, access_issues, preflight
from hpabench.deploy.k8s.readiness import wait_ready
from hpabench.deploy.k8s.resources import unknown_kinds
from hpabench.deploy.k8s.settings import K8sSettings, settings_from_extra
from hpabench.errors import SpecIssue, TargetError
from hpabench.rundir import RunDir
from hpabench.scenarios.events import BaseEvent, Rollout
from hpabench.target import Progress, ReplicaView, TargetOptions, register_target

LOOPBACK_HOSTS = ("127.0.0.1",)
PROMETHEUS_PORT = 9090


def service_backend(objects: list[dict[str, Any]], service: str) -> tuple[dict[str, str], int]:
    """(pod selector, container port number) behind `service`'s first port, resolved like kube-proxy
    resolves a named targetPort: from the pod template whose labels the selector matches."""
    svc = next((o for o in objects if o.get("kind") == "Service" and o["metadata"]["name"] == service), None)
    if svc is None:
        raise TargetError(f"the rendered objects have no Service {service!r}")
    selector = dict((svc.get("spec") or {}).get("selector") or {})
    target = ((svc.get("spec") or {}).get("ports") or [{}])[0].get("targetPort")
    if isinstance(target, int):
        return selector, target
    for obj in objects:
        template = (obj.get("spec") or {}).get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if selector and all(labels.get(k) == v for k, v in selector.items()):
            for container in (template.get("spec") or {}).get("containers") or []:
                for port in container.get("ports") or []:
                    if port.get("name") == target or target is None:
                        return selector, int(port["containerPort"])
    raise TargetError(f"Service/{service}: targetPort {target!r} matches no container port of its pods")


def service_port(objects: list[dict[str, Any]], service: str) -> int:
    svc = next(o for o in objects if o.get("kind") == "Service" and o["metadata"]["name"] == service)
    return int(((svc.get("spec") or {}).get("ports") or [{}])[0].get("port", 80))


class K8sDeployed:
    """A run's namespace on the cluster, seen through the `Deployed` protocol."""

    def __init__(self, target: K8sTarget, api: KubeApi, namespace: str, run: RunDir, progress: Progress) -> None:
        self.target, self.api, self._namespace, self.run, self.progress = target, api, namespace, run, progress
        self.observer: ClusterObserver | None = None
        self.forwarders: list[PortForwarder] = []
        self._service_url = ""
        self._prometheus_url = ""
        self.ready_at: float | None = None
        self._app_url = ""
        self._stopped = False
        self.objects: list[dict[str, Any]] = []  # as deployed (a rollout event replaces them)

    @property
    def service_url(self) -> str:
        return self._service_url

    @property
    def prometheus_url(self) -> str:
        return self._prometheus_url

    @property
    def namespace(self) -> str:
        return self._namespace

    @property
    def load_hosts(self) -> tuple[str, ...]:
        return LOOPBACK_HOSTS

    @property
    def load_driver(self) -> InClusterDriver | None:
        """The in-cluster Locust driver (`load_from: cluster`), or None: load from the runner."""
        settings = self.target.settings
        if settings.load_from != "cluster":
            return None
        return InClusterDriver(
            self.api,
            self.namespace,
            self.run,
            pods=self.observer.pod_objects if self.observer else list,
            open_link=self._open_master,
            app_url=self._app_url,
            image=settings.loadgen_image,
            workers=settings.expect_workers,
            expect_workers_wait_s=settings.expect_workers_wait_s,
        )

    def _open_master(self, pod: str) -> MasterLink:
        """The master pod's artefact endpoint through a loopback port-forward (closed with the link)."""
        url = self._forward("loadgen-master", self.namespace, ARTEFACT_PORT, lambda: pod)
        forwarder = self.forwarders[-1]
        return HttpMasterLink(url, on_close=forwarder.close)

    def replicas(self, workload: str = "web") -> ReplicaView:
        if self.observer is None:
            return ReplicaView(0, 0)
        return self.observer.replicas(workload)

    def perform_event(self, event: BaseEvent, emit: Any) -> dict[str, Any]:
        """One scenario event in the run's namespace (`deploy/k8s_events.py`); blocks until it is over."""
        release = self.target.release
        upgrade = self._helm_upgrade if release is not None and release.namespace is not None else None
        return k8s_events.perform(RestEventApi(self.api), self.namespace, self.objects, event, emit, upgrade=upgrade)

    def _helm_upgrade(self, new_objects: list[dict[str, Any]], event: Rollout) -> bool:
        """A rollout through `helm upgrade` when it is a values change (the image tag); else False."""
        from hpabench.deploy.k8s.helm import app_image

        image = app_image(new_objects)
        release = self.target.release
        if event.image_tag is None or image is None or release is None:
            return False
        self.progress(f"    helm upgrade {release.release}: image {image}")
        release.upgrade_image(image)
        return True

    def _forward(self, name: str, namespace: str, port: int, choose: Any) -> str:
        def warn(message: str) -> None:
            self.run.events.emit("warning", message=message)

        forwarder = PortForwarder(pod_upstream(self.api, namespace, port, choose), name, on_error=warn)
        self.forwarders.append(forwarder)
        return forwarder.url

    def bring_up(self, objects: list[dict[str, Any]]) -> None:
        settings = self.target.settings
        self.objects = copy.deepcopy(objects)
        self.observer = ClusterObserver(self.api, self.namespace, self.run, settings.watch_timeout_s).start()
        release = self.target.release_for(objects)
        applied = [] if release is not None else list(objects)  # with --helm the chart creates them
        if settings.monitors == "on" or (settings.monitors == "auto" and operator_served(self.api)):
            applied += monitor_objects(objects, self.namespace, self.target.options.scrape_interval_s)
        if release is not None:
            release.install(self.namespace, self.run.path / "helm")
            self.progress(f"    helm upgrade --install {release.release} {CHART.name} -n {self.namespace}")
            self.run.events.emit("helm_install", release=release.release, chart_version=chart_version())
            self.run.update_manifest(
                deployed_via="helm",
                helm={
                    "chart": "deploy/helm/hpabench-reference",
                    "chart_version": chart_version(),
                    "release": release.release,
                    "values": "helm/values.yaml",
                    "command": release.commands[-1][1:],
                },
            )
        else:
            self.run.update_manifest(deployed_via="server-side-apply")
        apply_objects(self.api, applied, self.namespace, self.progress)
        ready_s = wait_ready(self.api, self.namespace, objects, settings.ready_timeout_s, self.progress)
        self.ready_at = time.time()
        selector, port = service_backend(objects, "web")
        chooser = round_robin(lambda: self.observer.ready_pods(selector) if self.observer else [], "Service/web")
        self._service_url = self._forward("web", self.namespace, port, chooser)
        self._app_url = f"http://web:{service_port(objects, 'web')}"  # in-cluster DNS, same namespace
        self._prometheus_url = settings.prometheus_url or self._discover_prometheus()
        self.run.update_manifest(cluster={**self.target.facts, **self._placement(), "ready_s": round(ready_s, 3)})

    def _discover_prometheus(self) -> str:
        pods = self.api.get("/api/v1/pods", labelSelector=PROMETHEUS_SELECTOR).get("items") or []
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        if not running:
            raise TargetError("no running Prometheus pod (app.kubernetes.io/name=prometheus); pass --prometheus-url")
        pod = running[0]["metadata"]
        return self._forward("prometheus", pod["namespace"], PROMETHEUS_PORT, lambda: pod["name"])

    def _placement(self) -> dict[str, Any]:
        pods = self.api.get(f"/api/v1/namespaces/{self.namespace}/pods").get("items") or []
        placement = {p["metadata"]["name"]: (p.get("spec") or {}).get("nodeName") for p in pods}
        digests = {
            cs.get("image"): cs.get("imageID")
            for p in pods
            for cs in (p.get("status") or {}).get("containerStatuses") or []
            if cs.get("image")
        }
        return {"namespace": self.namespace, "pod_placement": placement, "image_digests": digests}

    def _uninstall(self) -> None:
        """`helm uninstall` of the run's release (before the namespace goes); a failure is a warning."""
        release = self.target.release
        if release is None or release.namespace is None:
            return
        try:
            release.uninstall()
            self.run.update_manifest(helm_uninstalled=True)
        except TargetError as exc:
            self.run.update_manifest(helm_uninstall_error=str(exc))
            self.run.events.emit("warning", message=f"helm uninstall failed (the namespace is deleted anyway): {exc}")
            self.progress(f"WARNING: helm uninstall failed: {exc}")

    def api_usage(self, until: float) -> dict[str, Any]:
        """Requests made since the workload was ready (watching, balancing, discovery), per second."""
        since = self.ready_at or until
        calls = [c for c in self.api.calls if since <= c.ts <= until]
        forwards = sum(1 for c in calls if c.path.endswith("/portforward"))
        window_s = max(until - since, 1e-9)
        return {
            "requests_total": len(self.api.calls),
            "window_s": round(until - since, 3),
            "watch_requests": len(calls) - forwards,
            "watch_requests_per_s": round((len(calls) - forwards) / window_s, 4) if calls else 0.0,
            "portforward_connections": forwards,
            "relists": self.observer.relists if self.observer else 0,
        }

    def stop(self) -> None:
        """Close forwards and watches, write the tables, delete the namespace and wait (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        usage = self.api_usage(time.time())
        try:
            for forwarder in self.forwarders:
                forwarder.close()
            if self.observer is not None:
                self.observer.stop()
        finally:
            try:
                self._uninstall()
                waited = delete_namespace(
                    self.api, self.namespace, self.target.settings.teardown_timeout_s, progress=self.progress
                )
                self.run.update_manifest(k8s_api=usage, teardown_s=round(waited, 3))
            except TargetError as exc:
                # stop() runs in `finally`: report loudly (manifest, events, console), never mask the run's error
                self.run.update_manifest(k8s_api=usage, teardown_error=str(exc))
                self.run.events.emit("warning", message=f"teardown incomplete: {exc}")
                self.progress(f"WARNING: teardown incomplete: {exc}")
            finally:
                self.api.close()


class K8sTarget:
    """Builds `K8sSettings` from `TargetOptions.extra`; see the module docstring."""

    name = "k8s"

    def __init__(self, options: TargetOptions) -> None:
        self.options = options
        self.settings: K8sSettings = settings_from_extra(options.extra)
        self.facts: dict[str, Any] = {}
        self.release: HelmRelease | None = None  # --helm: built by the pre-flight (or at start)

    def connect(self) -> KubeApi:
        s = self.settings
        return KubeApi.connect(s.kubeconfig, s.context, s.in_cluster)

    def admit(self, objects: list[dict[str, Any]]) -> list[SpecIssue]:
        """The pre-flight; every issue at once. Nothing is created."""
        issues = unknown_kinds(objects, "rendered manifests")
        if issues:
            return issues
        if self.settings.helm is not None:
            issues = self._admit_helm(objects)
            if issues:
                return issues
        started = time.monotonic()
        with self.connect() as api:
            found, facts = preflight(api, objects, self.settings, f"{self.settings.namespace_prefix}-preflight")
        self.facts = {
            **facts,
            "context": self.settings.context,
            "preflight_s": round(time.monotonic() - started, 3),
            "hpa_flags": self.settings.hpa_flags.model_dump(),
        }
        return found

    def _release(self, objects: list[dict[str, Any]]) -> tuple[list[SpecIssue], HelmRelease | None]:
        helm = self.settings.helm
        assert helm is not None
        binary = find_helm(helm.binary)
        issues, values = helm_issues(binary, helm.variant, helm.overrides, objects, self.options.autoscale)
        if issues or values is None or binary is None:
            return issues, None
        connection = connection_args(self.settings.kubeconfig, self.settings.context)
        return [], HelmRelease(binary, helm.release, values, connection, timeout_s=helm.timeout_s)

    def _admit_helm(self, objects: list[dict[str, Any]]) -> list[SpecIssue]:
        """helm is there, the variant is chart values, and the chart renders exactly `objects`."""
        issues, release = self._release(objects)
        if release is None:
            return issues
        with tempfile.TemporaryDirectory(prefix="hpabench-helm-") as scratch:
            try:
                differences = release.differences(self.objects_to_apply(objects), Path(scratch))
            except TargetError as exc:
                return [SpecIssue("--helm", "helm template", str(exc))]
        if differences:
            return [
                SpecIssue(
                    "--helm",
                    "deploy/helm/hpabench-reference",
                    "the chart would not deploy what `hpabench render` rendered: " + "; ".join(differences),
                )
            ]
        self.release = release
        return []

    def release_for(self, objects: list[dict[str, Any]]) -> HelmRelease | None:
        """The run's Helm release (None without --helm); built now if the pre-flight did not run."""
        if self.settings.helm is None:
            return None
        if self.release is None:
            issues, self.release = self._release(objects)
            if self.release is None:
                raise TargetError("; ".join(str(i) for i in issues) or "--helm: no helm release")
        return self.release

    def admit_events(self, events: list[BaseEvent], objects: list[dict[str, Any]]) -> list[SpecIssue]:
        """The scenario events this target refuses (`events.<i>` paths), then — when all are
        possible — the permissions they need, asked of the API server. Nothing is created."""
        issues = [
            SpecIssue("scenario", f"events.{index}", f"{event.kind_name}: {problem}")
            for index, event in enumerate(events)
            for problem in k8s_events.admit(event, objects)
        ]
        rules = event_rules({event.kind_name for event in events})
        if issues or not rules:
            return issues
        with self.connect() as api:
            return access_issues(api, rules, f"{self.settings.namespace_prefix}-preflight")

    def objects_to_apply(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rendered objects; without autoscaling, minus the HPAs (the web tier stays as rendered)."""
        if self.options.autoscale:
            return list(objects)
        return [o for o in objects if o.get("kind") != "HorizontalPodAutoscaler"]

    def start(self, objects: list[dict[str, Any]], run: RunDir, progress: Progress) -> K8sDeployed:
        api = self.connect()
        try:
            namespace = create_namespace(api, self.settings.namespace_prefix, run.run_id)
        except BaseException:
            api.close()
            raise
        progress(f"    namespace: {namespace}")
        run.events.emit("k8s_namespace", namespace=namespace)
        deployed = K8sDeployed(self, api, namespace, run, progress)
        try:
            deployed.bring_up(self.objects_to_apply(objects))
        except BaseException:
            deployed.stop()
            raise
        return deployed


register_target("k8s", K8sTarget)
