"""What the API shows during a run, written into the run directory in the local target's formats.

`ClusterObserver(api, namespace, run)` watches the namespace's pods, Deployments, StatefulSets,
HPAs and events (see `watch.CollectionWatch`) and records (docs/contracts.md):

- events.jsonl: `pod_created|pod_started|pod_ready|pod_unready|pod_restarted|pod_crashed|pod_deleted`,
  `scale {deployment, from, to, by}` (`by: hpa` when an HPA targets the workload), `hpa_rescale`,
  `hpa_condition` on a condition's change, and `k8s_event {object, type, reason, message, count}`.
- data/hpa.jsonl (→ hpa.parquet at stop): one row per observed HPA status. The API does not show
  the controller's raw/stabilized recommendations or its metric age: those columns are null.
- data/pods.jsonl (→ pods.parquet at stop): one row per pod, written when it goes (or at stop).

Times are the API's own timestamps where it has them (creation, start, Ready transitions), else
the moment the watch delivered the change. `replicas(name)` and `ready_pods(selector)` serve the
progress line and the port-forward balancer from the same watched state, with no extra requests.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

from hpabench.deploy.hpa.evaluate import KSM_AVERAGE, KSM_UTILIZATION, KSM_VALUE
from hpabench.deploy.hpa.quantity import parse_quantity
from hpabench.deploy.hpa.sync_log import TimelineWriter
from hpabench.deploy.k8s.resources import collection_path
from hpabench.deploy.k8s.watch import CollectionWatch
from hpabench.deploy.local.podlog import PodLog
from hpabench.rundir import RunDir
from hpabench.target import ReplicaView

WORKLOAD_LABEL = "app.kubernetes.io/name"


def api_time(value: Any) -> float | None:
    """RFC 3339 (`2026-12-01T21:50:00Z`) → unix seconds; None when absent or malformed."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _millicores(resources: dict[str, Any], kind: str) -> float | None:
    raw = ((resources or {}).get(kind) or {}).get("cpu")
    try:
        return float(parse_quantity(raw).milli) if raw is not None else None
    except ValueError:
        return None


def _ready_since(pod: dict[str, Any]) -> float | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "True":
            return api_time(cond.get("lastTransitionTime")) or time.time()
    return None


def _restarts(pod: dict[str, Any]) -> int:
    return sum(int(cs.get("restartCount") or 0) for cs in (pod.get("status") or {}).get("containerStatuses") or [])


def _matches(labels: dict[str, Any], selector: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def hpa_metrics_json(hpa: dict[str, Any]) -> str:
    """`name → {current, target, type}` from an HPA's spec.metrics and status.currentMetrics (pure)."""
    current_by_name: dict[str, dict[str, Any]] = {}
    for metric in (hpa.get("status") or {}).get("currentMetrics") or []:
        source = metric.get(_source_key(metric.get("type"))) or {}
        current_by_name[_metric_name(source)] = source.get("current") or {}
    out: dict[str, dict[str, Any]] = {}
    for metric in (hpa.get("spec") or {}).get("metrics") or []:
        source = metric.get(_source_key(metric.get("type"))) or {}
        name = _metric_name(source)
        target = source.get("target") or {}
        kind = {"Utilization": KSM_UTILIZATION, "AverageValue": KSM_AVERAGE, "Value": KSM_VALUE}.get(
            str(target.get("type"))
        )
        field = {KSM_UTILIZATION: "averageUtilization", KSM_AVERAGE: "averageValue", KSM_VALUE: "value"}.get(kind or "")
        out[name] = {
            "current": _number((current_by_name.get(name) or {}).get(field or "")),
            "target": _number(target.get(field or "")),
            "type": kind,
        }
    return json.dumps(out, sort_keys=True)


def _source_key(metric_type: Any) -> str:
    text = str(metric_type or "")
    return text[:1].lower() + text[1:]  # Resource → resource, ContainerResource → containerResource


def _metric_name(source: dict[str, Any]) -> str:
    return str(source.get("name") or (source.get("metric") or {}).get("name") or "?")


def _number(raw: Any) -> float | None:
    if raw is None:
        return None
    try:
        return float(parse_quantity(raw).value)
    except ValueError:
        return None


def _condition(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any]:
    return next((c for c in conditions if c.get("type") == type_), {})


class ClusterObserver:
    """Watches one namespace for a run (see module docstring). `start()`, then `stop()` once."""

    def __init__(self, api: Any, namespace: str, run: RunDir, watch_timeout_s: int = 60) -> None:
        self.api = api
        self.namespace = namespace
        self.run = run
        self.watch_timeout_s = watch_timeout_s
        self._lock = threading.Lock()
        self._pods: dict[str, dict[str, Any]] = {}  # name → row + flags
        self._pod_objects: dict[str, dict[str, Any]] = {}
        self._workloads: dict[str, dict[str, Any]] = {}
        self._hpa_targets: set[str] = set()
        self._hpa_last: dict[str, dict[str, Any]] = {}
        self._event_seen: dict[str, int] = {}
        self._timeline = TimelineWriter(run.data)
        self._podlog = PodLog(run.data)
        self._watches: list[CollectionWatch] = []
        self._stopped = False

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, sync_timeout_s: float = 30.0) -> ClusterObserver:
        ns = self.namespace
        specs = [
            (collection_path("autoscaling/v2", "HorizontalPodAutoscaler", ns), self._on_hpa),
            (collection_path("apps/v1", "Deployment", ns), self._on_workload),
            (collection_path("apps/v1", "StatefulSet", ns), self._on_workload),
            (collection_path("v1", "Pod", ns), self._on_pod),
            (collection_path("v1", "Event", ns), self._on_event),
        ]
        for path, handler in specs:
            watch = CollectionWatch(self.api, path, handler, watch_timeout_s=self.watch_timeout_s, on_error=self._warn)
            self._watches.append(watch.start())
        for watch in self._watches:
            watch.wait_synced(sync_timeout_s)
        return self

    @property
    def relists(self) -> int:
        return sum(w.relists for w in self._watches)

    def stop(self) -> None:
        """Stop every watch, write the pods still present and convert both tables to parquet."""
        if self._stopped:
            return
        self._stopped = True
        for watch in self._watches:
            watch.stop()
        with self._lock:
            for name in list(self._pods):
                self._flush_pod(name)
        self._timeline.close()
        self._podlog.write_parquet()

    def _warn(self, message: str) -> None:
        self.run.events.emit("warning", message=message)

    # -- views ----------------------------------------------------------------------------------
    def replicas(self, workload: str) -> ReplicaView:
        with self._lock:
            obj = self._workloads.get(workload) or {}
        return ReplicaView(
            spec_replicas=int((obj.get("spec") or {}).get("replicas") or 0),
            ready_replicas=int((obj.get("status") or {}).get("readyReplicas") or 0),
        )

    def ready_pods(self, selector: dict[str, str]) -> list[str]:
        """Names of running, Ready, not-terminating pods whose labels match `selector`."""
        with self._lock:
            pods = list(self._pod_objects.values())
        return sorted(
            p["metadata"]["name"]
            for p in pods
            if _matches((p.get("metadata") or {}).get("labels") or {}, selector)
            and not (p.get("metadata") or {}).get("deletionTimestamp")
            and _ready_since(p) is not None
        )

    def pod_objects(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._pod_objects.values())

    # -- handlers (watch threads) -----------------------------------------------------------------
    def _on_workload(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        with self._lock:
            before = self._workloads.get(name)
            if kind == "DELETED":
                self._workloads.pop(name, None)
                return
            self._workloads[name] = obj
            by = "hpa" if name in self._hpa_targets else "user"
        if before is not None:
            old = int((before.get("spec") or {}).get("replicas") or 0)
            new = int((obj.get("spec") or {}).get("replicas") or 0)
            if old != new:
                self.run.events.emit("scale", deployment=name, by=by, **{"from": old, "to": new})

    def _on_hpa(self, kind: str, hpa: dict[str, Any]) -> None:
        if kind == "DELETED":
            return
        name = hpa["metadata"]["name"]
        spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
        target = (spec.get("scaleTargetRef") or {}).get("name")
        conditions = status.get("conditions") or []
        with self._lock:
            if target:
                self._hpa_targets.add(str(target))
            previous = self._hpa_last.get(name)
            self._hpa_last[name] = hpa
            workload = self._workloads.get(str(target)) or {}
        current, desired = status.get("currentReplicas"), status.get("desiredReplicas")
        if previous is not None:
            prev_status = previous.get("status") or {}
            if prev_status.get("desiredReplicas") != desired and desired is not None:
                reason = _condition(conditions, "AbleToScale").get("message") or "status changed"
                self.run.events.emit(
                    "hpa_rescale",
                    hpa=name,
                    reason=reason,
                    **{"from": prev_status.get("desiredReplicas"), "to": desired},
                )
        prev_conditions = ((previous or {}).get("status") or {}).get("conditions") or []
        for cond in conditions:
            old = _condition(prev_conditions, str(cond.get("type")))
            if (old.get("status"), old.get("reason")) != (cond.get("status"), cond.get("reason")):
                self.run.events.emit(
                    "hpa_condition",
                    ts=api_time(cond.get("lastTransitionTime")) or time.time(),
                    hpa=name,
                    type=cond.get("type"),
                    status=cond.get("status"),
                    reason=cond.get("reason"),
                    message=cond.get("message"),
                )
        wstatus = workload.get("status") or {}
        ready = int(wstatus.get("readyReplicas") or 0)
        active = _condition(conditions, "ScalingActive")
        self._timeline.append(
            {
                "ts": time.time(),
                "hpa": name,
                "current_replicas": current,
                "desired_replicas": desired,
                "raw_recommendation": None,
                "stabilized_recommendation": None,
                "metrics": hpa_metrics_json(hpa),
                "ready_pods": ready,
                "unready_pods": max(0, int(wstatus.get("replicas") or 0) - ready),
                "missing_pods": 0,
                "able_to_scale": _condition(conditions, "AbleToScale").get("status") == "True",
                "scaling_active": active.get("status") == "True",
                "scaling_limited": _condition(conditions, "ScalingLimited").get("status") == "True",
                "reason": active.get("reason") or "",
                "metrics_age_s": None,
            }
        )

    def _on_pod(self, kind: str, pod: dict[str, Any]) -> None:
        meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
        name = meta["name"]
        workload = str((meta.get("labels") or {}).get(WORKLOAD_LABEL, ""))
        now = time.time()
        with self._lock:
            row = self._pods.get(name)
            if row is None:
                containers = spec.get("containers") or [{}]
                main = next((c for c in containers if c.get("name") == workload), containers[0])
                row = self._pods[name] = {
                    "pod": name,
                    "deployment": workload,
                    "created_ts": api_time(meta.get("creationTimestamp")) or now,
                    "started_ts": None,
                    "ready_ts": None,
                    "deleted_ts": None,
                    "restarts": 0,
                    "cpu_request_millicores": _millicores(main.get("resources") or {}, "requests"),
                    "cpu_limit_millicores": _millicores(main.get("resources") or {}, "limits"),
                    "_ready": False,
                }
                self._emit_pod("pod_created", row, row["created_ts"])
            self._pod_objects[name] = pod
            if row["started_ts"] is None and status.get("phase") in ("Running", "Succeeded", "Failed"):
                row["started_ts"] = api_time(status.get("startTime")) or now
                self._emit_pod("pod_started", row, row["started_ts"])
            ready_since = _ready_since(pod)
            if ready_since is not None and not row["_ready"]:
                row["_ready"] = True
                row["ready_ts"] = row["ready_ts"] or ready_since
                self._emit_pod("pod_ready", row, ready_since)
            elif ready_since is None and row["_ready"]:
                row["_ready"] = False
                self._emit_pod("pod_unready", row, now)
            restarts = _restarts(pod)
            if restarts > row["restarts"]:
                row["restarts"] = restarts
                self._emit_pod("pod_crashed", row, now)
                self._emit_pod("pod_restarted", row, now)
            if kind == "DELETED" or meta.get("deletionTimestamp"):
                if row["deleted_ts"] is None:
                    row["deleted_ts"] = api_time(meta.get("deletionTimestamp")) or now
                    self._emit_pod("pod_deleted", row, row["deleted_ts"])
                if kind == "DELETED":
                    self._pod_objects.pop(name, None)
                    self._flush_pod(name)

    def _emit_pod(self, kind: str, row: dict[str, Any], ts: Any) -> None:
        self.run.events.emit(kind, ts=ts, pod=row["pod"], deployment=row["deployment"])

    def _flush_pod(self, name: str) -> None:
        row = self._pods.pop(name, None)
        if row is not None:
            self._podlog.append({k: v for k, v in row.items() if not k.startswith("_")})

    def _on_event(self, kind: str, event: dict[str, Any]) -> None:
        if kind == "DELETED":
            return
        uid = str((event.get("metadata") or {}).get("uid") or (event.get("metadata") or {}).get("name"))
        count = int(event.get("count") or (event.get("series") or {}).get("count") or 1)
        with self._lock:
            if self._event_seen.get(uid, 0) >= count:
                return  # a re-list or an unrelated update delivers the same occurrence again
            self._event_seen[uid] = count
        involved = event.get("involvedObject") or event.get("regarding") or {}
        self.run.events.emit(
            "k8s_event",
            ts=api_time(event.get("lastTimestamp") or event.get("eventTime")) or time.time(),
            object=f"{involved.get('kind')}/{involved.get('name')}",
            type=event.get("type"),
            reason=event.get("reason"),
            message=event.get("message"),
            count=count,
        )
