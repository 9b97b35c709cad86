"""PodMonitor objects (Prometheus Operator) that scrape the run at the run's own interval.

A cluster's default 30 s scrape is too coarse for scale-up timing, so the target adds, when the
cluster serves `monitoring.coreos.com/v1`, one PodMonitor for the app's pods (port `http`,
`/metrics`) and one for the load generators (label `app.kubernetes.io/component=load-generator`,
port `metrics`), both with `interval` = the run's scrape interval clamped to 1–5 s and a
namespaceSelector of the run's namespace only.
"""

from __future__ import annotations

from typing import Any

from hpabench.deploy.k8s.api import ApiError, KubeApi

MONITORING_GROUP_VERSION = "monitoring.coreos.com/v1"
MIN_INTERVAL_S, MAX_INTERVAL_S = 1, 5
LOAD_GENERATOR_LABELS = {"app.kubernetes.io/component": "load-generator"}


def interval(scrape_interval_s: float) -> str:
    return f"{min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, round(scrape_interval_s)))}s"


def _pod_monitor(name: str, namespace: str, match: dict[str, str], port: str, every: str) -> dict[str, Any]:
    return {
        "apiVersion": MONITORING_GROUP_VERSION,
        "kind": "PodMonitor",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "hpabench"}},
        "spec": {
            "selector": {"matchLabels": dict(match)},
            "namespaceSelector": {"matchNames": [namespace]},
            "podMetricsEndpoints": [{"port": port, "path": "/metrics", "interval": every, "scrapeTimeout": every}],
        },
    }


def monitor_objects(objects: list[dict[str, Any]], namespace: str, scrape_interval_s: float) -> list[dict[str, Any]]:
    """A PodMonitor per scraped workload: the web Deployment's pods, and the load generators."""
    every = interval(scrape_interval_s)
    out = []
    for obj in objects:
        if obj.get("kind") == "Deployment" and obj["metadata"]["name"] == "web":
            match = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            out.append(_pod_monitor("hpabench-web", namespace, match, "http", every))
    out.append(_pod_monitor("hpabench-load", namespace, LOAD_GENERATOR_LABELS, "metrics", every))
    return out


def operator_served(api: KubeApi) -> bool:
    """Whether the cluster serves the Prometheus Operator's API (its CRDs are installed)."""
    try:
        resources = api.get(f"/apis/{MONITORING_GROUP_VERSION}").get("resources") or []
    except ApiError:
        return False
    return any(r.get("name") == "podmonitors" for r in resources)
