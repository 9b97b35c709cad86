"""Rendering of the tuning-review knobs (issue 13) onto the base manifests: pure, in place.

Called by `deploy.render.render` after the web/HPA/networking knobs and before the patches, with
the same `_Renderer` (so problems are issues on the variant's field paths). See the knob list in
`deploy/variant.py`. Annotations written here are read by the targets and the load driver:

- HPA `hpabench.io/scale-point-mode` (raw | iso) and `hpabench.io/scale-point-millicores`
  (CPU request × target utilisation: the per-pod CPU at which the HPA starts adding pods);
- Service `hpabench.io/client-keepalive` ("true" | "false"), on the web Service;
- Service `hpabench.io/netem` (JSON `{"delay_ms":…, "jitter_ms":…, "loss_pct":…, "rate_mbit":…}`)
  on the Service receiving the impaired traffic: web (client→web), postgres (web→db), redis
  (web→cache).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from hpabench.deploy.variant import RPS_METRIC, cpu_millicores

if TYPE_CHECKING:
    from hpabench.deploy.render import _Renderer

SCALE_POINT_MODE_ANNOTATION = "hpabench.io/scale-point-mode"
SCALE_POINT_ANNOTATION = "hpabench.io/scale-point-millicores"
KEEPALIVE_ANNOTATION = "hpabench.io/client-keepalive"
NETEM_ANNOTATION = "hpabench.io/netem"
TIER_SERVICES = {"client_web": "web", "web_db": "postgres", "web_cache": "redis"}


def _cpu_target(hpa: dict[str, Any]) -> dict[str, Any] | None:
    for metric in hpa["spec"].get("metrics") or []:
        resource = metric.get("resource") or {}
        if metric.get("type") == "Resource" and resource.get("name") == "cpu":
            target = resource.get("target") or {}
            if target.get("type") == "Utilization":
                return target
    return None


def _cpu_request_m(container: dict[str, Any] | None) -> int | None:
    cpu = ((container or {}).get("resources") or {}).get("requests", {}).get("cpu")
    return cpu_millicores(str(cpu)) if cpu is not None else None


def apply_tuning(renderer: _Renderer, base_request_m: int | None) -> None:
    """Apply the issue-13 knobs; `base_request_m` is the web CPU request before the variant."""
    _apply_limits_and_readiness(renderer)
    _apply_metrics(renderer)
    _apply_scale_point(renderer, base_request_m)
    _apply_client_and_netem(renderer)


def _apply_limits_and_readiness(renderer: _Renderer) -> None:
    web = renderer.variant.web
    if web.remove_limits:
        container = renderer.web_container("web.remove_limits")
        if container is not None:
            limits = (container.get("resources") or {}).get("limits") or {}
            for resource in web.remove_limits:
                limits.pop(resource, None)
            if not limits and "resources" in container:
                container["resources"].pop("limits", None)
    if web.readiness is not None and web.readiness.model_fields_set:
        container = renderer.web_container("web.readiness")
        if container is None:
            return
        probe = container.get("readinessProbe")
        if not isinstance(probe, dict):
            renderer.issue("web.readiness", "the web container has no readinessProbe to tune")
            return
        for knob, field in (
            ("period_s", "periodSeconds"),
            ("failure_threshold", "failureThreshold"),
            ("initial_delay_s", "initialDelaySeconds"),
        ):
            value = getattr(web.readiness, knob)
            if value is not None:
                probe[field] = value


def _apply_metrics(renderer: _Renderer) -> None:
    knobs = renderer.variant.hpa
    if not knobs.enabled or (knobs.cpu_metric and knobs.target_rps_per_pod is None):
        return
    hpa = renderer.need(("HorizontalPodAutoscaler", "web"), "hpa.target_rps_per_pod")
    if hpa is None:
        return
    metrics = hpa["spec"].setdefault("metrics", [])
    if not knobs.cpu_metric:
        metrics[:] = [
            m for m in metrics if not (m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu")
        ]
    if knobs.target_rps_per_pod is not None:
        # AverageValue is a quantity: milli-units keep fractional targets exact ("12500m").
        average = f"{round(knobs.target_rps_per_pod * 1000)}m"
        metrics.append(
            {
                "type": "Pods",
                "pods": {"metric": {"name": RPS_METRIC}, "target": {"type": "AverageValue", "averageValue": average}},
            }
        )


def _apply_scale_point(renderer: _Renderer, base_request_m: int | None) -> None:
    knobs = renderer.variant.hpa
    from hpabench.deploy.render import WEB_HPA, find

    hpa = find(renderer.objects, *WEB_HPA)
    touched = "scale_point" in knobs.model_fields_set or renderer.variant.web.resources is not None
    if hpa is None or not knobs.enabled or not touched:
        return  # nothing about the scale point changed: the base manifests stay as they are
    target = _cpu_target(hpa)
    request_m = _cpu_request_m(renderer.web_container("hpa.scale_point"))
    annotations = hpa["metadata"].setdefault("annotations", {}) or {}
    hpa["metadata"]["annotations"] = annotations
    annotations[SCALE_POINT_MODE_ANNOTATION] = knobs.scale_point
    if target is None or request_m is None:
        if knobs.scale_point == "iso":
            renderer.issue("hpa.scale_point", "iso needs a CPU utilization target and a web CPU request")
        return
    if knobs.scale_point == "iso" and base_request_m is not None and request_m != base_request_m:
        if knobs.target_cpu_utilization is not None:
            renderer.issue("hpa.scale_point", "iso rescales the CPU target; do not set target_cpu_utilization too")
            return
        rescaled = round(target["averageUtilization"] * base_request_m / request_m)
        target["averageUtilization"] = max(1, rescaled)
    annotations[SCALE_POINT_ANNOTATION] = str(round(request_m * target["averageUtilization"] / 100))


def _apply_client_and_netem(renderer: _Renderer) -> None:
    net = renderer.variant.networking
    from hpabench.deploy.render import WEB_SERVICE

    if net.client_keepalive is not None:
        service = renderer.need(WEB_SERVICE, "networking.client_keepalive")
        if service is not None:
            service["metadata"].setdefault("annotations", {})[KEEPALIVE_ANNOTATION] = str(net.client_keepalive).lower()
    if net.netem is None:
        return
    for tier, service_name in TIER_SERVICES.items():
        impairment = getattr(net.netem, tier)
        if impairment is None:
            continue
        service = renderer.need(("Service", service_name), f"networking.netem.{tier}")
        if service is not None:
            data = impairment.model_dump(mode="json", exclude_none=True)
            service["metadata"].setdefault("annotations", {})[NETEM_ANNOTATION] = json.dumps(data, sort_keys=True)
