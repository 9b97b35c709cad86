"""The rendered objects, read as what the local target runs (pure; every problem reported at once).

`parse_objects(objects)` → `ClusterSpec` or `SpecError` whose issues name the object
("Deployment/web"), the field path and the problem. It decides, before anything starts:

* which local runtime runs each container image (docs/contracts.md: `…/refapp:*` → the app,
  `postgres:*` → PostgreSQL, `redis:*` → Redis; anything else is refused);
* which Services are load-balanced through HAProxy (those selecting app pods) and which point
  straight at a single-instance server (PostgreSQL, Redis: one replica, a stable port);
* the pod resources (requests/limits) and that every env reference resolves.

Supported kinds: Deployment, StatefulSet, Service, ConfigMap, Secret, HorizontalPodAutoscaler.
Kinds with no local meaning (NetworkPolicy, PodDisruptionBudget, ...) are listed in `ignored`.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from hpabench.deploy.local.env import EnvError, PodContext, configmap_values, resolve_env, secret_values
from hpabench.deploy.local.resources import Resources, container_resources, pod_resources
from hpabench.deploy.strategy import RolloutStrategy, pre_stop_delay_s, strategy_of
from hpabench.errors import SpecError, SpecIssue

RUNTIME_APP = "refapp"
RUNTIME_POSTGRES = "postgres"
RUNTIME_REDIS = "redis"
SINGLE_INSTANCE_RUNTIMES = (RUNTIME_POSTGRES, RUNTIME_REDIS)

WORKLOAD_KINDS = ("Deployment", "StatefulSet")
IGNORED_KINDS = (
    "NetworkPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Namespace",
    "Ingress",
    "Role",
    "RoleBinding",
    "LimitRange",
    "ResourceQuota",
    "PriorityClass",
)
LB_ALGORITHM_ANNOTATION = "hpabench.io/lb-algorithm"
MAX_CONN_ANNOTATION = "hpabench.io/max-conn-per-pod"
LB_ALGORITHMS = ("roundrobin", "leastconn", "random", "source")
DEFAULT_GRACE_S = 30.0

# k8s.io/apimachinery rand.SafeEncodeString alphabet (no vowels, no confusable characters)
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def image_runtime(image: str) -> str | None:
    """Container image → local runtime name, or None if nothing runs it locally."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    repo = last.split(":", 1)[0]
    if repo == "refapp":
        return RUNTIME_APP
    if repo == "postgres":
        return RUNTIME_POSTGRES
    if repo == "redis":
        return RUNTIME_REDIS
    return None


def template_hash(template: Any) -> str:
    """A stable pod-template-hash: FNV-1a 32 of the canonical template, safe-encoded like k8s."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in str(value))


def random_suffix(n: int = 5) -> str:
    """`n` random characters of the safe alphabet (a ReplicaSet pod name suffix)."""
    return "".join(secrets.choice(SAFE_ALPHABET) for _ in range(n))


@dataclass(frozen=True)
class PortSpec:
    name: str | None
    container_port: int


@dataclass(frozen=True)
class ContainerSpec:
    """One container as the local runtime needs it. `raw` is the manifest mapping (for env)."""

    name: str
    image: str
    runtime: str
    command: tuple[str, ...] | None
    args: tuple[str, ...] | None
    ports: tuple[PortSpec, ...]
    readiness: dict[str, Any] | None
    liveness: dict[str, Any] | None
    startup: dict[str, Any] | None
    resources: Resources
    run_as_user: int | None
    run_as_group: int | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    def port_number(self, port: int | str) -> int | None:
        """A probe/Service port (number or name) → the container port number, None if unknown."""
        if isinstance(port, int):
            return port
        for spec in self.ports:
            if spec.name == port:
                return spec.container_port
        return int(port) if str(port).isdigit() else None


@dataclass(frozen=True)
class WorkloadSpec:
    kind: str  # Deployment | StatefulSet
    name: str
    replicas: int
    runtime: str  # runtime of the main container
    labels: dict[str, str]
    annotations: dict[str, str]
    init_containers: tuple[ContainerSpec, ...]
    containers: tuple[ContainerSpec, ...]
    resources: Resources  # effective pod resources (see resources.pod_resources)
    grace_s: float
    template_hash: str
    pre_stop_s: float = 0.0  # a preStop sleep hook: the pod keeps serving in-flight work this long
    strategy: RolloutStrategy = field(default_factory=RolloutStrategy)

    @property
    def main(self) -> ContainerSpec:
        return self.containers[0]


@dataclass(frozen=True)
class ServicePortSpec:
    name: str | None
    port: int
    target_port: int  # container port number


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    workload: str
    load_balanced: bool  # True: HAProxy frontend; False: straight to the single pod's port
    ports: tuple[ServicePortSpec, ...]
    lb_algorithm: str
    max_conn_per_pod: int | None


@dataclass(frozen=True)
class ClusterSpec:
    workloads: tuple[WorkloadSpec, ...]
    services: tuple[ServiceSpec, ...]
    configmaps: dict[str, dict[str, str]]
    secrets: dict[str, dict[str, str]]
    hpas: tuple[dict[str, Any], ...]
    ignored: tuple[str, ...]  # "Kind/name" of objects with no local meaning
    objects: tuple[dict[str, Any], ...] = field(repr=False, compare=False)

    def workload(self, name: str) -> WorkloadSpec:
        for workload in self.workloads:
            if workload.name == name:
                return workload
        raise KeyError(name)


class _Issues:
    def __init__(self) -> None:
        self.items: list[SpecIssue] = []

    def add(self, obj: str, path: str, message: str) -> None:
        self.items.append(SpecIssue(obj, path, message))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _strs(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError("must be a list of strings")
    return tuple(str(v) for v in value)


def _probe(value: Any, where: str, issues: _Issues, obj: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        issues.add(obj, where, "must be a mapping")
        return None
    handlers = [k for k in ("httpGet", "tcpSocket", "exec", "grpc") if k in value]
    if len(handlers) != 1:
        issues.add(obj, where, "needs exactly one of httpGet, tcpSocket, exec")
        return None
    if handlers[0] == "grpc":
        issues.add(obj, f"{where}.grpc", "gRPC probes are not supported by the local target")
        return None
    return value


def _container(raw: Any, where: str, pod_spec: dict[str, Any], issues: _Issues, obj: str) -> ContainerSpec | None:
    if not isinstance(raw, dict):
        issues.add(obj, where, "must be a mapping")
        return None
    name = raw.get("name")
    image = raw.get("image")
    if not isinstance(name, str) or not name:
        issues.add(obj, f"{where}.name", "missing")
        return None
    if not isinstance(image, str) or not image:
        issues.add(obj, f"{where}.image", "missing")
        return None
    runtime = image_runtime(image)
    if runtime is None:
        issues.add(
            obj,
            f"{where}.image",
            f"no local runtime for image {image!r} (the local target runs …/refapp:*, postgres:*, redis:*)",
        )
        return None
    try:
        command, args = _strs(raw.get("command")), _strs(raw.get("args"))
    except ValueError as exc:
        issues.add(obj, f"{where}.command", str(exc))
        return None
    ports: list[PortSpec] = []
    for i, port in enumerate(raw.get("ports") or []):
        number = _int(port.get("containerPort")) if isinstance(port, dict) else None
        if number is None or not 0 < number < 65536:
            issues.add(obj, f"{where}.ports.{i}.containerPort", "must be a port number")
            continue
        ports.append(PortSpec(port.get("name"), number))
    try:
        resources = container_resources(raw.get("resources"))
    except ValueError as exc:
        issues.add(obj, f"{where}.resources", str(exc))
        resources = Resources()
    pod_sc = pod_spec.get("securityContext") or {}
    sc = raw.get("securityContext") or {}
    return ContainerSpec(
        name=name,
        image=image,
        runtime=runtime,
        command=command,
        args=args,
        ports=tuple(ports),
        readiness=_probe(raw.get("readinessProbe"), f"{where}.readinessProbe", issues, obj),
        liveness=_probe(raw.get("livenessProbe"), f"{where}.livenessProbe", issues, obj),
        startup=_probe(raw.get("startupProbe"), f"{where}.startupProbe", issues, obj),
        resources=resources,
        run_as_user=_int(sc.get("runAsUser", pod_sc.get("runAsUser"))),
        run_as_group=_int(sc.get("runAsGroup", pod_sc.get("runAsGroup"))),
        raw=raw,
    )


def _workload(obj: dict[str, Any], issues: _Issues) -> WorkloadSpec | None:
    kind, name = obj["kind"], obj["metadata"]["name"]
    ref = f"{kind}/{name}"
    spec = obj.get("spec") or {}
    replicas = spec.get("replicas", 1)
    if _int(replicas) is None or replicas < 0:
        issues.add(ref, "spec.replicas", "must be a non-negative integer")
        replicas = 1
    template = spec.get("template") or {}
    pod_spec = template.get("spec") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        issues.add(ref, "spec.selector.matchLabels", "does not match spec.template.metadata.labels")
    base = "spec.template.spec"
    inits = [
        _container(c, f"{base}.initContainers.{i}", pod_spec, issues, ref)
        for i, c in enumerate(pod_spec.get("initContainers") or [])
    ]
    mains = [
        _container(c, f"{base}.containers.{i}", pod_spec, issues, ref)
        for i, c in enumerate(pod_spec.get("containers") or [])
    ]
    if not mains:
        issues.add(ref, f"{base}.containers", "needs a container")
        return None
    if len(mains) > 1:
        issues.add(ref, f"{base}.containers", "the local target runs one container per pod (no sidecars)")
    if any(c is None for c in inits + mains):
        return None
    init_specs = tuple(c for c in inits if c is not None)
    main_specs = tuple(c for c in mains if c is not None)
    main = main_specs[0]
    if main.runtime in SINGLE_INSTANCE_RUNTIMES and replicas > 1:
        issues.add(ref, "spec.replicas", f"the local {main.runtime} runtime runs a single replica")
    for i, init in enumerate(init_specs):
        if init.runtime != RUNTIME_APP:
            issues.add(ref, f"{base}.initContainers.{i}.image", "only the app image can run as an init container")
    grace = pod_spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_S)
    if not isinstance(grace, (int, float)) or grace < 0:
        issues.add(ref, f"{base}.terminationGracePeriodSeconds", "must be a non-negative number")
        grace = DEFAULT_GRACE_S
    try:
        pre_stop = pre_stop_delay_s(main.raw) or 0.0
    except ValueError as exc:
        issues.add(ref, f"{base}.containers.0.lifecycle.preStop", str(exc))
        pre_stop = 0.0
    strategy = RolloutStrategy()
    if kind == "Deployment":
        strategy, problems = strategy_of(obj)
        for path, message in problems:
            issues.add(ref, path, message)
    return WorkloadSpec(
        kind=kind,
        name=name,
        replicas=int(replicas),
        runtime=main.runtime,
        labels={str(k): str(v) for k, v in labels.items()},
        annotations={str(k): str(v) for k, v in ((template.get("metadata") or {}).get("annotations") or {}).items()},
        init_containers=init_specs,
        containers=main_specs,
        resources=pod_resources([c.resources for c in main_specs], [c.resources for c in init_specs]),
        grace_s=float(grace),
        template_hash=template_hash(template),
        pre_stop_s=pre_stop,
        strategy=strategy,
    )


def _service(obj: dict[str, Any], workloads: list[WorkloadSpec], issues: _Issues) -> ServiceSpec | None:
    name = obj["metadata"]["name"]
    ref = f"Service/{name}"
    spec = obj.get("spec") or {}
    selector = spec.get("selector") or {}
    if not selector:
        issues.add(ref, "spec.selector", "a Service without a selector has no local endpoints")
        return None
    matches = [w for w in workloads if all(w.labels.get(k) == v for k, v in selector.items())]
    if len(matches) != 1:
        what = "no workload" if not matches else "several workloads"
        issues.add(ref, "spec.selector", f"selects {what}; the local target needs exactly one")
        return None
    workload = matches[0]
    ports: list[ServicePortSpec] = []
    for i, port in enumerate(spec.get("ports") or []):
        number = _int((port or {}).get("port"))
        if number is None:
            issues.add(ref, f"spec.ports.{i}.port", "must be a port number")
            continue
        target = port.get("targetPort", number)
        container_port = workload.main.port_number(target)
        if container_port is None:
            issues.add(
                ref, f"spec.ports.{i}.targetPort", f"{target!r} is not a port of {workload.kind}/{workload.name}"
            )
            continue
        ports.append(ServicePortSpec(port.get("name"), number, container_port))
    if not ports:
        issues.add(ref, "spec.ports", "needs at least one port")
        return None
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    # sessionAffinity: ClientIP is kube-proxy's source affinity; an explicit annotation wins.
    default_algorithm = "source" if (obj.get("spec") or {}).get("sessionAffinity") == "ClientIP" else "roundrobin"
    algorithm = str(annotations.get(LB_ALGORITHM_ANNOTATION, default_algorithm))
    if algorithm not in LB_ALGORITHMS:
        issues.add(ref, f"metadata.annotations.{LB_ALGORITHM_ANNOTATION}", f"must be one of {', '.join(LB_ALGORITHMS)}")
    max_conn: int | None = None
    if MAX_CONN_ANNOTATION in annotations:
        raw = str(annotations[MAX_CONN_ANNOTATION])
        if not raw.isdigit() or int(raw) < 1:
            issues.add(ref, f"metadata.annotations.{MAX_CONN_ANNOTATION}", "must be a positive integer")
        else:
            max_conn = int(raw)
    return ServiceSpec(
        name=name,
        workload=workload.name,
        load_balanced=workload.runtime not in SINGLE_INSTANCE_RUNTIMES,
        ports=tuple(ports),
        lb_algorithm=algorithm,
        max_conn_per_pod=max_conn,
    )


def parse_objects(objects: list[dict[str, Any]]) -> ClusterSpec:
    """Interpret rendered objects for the local target (see module docstring)."""
    issues = _Issues()
    configmaps: dict[str, dict[str, str]] = {}
    secret_map: dict[str, dict[str, str]] = {}
    hpas: list[dict[str, Any]] = []
    ignored: list[str] = []
    workload_objs: list[dict[str, Any]] = []
    service_objs: list[dict[str, Any]] = []
    for i, obj in enumerate(objects):
        kind = obj.get("kind") if isinstance(obj, dict) else None
        name = (obj.get("metadata") or {}).get("name") if isinstance(obj, dict) else None
        if not isinstance(kind, str) or not isinstance(name, str):
            issues.add(f"object #{i}", "", "needs kind and metadata.name")
            continue
        if kind == "ConfigMap":
            configmaps[name] = configmap_values(obj)
        elif kind == "Secret":
            try:
                secret_map[name] = secret_values(obj)
            except EnvError as exc:
                issues.add(f"Secret/{name}", "data", exc.message)
        elif kind == "HorizontalPodAutoscaler":
            hpas.append(obj)
        elif kind in WORKLOAD_KINDS:
            workload_objs.append(obj)
        elif kind == "Service":
            service_objs.append(obj)
        elif kind in IGNORED_KINDS:
            ignored.append(f"{kind}/{name}")
        else:
            issues.add(f"{kind}/{name}", "kind", f"{kind} is not supported by the local target")
    workloads = [w for w in (_workload(o, issues) for o in workload_objs) if w is not None]
    names = [w.name for w in workloads]
    for dup in {n for n in names if names.count(n) > 1}:
        issues.add(f"workload/{dup}", "metadata.name", "two workloads share this name")
    services = [s for s in (_service(o, workloads, issues) for o in service_objs) if s is not None]
    for hpa in hpas:
        target = ((hpa.get("spec") or {}).get("scaleTargetRef") or {}).get("name")
        if target not in names:
            issues.add(
                f"HorizontalPodAutoscaler/{hpa['metadata']['name']}",
                "spec.scaleTargetRef.name",
                f"{target!r} is not a rendered workload",
            )
    ctx = PodContext(configmaps=configmaps, secrets=secret_map)
    for workload in workloads:
        ref = f"{workload.kind}/{workload.name}"
        for group, containers in (("initContainers", workload.init_containers), ("containers", workload.containers)):
            for i, container in enumerate(containers):
                try:
                    resolve_env(container.raw, ctx)
                except EnvError as exc:
                    issues.add(ref, f"spec.template.spec.{group}.{i}.{exc.path}", exc.message)
    if issues.items:
        raise SpecError(issues.items, headline="the rendered manifests cannot run on the local target:")
    return ClusterSpec(
        workloads=tuple(workloads),
        services=tuple(services),
        configmaps=configmaps,
        secrets=secret_map,
        hpas=tuple(hpas),
        ignored=tuple(ignored),
        objects=tuple(objects),
    )
