"""Container environment resolution the way the kubelet does it (pure).

Order and precedence (kubelet `makeEnvironmentVariables`):
1. `envFrom` sources in order (ConfigMap / Secret, optional `prefix`), later ones win;
2. `env` entries in order, each value `$(VAR)`-expanded against what is defined so far and
   then the service-link variables; `$$` escapes a literal `$`; unresolvable `$(VAR)` stays as is;
3. service-link variables (`<SVC>_SERVICE_HOST`, `<SVC>_SERVICE_PORT`, `<SVC>_SERVICE_PORT_<NAME>`)
   are added last and never override a user-defined variable.

`valueFrom` supports `configMapKeyRef`, `secretKeyRef` (with `optional`) and `fieldRef` for
`metadata.name`, `metadata.namespace` and `status.podIP`/`status.hostIP` (127.0.0.1 locally).
Problems raise `EnvError(path, message)`; the caller turns them into SpecIssues.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LOOPBACK = "127.0.0.1"


class EnvError(ValueError):
    """A bad env/envFrom entry; `path` is relative to the container (e.g. "env.3.valueFrom")."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


@dataclass(frozen=True)
class ServiceLink:
    """One Service as seen from a pod: local host and port, plus named ports."""

    name: str
    port: int
    named_ports: Mapping[str, int] = field(default_factory=dict)
    host: str | None = None  # None: the loopback (an impaired tier link gives its own address)


def service_env_name(service: str) -> str:
    """Service name → env prefix ("web-api" → "WEB_API"), as the kubelet does."""
    return service.upper().replace("-", "_").replace(".", "_")


def service_link_env(services: list[ServiceLink], host: str = LOOPBACK) -> dict[str, str]:
    """The `<SVC>_SERVICE_HOST/PORT` variables for every Service."""
    env: dict[str, str] = {}
    for service in services:
        prefix = service_env_name(service.name)
        env[f"{prefix}_SERVICE_HOST"] = service.host or host
        env[f"{prefix}_SERVICE_PORT"] = str(service.port)
        for port_name, port in service.named_ports.items():
            env[f"{prefix}_SERVICE_PORT_{service_env_name(port_name)}"] = str(port)
    return env


_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


def expand(value: str, *mappings: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: `$$` → `$`, known `$(VAR)` replaced, unknown kept verbatim."""
    out: list[str] = []
    i = 0
    while i < len(value):
        if value.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        match = _REF.match(value, i)
        if match:
            name = match.group(1)
            for mapping in mappings:
                if name in mapping:
                    out.append(mapping[name])
                    break
            else:
                out.append(match.group(0))
            i = match.end()
            continue
        out.append(value[i])
        i += 1
    return "".join(out)


def secret_values(secret: Mapping[str, Any]) -> dict[str, str]:
    """A Secret's decoded values: base64 `data` overlaid by plain `stringData` (API-server merge)."""
    values: dict[str, str] = {}
    for key, encoded in (secret.get("data") or {}).items():
        try:
            values[str(key)] = base64.b64decode(str(encoded), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise EnvError(
                f"Secret {secret.get('metadata', {}).get('name')}.data.{key}", "not valid base64 UTF-8"
            ) from None
    for key, text in (secret.get("stringData") or {}).items():
        values[str(key)] = str(text)
    return values


def configmap_values(configmap: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (configmap.get("data") or {}).items()}


@dataclass(frozen=True)
class PodContext:
    """What a pod's env can refer to: objects by name, its own identity, the Service links."""

    configmaps: Mapping[str, Mapping[str, str]]
    secrets: Mapping[str, Mapping[str, str]]
    pod_name: str = ""
    namespace: str = "hpabench"
    services: tuple[ServiceLink, ...] = ()


def _source(kind: str, name: Any, ctx: PodContext, path: str, optional: bool) -> Mapping[str, str] | None:
    table = ctx.configmaps if kind == "ConfigMap" else ctx.secrets
    if not isinstance(name, str) or not name:
        raise EnvError(path, f"{kind} name missing")
    if name not in table:
        if optional:
            return None
        raise EnvError(path, f"{kind} {name!r} is not among the rendered objects")
    return table[name]


def _value_from(spec: Any, ctx: PodContext, path: str) -> str | None:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise EnvError(path, "valueFrom needs exactly one source")
    ((kind_key, ref),) = spec.items()
    if kind_key in ("configMapKeyRef", "secretKeyRef"):
        if not isinstance(ref, dict):
            raise EnvError(f"{path}.{kind_key}", "must be a mapping")
        kind = "ConfigMap" if kind_key == "configMapKeyRef" else "Secret"
        optional = bool(ref.get("optional", False))
        values = _source(kind, ref.get("name"), ctx, f"{path}.{kind_key}.name", optional)
        key = str(ref.get("key"))
        if values is None:
            return None
        if key not in values:
            if optional:
                return None
            raise EnvError(f"{path}.{kind_key}.key", f"{kind} {ref.get('name')!r} has no key {key!r}")
        return values[key]
    if kind_key == "fieldRef":
        field_path = ref.get("fieldPath") if isinstance(ref, dict) else None
        fields = {
            "metadata.name": ctx.pod_name,
            "metadata.namespace": ctx.namespace,
            "status.podIP": LOOPBACK,
            "status.hostIP": LOOPBACK,
            "spec.nodeName": "localhost",
        }
        if field_path not in fields:
            raise EnvError(f"{path}.fieldRef.fieldPath", f"{field_path!r} is not supported locally")
        return fields[field_path]
    raise EnvError(path, f"valueFrom.{kind_key} is not supported locally")


def resolve_env(container: Mapping[str, Any], ctx: PodContext) -> dict[str, str]:
    """The container's environment (see module docstring). Raises EnvError on bad entries."""
    env: dict[str, str] = {}
    service_env = service_link_env(list(ctx.services))
    for i, source in enumerate(container.get("envFrom") or []):
        path = f"envFrom.{i}"
        if not isinstance(source, dict):
            raise EnvError(path, "must be a mapping")
        prefix = str(source.get("prefix") or "")
        if "configMapRef" in source:
            ref, kind = source["configMapRef"], "ConfigMap"
        elif "secretRef" in source:
            ref, kind = source["secretRef"], "Secret"
        else:
            raise EnvError(path, "needs configMapRef or secretRef")
        ref = ref or {}
        key = "configMapRef" if kind == "ConfigMap" else "secretRef"
        values = _source(kind, ref.get("name"), ctx, f"{path}.{key}.name", bool(ref.get("optional", False)))
        for name, value in (values or {}).items():
            env[prefix + name] = value
    for i, entry in enumerate(container.get("env") or []):
        path = f"env.{i}"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise EnvError(path, "needs a name")
        if "valueFrom" in entry:
            resolved = _value_from(entry["valueFrom"], ctx, f"{path}.valueFrom")
            if resolved is None:
                continue  # optional reference that is absent: the variable is not set
            env[entry["name"]] = resolved
        else:
            raw = entry.get("value", "")
            env[entry["name"]] = expand("" if raw is None else str(raw), env, service_env)
    for name, value in service_env.items():
        env.setdefault(name, value)
    return env
