"""The reference app's own configuration check, applied to the rendered objects before a run.

Contract: `app_config_issues(objects, source)` resolves the environment of every container that
runs the app image (init containers included) the way the kubelet would — `envFrom`, `env`,
ConfigMap/Secret references, `$(VAR)` expansion, service links — and parses it with the app's
own `Settings.from_env`, so a variant that sets `DB_POOL_MAX: "many"` (through a patch or the
ConfigMap) is refused as input instead of as a crash-looping pod minutes into the run. Issues are
`SpecIssue(source, "<Kind>/<name>: spec.template.spec.<containers|initContainers>.<i>.env", problem)`.
"""

from __future__ import annotations

from typing import Any

from hpabench.deploy.local.env import EnvError, PodContext, ServiceLink, configmap_values, resolve_env, secret_values
from hpabench.deploy.render import is_app_image
from hpabench.deploy.schema_check import object_label, pod_templates, template_containers
from hpabench.errors import SpecIssue
from hpabench_refapp.config import ConfigError, Settings


def _context(objects: list[dict[str, Any]]) -> PodContext:
    configmaps: dict[str, dict[str, str]] = {}
    secrets: dict[str, dict[str, str]] = {}
    services: list[ServiceLink] = []
    for obj in objects:
        name = (obj.get("metadata") or {}).get("name")
        if not isinstance(name, str):
            continue
        try:
            if obj.get("kind") == "ConfigMap":
                configmaps[name] = configmap_values(obj)
            elif obj.get("kind") == "Secret":
                secrets[name] = secret_values(obj)
        except (ValueError, TypeError):
            continue  # a malformed ConfigMap/Secret is the schema check's to report
        if obj.get("kind") == "Service":
            services.append(ServiceLink(name, 1))  # any port: only the variables' presence matters
    return PodContext(configmaps=configmaps, secrets=secrets, services=tuple(services))


def app_config_issues(objects: list[dict[str, Any]], source: str) -> list[SpecIssue]:
    """What the app would refuse in its configuration (see the module docstring)."""
    context = _context(objects)
    issues: list[SpecIssue] = []
    for workload, template in pod_templates(objects):
        for key, index, container in template_containers(template):
            if not is_app_image(container.get("image")):
                continue
            where = f"{object_label(workload)}: spec.template.spec.{key}.{index}"
            try:
                environment = resolve_env(container, context)
            except EnvError as exc:
                issues.append(SpecIssue(source, f"{where}.{exc.path}", exc.message))
                continue
            try:
                Settings.from_env(environment)
            except ConfigError as exc:
                issues += [SpecIssue(source, f"{where}.env", f"the app refuses {p}") for p in exc.problems]
    return issues
