"""Validation of rendered objects: upstream OpenAPI schemas plus the semantic checks they miss.

Contract: `validate_objects(objects, k8s_version, source)` returns every problem as a
`SpecIssue(source, "<Kind>/<name>: <dotted.path>", message)`; an empty list means valid. It never
raises for bad objects, only for a bad `k8s_version` (SpecError, exit 2, naming the supported ones)
or a missing `kubernetes-validate` package (HpabenchError with the install command).

1. Schema: the strict JSON schemas (unknown fields refused) that the `kubernetes-validate`
   package ships for each Kubernetes minor version, every violation reported, not just the first.
2. API-server rules the schemas do not encode (`deploy/apirules.py`): bounds of replicas and
   ports, name/label/annotation syntax, resource quantities.
3. Semantics: a workload's selector matches its own pod template labels; a Service selects some
   pod template and its named targetPorts exist there; an HPA's scaleTargetRef and a PDB's or
   NetworkPolicy's pod selector point at something rendered; every env `configMapKeyRef` /
   `secretKeyRef` and `envFrom` source resolves (unless `optional`); probes' named ports exist;
   no ConfigMap key looks like a credential (those belong in a Secret); no kind/name twice.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections.abc import Iterator
from typing import Any

from hpabench.deploy.apirules import api_rule_issues
from hpabench.errors import HpabenchError, SpecError, SpecIssue

SUPPORTED_K8S_VERSIONS = ("1.31", "1.33", "1.35")

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
_CREDENTIAL_KEY = re.compile(r"pass(word|wd)?|secret|token|api[-_]?key|credential|private[-_]?key", re.IGNORECASE)


def _schema_root() -> Any:
    try:
        import jsonschema  # noqa: F401  (a dependency of kubernetes-validate)
        import kubernetes_validate  # noqa: F401
    except ImportError:
        raise HpabenchError(
            "validating manifests needs the kubernetes-validate package: "
            "pip install kubernetes-validate (it is in hpabench's dev extra: pip install -e '.[dev]')"
        ) from None
    return importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"


def _schema_dir(k8s_version: str) -> Any:
    version = k8s_version.removeprefix("v")
    if version.count(".") > 1:
        version = ".".join(version.split(".")[:2])
    folder = _schema_root() / f"v{version}.0-local-strict"
    supported = ", ".join(SUPPORTED_K8S_VERSIONS)
    if version not in SUPPORTED_K8S_VERSIONS:
        raise SpecError(
            SpecIssue(
                "command line",
                "--validate",
                f"Kubernetes {k8s_version or '(empty)'} is not supported for validation (supported: {supported})",
            )
        )
    if not folder.is_dir():
        raise HpabenchError(
            f"the installed kubernetes-validate ships no schemas for Kubernetes {version}: "
            "upgrade it (pip install -U kubernetes-validate)"
        )
    return folder


@functools.lru_cache(maxsize=8)
def _registry(k8s_version: str) -> Any:
    """The shared `_definitions.json` of one version, loaded once (1.4 MB)."""
    from referencing import Registry, Resource

    definitions = json.loads((_schema_dir(k8s_version) / "_definitions.json").read_text(encoding="utf-8"))
    return Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))


@functools.lru_cache(maxsize=128)
def _validator(k8s_version: str, kind: str, api_version: str) -> Any | None:
    """A jsonschema validator for `kind` in `api_version`, or None if the version has no schema."""
    import jsonschema

    # rbac.authorization.k8s.io/v1 → rbac-v1; apps/v1 → apps-v1; v1 → v1 (the files' naming)
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_file = _schema_dir(k8s_version) / f"{kind.lower()}-{group_version}.json"
    if not schema_file.is_file():
        return None
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, registry=_registry(k8s_version))


def object_label(obj: Any) -> str:
    """`Kind/name` of an object, tolerant of malformed ones."""
    if not isinstance(obj, dict):
        return "?/?"
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    return f"{obj.get('kind') or '?'}/{meta.get('name') or '?'}"


def _dotted(parts: Any) -> str:
    return ".".join(str(part) for part in parts)


def schema_issues(obj: dict[str, Any], k8s_version: str, source: str) -> list[SpecIssue]:
    """Every schema violation of `obj` for `k8s_version` (deepest, most specific first per branch)."""
    label = object_label(obj)
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        return [SpecIssue(source, label, "apiVersion and kind must be strings")]
    validator = _validator(k8s_version, kind, api_version)
    if validator is None:
        return [SpecIssue(source, label, f"Kubernetes {k8s_version} has no {kind} in {api_version}")]
    issues = []
    for error in sorted(validator.iter_errors(obj), key=lambda e: _dotted(e.absolute_path)):
        # oneOf/anyOf errors carry the specific reason in their context; report the best one.
        best = min(error.context, key=lambda e: -len(e.absolute_path)) if error.context else error
        path = _dotted(best.absolute_path) or _dotted(error.absolute_path)
        issues.append(SpecIssue(source, f"{label}: {path}" if path else label, best.message))
    return issues


def _selector_matches(selector: Any, labels: dict[str, Any]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against one label set."""
    if not isinstance(selector, dict):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def pod_templates(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod template) for every workload object."""
    for obj in objects:
        template = (obj.get("spec") or {}).get("template") if obj.get("kind") in WORKLOAD_KINDS else None
        if isinstance(template, dict):
            yield obj, template


def _template_labels(template: dict[str, Any]) -> dict[str, Any]:
    return (template.get("metadata") or {}).get("labels") or {}


def template_containers(template: dict[str, Any]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    spec = template.get("spec") or {}
    for key in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(key) or []):
            if isinstance(container, dict):
                yield key, index, container


class _Semantics:
    """Collects semantic issues over one set of objects."""

    def __init__(self, objects: list[dict[str, Any]], source: str) -> None:
        self.objects = [obj for obj in objects if isinstance(obj, dict)]
        self.source = source
        self.issues: list[SpecIssue] = []
        self.by_key = {(obj.get("kind"), (obj.get("metadata") or {}).get("name")): obj for obj in self.objects}

    def add(self, obj: dict[str, Any], path: str, message: str) -> None:
        self.issues.append(SpecIssue(self.source, f"{object_label(obj)}: {path}", message))

    def run(self) -> list[SpecIssue]:
        self.duplicates()
        for workload, template in pod_templates(self.objects):
            self.workload(workload, template)
        for obj in self.objects:
            kind = obj.get("kind")
            spec = obj.get("spec") or {}
            if kind == "Service":
                self.service(obj, spec)
            elif kind == "HorizontalPodAutoscaler":
                self.scale_target(obj, spec)
            elif kind == "PodDisruptionBudget":
                self.selects_pods(obj, spec.get("selector"), "spec.selector")
            elif kind == "NetworkPolicy":
                self.selects_pods(obj, spec.get("podSelector"), "spec.podSelector")
            elif kind == "ConfigMap":
                self.no_credentials(obj)
        return self.issues

    def duplicates(self) -> None:
        seen: set[str] = set()
        for obj in self.objects:
            label = object_label(obj)
            if label in seen:
                self.add(obj, "metadata.name", "defined more than once")
            seen.add(label)

    def workload(self, workload: dict[str, Any], template: dict[str, Any]) -> None:
        selector = (workload.get("spec") or {}).get("selector")
        if workload.get("kind") != "Job" and not _selector_matches(selector, _template_labels(template)):
            self.add(
                workload, "spec.selector", "does not match the pod template's labels (spec.template.metadata.labels)"
            )
        for key, index, container in template_containers(template):
            where = f"spec.template.spec.{key}.{index}"
            self.env_refs(workload, container, where)
            port_names = {p.get("name") for p in container.get("ports") or [] if isinstance(p, dict)}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                spec = container.get(probe) or {}
                for handler in ("httpGet", "tcpSocket", "grpc"):
                    port = (spec.get(handler) or {}).get("port")
                    if isinstance(port, str) and port not in port_names:
                        self.add(workload, f"{where}.{probe}.{handler}.port", f"no container port named {port!r}")

    def env_refs(self, obj: dict[str, Any], container: dict[str, Any], where: str) -> None:
        for index, env in enumerate(container.get("env") or []):
            value_from = (env or {}).get("valueFrom") or {}
            for ref_key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                ref = value_from.get(ref_key)
                if isinstance(ref, dict) and not ref.get("optional"):
                    problem = self.key_problem(kind, ref.get("name"), ref.get("key"))
                    if problem:
                        self.add(obj, f"{where}.env.{index}.valueFrom.{ref_key}", problem)
        for index, source in enumerate(container.get("envFrom") or []):
            for ref_key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                ref = (source or {}).get(ref_key)
                if isinstance(ref, dict) and not ref.get("optional") and (kind, ref.get("name")) not in self.by_key:
                    self.add(obj, f"{where}.envFrom.{index}.{ref_key}.name", f"no {kind} named {ref.get('name')!r}")

    def key_problem(self, kind: str, name: Any, key: Any) -> str | None:
        target = self.by_key.get((kind, name))
        if target is None:
            return f"no {kind} named {name!r}"
        keys = set((target.get("data") or {}).keys()) | set((target.get("stringData") or {}).keys())
        if key not in keys:
            return f"{kind} {name!r} has no key {key!r}"
        return None

    def service(self, service: dict[str, Any], spec: dict[str, Any]) -> None:
        selector = spec.get("selector")
        if not selector:
            return  # a selector-less Service has manually managed endpoints
        matched = [
            template
            for _, template in pod_templates(self.objects)
            if _selector_matches({"matchLabels": selector}, _template_labels(template))
        ]
        if not matched:
            self.add(service, "spec.selector", "selects no pod template among the objects")
            return
        port_names = {
            port.get("name")
            for template in matched
            for _, _, container in template_containers(template)
            for port in container.get("ports") or []
            if isinstance(port, dict)
        }
        for index, port in enumerate(spec.get("ports") or []):
            target = (port or {}).get("targetPort")
            if isinstance(target, str) and target not in port_names:
                self.add(
                    service, f"spec.ports.{index}.targetPort", f"no selected container has a port named {target!r}"
                )

    def scale_target(self, hpa: dict[str, Any], spec: dict[str, Any]) -> None:
        ref = spec.get("scaleTargetRef") or {}
        if not ref.get("kind") or not ref.get("name"):
            return  # a missing reference is a schema error, reported there
        target = self.by_key.get((ref.get("kind"), ref.get("name")))
        if target is None:
            self.add(hpa, "spec.scaleTargetRef", f"no {ref.get('kind')} named {ref.get('name')!r} to scale")
        elif ref.get("apiVersion") and ref.get("apiVersion") != target.get("apiVersion"):
            self.add(
                hpa,
                "spec.scaleTargetRef.apiVersion",
                f"{ref.get('kind')} {ref.get('name')!r} is {target.get('apiVersion')}",
            )

    def selects_pods(self, obj: dict[str, Any], selector: Any, path: str) -> None:
        if not any(_selector_matches(selector, _template_labels(t)) for _, t in pod_templates(self.objects)):
            self.add(obj, path, "selects no pod template among the objects")

    def no_credentials(self, configmap: dict[str, Any]) -> None:
        for key in (configmap.get("data") or {}).keys() | (configmap.get("binaryData") or {}).keys():
            if _CREDENTIAL_KEY.search(str(key)):
                self.add(configmap, f"data.{key}", "looks like a credential: put it in a Secret, not a ConfigMap")


def semantic_issues(objects: list[dict[str, Any]], source: str) -> list[SpecIssue]:
    """The cross-object checks of the module docstring (no schema needed)."""
    return _Semantics(objects, source).run()


def validate_objects(objects: list[dict[str, Any]], k8s_version: str, source: str) -> list[SpecIssue]:
    """Schema + semantic issues of `objects` for Kubernetes `k8s_version` ("1.33" or "v1.33.2")."""
    _schema_dir(k8s_version)  # a bad version is a usage error, raised before anything else
    issues: list[SpecIssue] = []
    for obj in objects:
        if not isinstance(obj, dict):
            issues.append(SpecIssue(source, "?/?", "is not a Kubernetes object (a mapping)"))
            continue
        issues += schema_issues(obj, k8s_version, source)
    return issues + api_rule_issues(objects, source) + semantic_issues(objects, source)
