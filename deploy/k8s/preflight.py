"""Pre-flight: everything a run on this cluster needs, checked before anything is created.

`preflight(api, objects, settings, namespace_hint)` returns `(issues, facts)`: every problem as a
`SpecIssue("cluster <host>", what, message-with-the-fix)` (all of them, not just the first), and
what it learnt on the way (`facts`: server version, nodes) for manifest.json. Checks:

1. the API answers `/version`, and is at least 1.23 (autoscaling/v2);
2. every permission the run uses (`permissions.required_rules`): one SelfSubjectAccessReview
   per verb and resource, in the namespace the run would get (the rules are namespace-agnostic);
3. an HPA with a cpu/memory (Container)Resource metric needs `metrics.k8s.io` served and answering;
4. a StatefulSet volume claim template without a storageClassName needs a default StorageClass;
5. the app image: the default `hpabench/refapp:<version>` is not published to a registry, so it
   must already be on a node (`kind load docker-image`) — nodes report their images — or
   `--image` must name one the cluster can pull;
6. Prometheus: `prometheus_url` answers `/-/ready`, or a kube-prometheus-stack Prometheus pod runs.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from hpabench.deploy.k8s.api import ApiError, KubeApi
from hpabench.deploy.k8s.monitors import operator_served
from hpabench.deploy.k8s.permissions import required_rules
from hpabench.deploy.k8s.resources import Rule
from hpabench.deploy.k8s.settings import K8sSettings
from hpabench.errors import SpecIssue, TargetError

MIN_MINOR = 23
PROMETHEUS_SELECTOR = "app.kubernetes.io/name=prometheus"
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
# The kubelet reports at most this many images per node (--node-status-max-images): beyond it,
# absence from the list proves nothing.
NODE_STATUS_MAX_IMAGES = 50
_UNPUBLISHED_IMAGE = re.compile(r"^(docker\.io/)?hpabench/refapp:")


def hpa_uses_resource_metrics(objects: list[dict[str, Any]]) -> bool:
    for obj in objects:
        if obj.get("kind") == "HorizontalPodAutoscaler":
            for metric in (obj.get("spec") or {}).get("metrics") or []:
                if metric.get("type") in ("Resource", "ContainerResource"):
                    return True
    return False


def app_images(objects: list[dict[str, Any]]) -> set[str]:
    images = set()
    for obj in objects:
        spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            if "refapp" in str(container.get("image", "")).rsplit("/", 1)[-1]:
                images.add(str(container["image"]))
    return images


class _Checks:
    def __init__(self, api: KubeApi, objects: list[dict[str, Any]], settings: K8sSettings, namespace: str) -> None:
        self.api, self.objects, self.settings, self.namespace = api, objects, settings, namespace
        self.source = f"cluster {api.host}"
        self.issues: list[SpecIssue] = []
        self.facts: dict[str, Any] = {}

    def issue(self, what: str, message: str) -> None:
        self.issues.append(SpecIssue(self.source, what, message))

    def version(self) -> bool:
        try:
            version = self.api.get("/version")
        except (TargetError, ApiError) as exc:
            self.issue("/version", f"the API server does not answer: {exc}. fix: check --kubeconfig/--context")
            return False
        self.facts["server_version"] = version.get("gitVersion")
        self.facts["platform"] = version.get("platform")
        minor = int(re.sub(r"\D.*", "", str(version.get("minor", "0"))) or 0)
        if int(version.get("major", "1") or 1) == 1 and minor < MIN_MINOR:
            self.issue("/version", f"Kubernetes {version.get('gitVersion')} is too old: autoscaling/v2 needs 1.23+")
        return True

    def access(self, rule: Rule) -> None:
        attributes: dict[str, Any] = {"verb": rule.verb, "group": rule.group, "resource": rule.resource}
        if rule.subresource:
            attributes["subresource"] = rule.subresource
        if rule.namespaced:
            attributes["namespace"] = self.namespace
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        try:
            review = self.api.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=body)
        except ApiError as exc:
            self.issue(str(rule), f"cannot check permissions (SelfSubjectAccessReview failed: {exc})")
            return
        status = review.get("status") or {}
        if not status.get("allowed"):
            why = status.get("reason") or status.get("evaluationError") or "denied"
            self.issue(
                str(rule),
                f"not allowed ({why}). fix: kubectl apply -f deploy/rbac/ and bind the ClusterRoles to your user "
                "(see deploy/rbac/README.md)",
            )

    def metrics_api(self) -> None:
        try:
            self.api.get("/apis/metrics.k8s.io/v1beta1/nodes")
        except (ApiError, TargetError) as exc:
            self.issue(
                "metrics.k8s.io",
                f"the HPA uses cpu/memory but the metrics API is not served ({exc}). fix: install metrics-server "
                "(kind: `kubectl apply -f https://github.com/kubernetes-sigs/metrics-server/releases/latest/download/"
                "components.yaml` then add --kubelet-insecure-tls to its args)",
            )

    def storage(self) -> None:
        claims = [
            (obj["metadata"]["name"], t)
            for obj in self.objects
            if obj.get("kind") == "StatefulSet"
            for t in (obj.get("spec") or {}).get("volumeClaimTemplates") or []
        ]
        if not claims or all((t.get("spec") or {}).get("storageClassName") for _, t in claims):
            return
        classes = self.api.get("/apis/storage.k8s.io/v1/storageclasses").get("items") or []
        default = [
            c["metadata"]["name"]
            for c in classes
            if any((c["metadata"].get("annotations") or {}).get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS)
        ]
        self.facts["default_storage_class"] = default[0] if default else None
        if not default:
            names = ", ".join(c["metadata"]["name"] for c in classes) or "none"
            self.issue(
                f"StatefulSet/{claims[0][0]}",
                f"its volume claim needs a default StorageClass and the cluster has none (classes: {names}). fix: mark "
                "one default, or run with --variant deploy/k8s/examples/postgres-emptydir.yaml (no persistent volume)",
            )

    def nodes(self) -> list[dict[str, Any]]:
        nodes = self.api.get("/api/v1/nodes").get("items") or []
        self.facts["nodes"] = [
            {
                "name": n["metadata"]["name"],
                "instance_type": (n["metadata"].get("labels") or {}).get("node.kubernetes.io/instance-type"),
                "kubelet": ((n.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion"),
                "cpu": ((n.get("status") or {}).get("allocatable") or {}).get("cpu"),
                "memory": ((n.get("status") or {}).get("allocatable") or {}).get("memory"),
            }
            for n in nodes
        ]
        return nodes

    def images(self, nodes: list[dict[str, Any]]) -> None:
        present: set[str] = set()
        truncated = False
        for node in nodes:
            listed = (node.get("status") or {}).get("images") or []
            truncated = truncated or len(listed) >= NODE_STATUS_MAX_IMAGES
            for image in listed:
                present.update(image.get("names") or [])
        for image in sorted(app_images(self.objects)):
            if not _UNPUBLISHED_IMAGE.match(image) or truncated:
                continue
            if not _on_a_node(image, present):
                self.issue(
                    image,
                    "this image is built locally, not published, and no node has it. fix: build it "
                    f"(docker build -t {image} deploy/app) and `kind load docker-image {image}`, "
                    "or pass --image REGISTRY/refapp:TAG that the cluster can pull",
                )
        loadgen = self.settings.loadgen_image
        local_build = loadgen.startswith(("hpabench/", "docker.io/hpabench/"))
        if self.settings.load_from == "cluster" and local_build and not truncated and not _on_a_node(loadgen, present):
            self.issue(
                loadgen,
                "the load-generator image is built locally and no node has it. fix: build it "
                f"(docker build -f deploy/loadgen/Dockerfile -t {loadgen} .) and `kind load docker-image "
                f"{loadgen}`, or pass --loadgen-image REGISTRY/IMAGE:TAG that the cluster can pull",
            )

    def prometheus(self) -> None:
        if self.settings.prometheus_url:
            try:
                httpx.get(f"{self.settings.prometheus_url}/-/ready", timeout=5.0).raise_for_status()
            except httpx.HTTPError as exc:
                self.issue("--prometheus-url", f"{self.settings.prometheus_url} is not ready: {exc}")
            return
        pods = self.api.get("/api/v1/pods", labelSelector=PROMETHEUS_SELECTOR).get("items") or []
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        if not running:
            self.issue(
                "prometheus",
                "no Prometheus found (no running pod labelled app.kubernetes.io/name=prometheus). fix: install "
                "kube-prometheus-stack (see README 'Running on a real cluster') or pass --prometheus-url",
            )
        else:
            self.facts["prometheus_pod"] = f"{running[0]['metadata']['namespace']}/{running[0]['metadata']['name']}"


def _on_a_node(image: str, present: set[str]) -> bool:
    return any(name == image or name.endswith(f"/{image}") for name in present)


def preflight(
    api: KubeApi, objects: list[dict[str, Any]], settings: K8sSettings, namespace_hint: str
) -> tuple[list[SpecIssue], dict[str, Any]]:
    """Run every check (module docstring); stops after the first when the API does not answer."""
    checks = _Checks(api, objects, settings, namespace_hint)
    if not checks.version():
        return checks.issues, checks.facts
    needs_metrics = hpa_uses_resource_metrics(objects)
    # monitors=auto: asked only when the operator's API is served (else none will be created)
    monitors = settings.monitors == "on" or (settings.monitors == "auto" and operator_served(api))
    discover = settings.prometheus_url is None
    in_cluster = settings.load_from == "cluster"
    wanted = required_rules(
        objects, discover, needs_metrics, monitors=monitors, in_cluster_load=in_cluster, helm=settings.helm is not None
    )
    for rule in wanted:
        checks.access(rule)
    if checks.issues:  # without the permissions the remaining reads would only repeat "forbidden"
        return checks.issues, checks.facts
    if needs_metrics:
        checks.metrics_api()
    checks.storage()
    checks.images(checks.nodes())
    checks.prometheus()
    return checks.issues, checks.facts


def access_issues(api: KubeApi, rules: list[Rule], namespace_hint: str) -> list[SpecIssue]:
    """One SelfSubjectAccessReview per rule (as the pre-flight asks): an issue per denied rule."""
    checks = _Checks(api, [], K8sSettings(), namespace_hint)
    for rule in rules:
        checks.access(rule)
    return checks.issues
