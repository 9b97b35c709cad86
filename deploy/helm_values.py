"""A variant as values for the Helm chart `deploy/helm/hpabench-reference/` (pure).

Contract: `helm_values(variant)` is the fully resolved variant (its `extends` chain merged and the
`--set` overrides applied, see `variant_layers`) as plain data in the variant file's own layout —
only the knobs the variant sets, so the chart keeps the base manifests' value for the rest — plus
`derived`: what `hpabench render` computes from several knobs and the base manifests, taken from
the rendered HPA itself so that the arithmetic has one home (`render_tuning`):

- `derived.scale_point_mode` / `derived.scale_point_millicores`: the HPA annotations
  `hpabench.io/scale-point-mode` / `-millicores` (present when the variant touches the CPU
  request or `hpa.scale_point`);
- `derived.cpu_target_utilization`: the CPU target after the iso-scale-point rescaling;
- `derived.for_cpu_request` / `derived.for_target_cpu_utilization`: the web CPU request and the
  target knob these were computed for (the chart refuses values changed afterwards, e.g. by
  `helm --set web.resources.requests.cpu=…`, instead of rendering a stale scale point).

`extends` and `overrides` are not emitted (helm cannot resolve a chain; the result already is
resolved); `dump_helm_values` names the chain in a comment. A variant with RFC 6902 `patches`
cannot be expressed in the chart: `SpecError`. The chart refuses a values file whose `extends` is
set, and one that touches the scale point without `derived`, each with the command to use.
"""

from __future__ import annotations

from typing import Any

import yaml

from hpabench.deploy.render import WEB_CONTAINER, WEB_DEPLOYMENT, WEB_HPA, find, render
from hpabench.deploy.render_tuning import SCALE_POINT_ANNOTATION, SCALE_POINT_MODE_ANNOTATION, _cpu_target
from hpabench.deploy.variant import Variant
from hpabench.errors import SpecError, SpecIssue

NOT_CHART_VALUES = ("extends", "overrides", "patches")
PATCHES_REFUSED = (
    "variant patches (RFC 6902) cannot be expressed in the chart: "
    "use `hpabench render --variant FILE | kubectl apply -f -`"
)


def helm_values(variant: Variant) -> dict[str, Any]:
    """The chart values for `variant` (see the module docstring); SpecError if it has patches."""
    if variant.patches:
        raise SpecError(SpecIssue(variant.source_file, "patches", PATCHES_REFUSED))
    values: dict[str, Any] = variant.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)
    for key in NOT_CHART_VALUES:
        values.pop(key, None)
    objects = render(variant)
    hpa = find(objects, *WEB_HPA)
    annotations = (hpa or {}).get("metadata", {}).get("annotations") or {}
    if SCALE_POINT_MODE_ANNOTATION in annotations:
        derived: dict[str, Any] = {"scale_point_mode": annotations[SCALE_POINT_MODE_ANNOTATION]}
        if SCALE_POINT_ANNOTATION in annotations:
            derived["scale_point_millicores"] = annotations[SCALE_POINT_ANNOTATION]
        target = _cpu_target(hpa) if hpa is not None else None
        if target is not None:
            derived["cpu_target_utilization"] = target["averageUtilization"]
        # What it was computed from: the chart refuses values changed after hpabench derived these.
        request = _web_cpu_request(objects)
        if request is not None:
            derived["for_cpu_request"] = request
        if variant.hpa.target_cpu_utilization is not None:
            derived["for_target_cpu_utilization"] = variant.hpa.target_cpu_utilization
        values["derived"] = derived
    return values


def _web_cpu_request(objects: list[dict[str, Any]]) -> str | None:
    deployment = find(objects, *WEB_DEPLOYMENT) or {}
    for container in deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
        if container.get("name") == WEB_CONTAINER:
            cpu = ((container.get("resources") or {}).get("requests") or {}).get("cpu")
            return None if cpu is None else str(cpu)
    return None


def dump_helm_values(variant: Variant, image: str | None = None) -> str:
    """`helm_values(variant)` (with the app `image`, if given) as a YAML values file for `helm template -f`."""
    header = [f"# hpabench variant {variant.name!r}, resolved: chart values for deploy/helm/hpabench-reference"]
    if variant.extends:
        header.append(f"# extends: {' <- '.join([variant.name, *variant.extends])}")
    if variant.overrides:
        header.append(f"# overrides: {' '.join(variant.overrides)}")
    values = helm_values(variant)
    if image is not None:
        values["image"] = image
    body = yaml.safe_dump(values, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
    return "\n".join(header) + "\n" + body
