"""The HPA's status, as `kubectl describe hpa` shows it and kube-state-metrics exports it.

`HpaStatus` is a frozen snapshot built from the spec and the last `Decision`; `describe()`
renders the familiar text; `ksm_families()` returns prometheus_client metric families under the
kube-state-metrics names and labels (`namespace`, `horizontalpodautoscaler`, plus
`metric_name`/`metric_target_type` or `condition`/`status`), so one PromQL profile serves a
cluster and the local target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily, Metric

from hpabench.deploy.hpa.api_model import CONTAINER_RESOURCE, EXTERNAL, OBJECT, PODS, RESOURCE, HorizontalPodAutoscaler
from hpabench.deploy.hpa.conditions import CONDITION_TYPES, Condition
from hpabench.deploy.hpa.core import Decision
from hpabench.deploy.hpa.evaluate import KSM_AVERAGE, KSM_UTILIZATION, KSM_VALUE, MetricStatus, metric_stub
from hpabench.deploy.hpa.quantity import format_milli

PREFIX = "kube_horizontalpodautoscaler"
BASE_LABELS = ["namespace", "horizontalpodautoscaler"]


@dataclass(frozen=True)
class HpaStatus:
    """What `kubectl describe hpa` shows. `current`/`desired` are the status replica counts."""

    name: str
    namespace: str
    reference: str
    min_replicas: int
    max_replicas: int
    current_replicas: int
    desired_replicas: int
    last_scale_ts: float | None
    last_sync_ts: float | None
    metrics: tuple[MetricStatus, ...]
    conditions: tuple[Condition, ...]
    hpa: HorizontalPodAutoscaler

    def describe(self) -> str:
        kind = self.reference.split("/")[0]
        rows = [
            ("Name:", self.name),
            ("Namespace:", self.namespace),
            ("Reference:", self.reference),
            ("Metrics:", "( current / target )"),
        ]
        rows += [(f"  {_metric_label(self.hpa, m)}:", _metric_value(m)) for m in self.metrics]
        rows += [
            ("Min replicas:", str(self.min_replicas)),
            ("Max replicas:", str(self.max_replicas)),
            ("LastScaleTime:", _when(self.last_scale_ts)),
            (f"{kind} pods:", f"{self.current_replicas} current / {self.desired_replicas} desired"),
        ]
        width = max(len(label) for label, _ in rows) + 2
        lines = [f"{label:<{width}}{value}" for label, value in rows]
        lines.append("Conditions:")
        table = [("Type", "Status", "Reason", "Message"), ("----", "------", "------", "-------")]
        table += [(c.type, c.status, c.reason, c.message) for c in self.conditions]
        widths = [max(len(row[i]) for row in table) + 2 for i in range(3)]
        for row in table:
            lines.append("  " + "".join(f"{cell:<{widths[i]}}" for i, cell in enumerate(row[:3])) + row[3])
        return "\n".join(lines)


def build_status(hpa: HorizontalPodAutoscaler, last: Decision | None, namespace: str | None = None) -> HpaStatus:
    """The status after `last` (before any sync: spec-only, like a freshly created HPA);
    `namespace` overrides the manifest's (the target's namespace label)."""
    ref = hpa.spec.scale_target_ref
    metrics = (
        last.metrics
        if last is not None and last.metrics
        else tuple(metric_stub(i, m) for i, m in enumerate(hpa.metrics))
    )
    return HpaStatus(
        name=hpa.name,
        namespace=namespace or hpa.namespace,
        reference=f"{ref.kind}/{ref.name}",
        min_replicas=hpa.min_replicas,
        max_replicas=hpa.max_replicas,
        current_replicas=last.current_replicas if last else 0,
        desired_replicas=last.desired_replicas if last else 0,
        last_scale_ts=last.last_scale_ts if last else None,
        last_sync_ts=last.ts if last else None,
        metrics=metrics,
        conditions=last.conditions if last else (),
        hpa=hpa,
    )


def _when(ts: float | None) -> str:
    if ts is None:
        return "<unset>"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def _quantity(value: float | None) -> str:
    """A value in base units the way kubectl prints a Quantity ("150m", "3", "<unknown>")."""
    if value is None or not math.isfinite(value):
        return "<unknown>"
    return format_milli(round(value * 1000))


def _metric_label(hpa: HorizontalPodAutoscaler, status: MetricStatus) -> str:
    spec = hpa.metrics[status.index] if status.index < len(hpa.metrics) else None
    if status.source_type in (RESOURCE, CONTAINER_RESOURCE):
        suffix = "  (as a percentage of request)" if status.target_type == KSM_UTILIZATION else ""
        if spec is not None and spec.container_resource is not None and status.source_type == CONTAINER_RESOURCE:
            container = spec.container_resource.container
            return f'resource {status.name} of container "{container}" on pods{suffix}'
        return f"resource {status.name} on pods{suffix}"
    if status.source_type == PODS:
        return f'"{status.name}" on pods'
    if status.source_type == OBJECT and spec is not None and spec.object_ is not None:
        described = spec.object_.described_object
        kind = "target value" if status.target_type == KSM_VALUE else "target average value"
        return f'"{status.name}" on {described.kind}/{described.name} ({kind})'
    if status.source_type == EXTERNAL:
        kind = "target value" if status.target_type == KSM_VALUE else "target average value"
        return f'"{status.name}" (external metric, {kind})'
    return status.description


def _metric_value(status: MetricStatus) -> str:
    if status.target_type == KSM_UTILIZATION:
        if status.current is None:
            current = "<unknown>"
        else:
            raw = "" if status.average_value is None else f" ({_quantity(status.average_value)})"
            current = f"{status.current:.0f}%{raw}"
        return f"{current} / {status.target:.0f}%"
    return f"{_quantity(status.current)} / {_quantity(status.target)}"


def ksm_families(status: HpaStatus) -> list[Metric]:
    """kube-state-metrics' HPA families for this HPA (one scrape's worth)."""
    key = [status.namespace, status.name]
    ref = status.hpa.spec.scale_target_ref
    info = GaugeMetricFamily(
        f"{PREFIX}_info",
        "Information about this autoscaler.",
        labels=[*BASE_LABELS, "scaletargetref_api_version", "scaletargetref_kind", "scaletargetref_name"],
    )
    info.add_metric([*key, ref.api_version or "", ref.kind, ref.name], 1)
    families: list[Metric] = [info]
    for suffix, doc, value in (
        (
            "spec_min_replicas",
            "Lower limit for the number of pods that can be set by the autoscaler.",
            status.min_replicas,
        ),
        (
            "spec_max_replicas",
            "Upper limit for the number of pods that can be set by the autoscaler.",
            status.max_replicas,
        ),
        (
            "status_current_replicas",
            "Current number of replicas of pods managed by this autoscaler.",
            status.current_replicas,
        ),
        (
            "status_desired_replicas",
            "Desired number of replicas of pods managed by this autoscaler.",
            status.desired_replicas,
        ),
    ):
        family = GaugeMetricFamily(f"{PREFIX}_{suffix}", doc, labels=BASE_LABELS)
        family.add_metric(key, value)
        families.append(family)

    metric_labels = [*BASE_LABELS, "metric_name", "metric_target_type"]
    spec_target = GaugeMetricFamily(
        f"{PREFIX}_spec_target_metric", "The metric specifications used by this autoscaler.", labels=metric_labels
    )
    status_target = GaugeMetricFamily(
        f"{PREFIX}_status_target_metric", "The current metric status used by this autoscaler.", labels=metric_labels
    )
    for metric in status.metrics:
        if math.isfinite(metric.target):
            spec_target.add_metric([*key, metric.name, metric.target_type], metric.target)
        if metric.current is None:
            continue
        status_target.add_metric([*key, metric.name, metric.target_type], metric.current)
        if metric.target_type == KSM_UTILIZATION and metric.average_value is not None:
            # A Utilization status also carries the raw average, as kube-state-metrics exports it.
            status_target.add_metric([*key, metric.name, KSM_AVERAGE], metric.average_value)
    families += [spec_target, status_target]

    conditions = GaugeMetricFamily(
        f"{PREFIX}_status_condition",
        "The condition of this autoscaler.",
        labels=[*BASE_LABELS, "condition", "status"],
    )
    present = {c.type: c for c in status.conditions}
    for type_ in [*CONDITION_TYPES, *(t for t in present if t not in CONDITION_TYPES)]:
        condition = present.get(type_)
        if condition is None:
            continue
        for label in ("true", "false", "unknown"):
            conditions.add_metric([*key, type_, label], 1.0 if condition.status.lower() == label else 0.0)
    families.append(conditions)
    return families
