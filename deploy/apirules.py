"""What a Kubernetes API server refuses that the OpenAPI schemas do not say (pure).

The published schemas type fields but carry almost no bounds or formats: `replicas: -1`,
`maxReplicas: 0`, `containerPort: 70000` or a label key `"bad key!"` pass them, and a cluster then
refuses the apply. `api_rule_issues(objects, source)` applies the apiserver's own validation
rules (`k8s.io/apimachinery/pkg/util/validation`, `pkg/apis/*/validation`) for the fields our
manifests use, as `SpecIssue(source, "<Kind>/<name>: <dotted.path>", problem)`:

- names: `metadata.name` a DNS-1123 subdomain (a Service's a DNS-1035 label), container names
  DNS-1123 labels, port names IANA service names;
- labels and annotations: keys are qualified names (`[prefix/]name`), label values at most 63
  characters of `[A-Za-z0-9._-]` beginning and ending alphanumeric, annotations at most 256 KiB;
- numbers: `spec.replicas >= 0`; an HPA's `minReplicas >= 1`, `maxReplicas >= 1` and
  `>= minReplicas`; ports 1..65535 (`hostPort`/`nodePort` 0..65535);
- resource quantities parse, are not negative, fit in int64 milli-units, and requests do not
  exceed limits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, TypeGuard

from hpabench.deploy.hpa.quantity import parse_quantity
from hpabench.errors import SpecIssue

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
MAX_MILLI = 2**63 - 1
MAX_ANNOTATIONS_BYTES = 256 * 1024
WORKLOADS = ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job")


def quantity_problem(raw: Any) -> str | None:
    """Why `raw` is not a resource quantity an API server stores, or None."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return "must be a quantity such as 250m, 0.5 or 128Mi"
    try:
        quantity = parse_quantity(raw)
    except ValueError as exc:
        return str(exc)
    if quantity.value < 0:
        return "must not be negative"
    if quantity.milli > MAX_MILLI:
        return f"{raw} is larger than the largest quantity Kubernetes represents (2^63-1 milli-units)"
    return None


def qualified_name_problem(key: Any) -> str | None:
    """Why `key` is not a label/annotation key (`[DNS-subdomain/]name`), or None."""
    if not isinstance(key, str) or not key:
        return "a key must be a non-empty string"
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"key {key!r}: the prefix must be a DNS subdomain (lower-case, digits, '-', '.')"
    if len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return f"key {key!r} must be at most 63 characters of [A-Za-z0-9._-], beginning and ending alphanumeric"
    return None


def label_value_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "label values must be strings"
    if value and (len(value) > 63 or not _QUALIFIED_NAME.match(value)):
        return f"value {value!r} must be at most 63 characters of [A-Za-z0-9._-], beginning and ending alphanumeric"
    return None


def port_name_problem(name: Any) -> str | None:
    if not isinstance(name, str) or len(name) > 15 or not _IANA_SVC_NAME.match(name) or "--" in name:
        return f"{name!r} must be an IANA service name (at most 15 lower-case letters, digits and '-')"
    if not re.search(r"[a-z]", name):
        return f"{name!r} must contain at least one letter"
    return None


def _port_problem(value: Any, low: int = 1, named: bool = False) -> str | None:
    if named and isinstance(value, str):
        return port_name_problem(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None  # a wrong type is the schema's to report
    if not low <= value <= 65535:
        return f"{value!r} must be a port number from {low} to 65535" + (" or a port name" if named else "")
    return None


class _Rules:
    def __init__(self, source: str) -> None:
        self.source = source
        self.issues: list[SpecIssue] = []
        self.label = "?/?"

    def add(self, path: str, problem: str | None) -> None:
        if problem:
            self.issues.append(SpecIssue(self.source, f"{self.label}: {path}", problem))

    def metadata(self, meta: Any, path: str, name_rule: re.Pattern[str] | None) -> None:
        if not isinstance(meta, dict):
            return
        name = meta.get("name")
        if name_rule is not None and isinstance(name, str):
            limit = 63 if name_rule is not _DNS_SUBDOMAIN else 253
            if len(name) > limit or not name_rule.match(name):
                self.add(f"{path}.name", f"{name!r} is not a valid name (lower-case letters, digits, '-'; max {limit})")
        self.labels(meta.get("labels"), f"{path}.labels")
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            for key, value in annotations.items():
                self.add(f"{path}.annotations", qualified_name_problem(key))
                if not isinstance(value, str):
                    self.add(f"{path}.annotations.{key}", "annotation values must be strings")
            size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
            if size > MAX_ANNOTATIONS_BYTES:
                self.add(f"{path}.annotations", f"total size {size} bytes exceeds {MAX_ANNOTATIONS_BYTES}")

    def labels(self, labels: Any, path: str) -> None:
        if not isinstance(labels, dict):
            return
        for key, value in labels.items():
            self.add(path, qualified_name_problem(key))
            self.add(f"{path}.{key}", label_value_problem(value))

    def containers(self, pod_spec: dict[str, Any], path: str) -> None:
        for key in ("initContainers", "containers"):
            for index, container in enumerate(pod_spec.get(key) or []):
                if isinstance(container, dict):
                    self.container(container, f"{path}.{key}.{index}")

    def container(self, container: dict[str, Any], path: str) -> None:
        name = container.get("name")
        if isinstance(name, str) and (len(name) > 63 or not _DNS_LABEL.match(name)):
            self.add(f"{path}.name", f"{name!r} is not a DNS-1123 label")
        for index, port in enumerate(container.get("ports") or []):
            if not isinstance(port, dict):
                continue
            self.add(f"{path}.ports.{index}.containerPort", _port_problem(port.get("containerPort")))
            if "hostPort" in port:
                self.add(f"{path}.ports.{index}.hostPort", _port_problem(port.get("hostPort"), low=0))
            if "name" in port:
                self.add(f"{path}.ports.{index}.name", port_name_problem(port.get("name")))
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            for handler in ("httpGet", "tcpSocket"):
                spec = (container.get(probe) or {}).get(handler) if isinstance(container.get(probe), dict) else None
                if isinstance(spec, dict) and "port" in spec:
                    self.add(f"{path}.{probe}.{handler}.port", _port_problem(spec.get("port"), named=True))
        self.resources(container.get("resources"), f"{path}.resources")

    def resources(self, resources: Any, path: str) -> None:
        if not isinstance(resources, dict):
            return
        parsed: dict[str, dict[str, int]] = {}
        for section in ("requests", "limits"):
            values = resources.get(section)
            if not isinstance(values, dict):
                continue
            for name, raw in values.items():
                problem = quantity_problem(raw)
                self.add(f"{path}.{section}.{name}", problem)
                if problem is None:
                    parsed.setdefault(section, {})[name] = parse_quantity(raw).milli
        for name, request in parsed.get("requests", {}).items():
            limit = parsed.get("limits", {}).get(name)
            if limit is not None and request > limit:
                self.add(f"{path}.requests.{name}", f"must be less than or equal to the {name} limit")

    def service(self, spec: dict[str, Any]) -> None:
        for index, port in enumerate(spec.get("ports") or []):
            if not isinstance(port, dict):
                continue
            where = f"spec.ports.{index}"
            self.add(f"{where}.port", _port_problem(port.get("port")))
            if "targetPort" in port:
                self.add(f"{where}.targetPort", _port_problem(port.get("targetPort"), named=True))
            if "nodePort" in port:
                self.add(f"{where}.nodePort", _port_problem(port.get("nodePort"), low=0))
            if "name" in port:
                self.add(f"{where}.name", port_name_problem(port.get("name")))

    def hpa(self, spec: dict[str, Any]) -> None:
        low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
        if _is_int(low) and low < 1:
            self.add("spec.minReplicas", f"{low} must be greater than or equal to 1")
        if _is_int(high) and high < 1:
            self.add("spec.maxReplicas", f"{high} must be greater than or equal to 1")
        if _is_int(low) and _is_int(high) and high >= 1 and low > high:
            self.add("spec.maxReplicas", f"{high} must be greater than or equal to minReplicas {low}")


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _objects(objects: list[Any]) -> Iterator[dict[str, Any]]:
    for obj in objects:
        if isinstance(obj, dict):
            yield obj


def api_rule_issues(objects: list[Any], source: str) -> list[SpecIssue]:
    """Every API-server validation rule of the module docstring broken by `objects`."""
    rules = _Rules(source)
    for obj in _objects(objects):
        meta = obj.get("metadata") or {}
        rules.label = f"{obj.get('kind') or '?'}/{meta.get('name') if isinstance(meta, dict) else '?'}"
        kind = obj.get("kind")
        spec: dict[str, Any] = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
        rules.metadata(meta, "metadata", _DNS_1035 if kind == "Service" else _DNS_SUBDOMAIN)
        if kind in WORKLOADS:
            replicas = spec.get("replicas")
            if _is_int(replicas) and replicas < 0:
                rules.add("spec.replicas", f"{replicas} must be greater than or equal to 0")
            selector = spec.get("selector")
            if isinstance(selector, dict):
                rules.labels(selector.get("matchLabels"), "spec.selector.matchLabels")
            template = spec.get("template")
            if isinstance(template, dict):
                rules.metadata(template.get("metadata"), "spec.template.metadata", None)
                if isinstance(template.get("spec"), dict):
                    rules.containers(template["spec"], "spec.template.spec")
        elif kind == "Service":
            rules.service(spec)
        elif kind == "HorizontalPodAutoscaler":
            rules.hpa(spec)
    return rules.issues
