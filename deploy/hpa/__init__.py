"""The HorizontalPodAutoscaler: a pure autoscaling/v2 decision core and the local controller loop.

Modules (import them directly; this package imports nothing so `settings` stays light):

* `settings`   — `HpaSettings`, the kube-controller-manager flags with upstream defaults;
* `spec`       — the strict autoscaling/v2 model and the API server's defaulting;
* `validate`   — `validate_hpa(hpa, objects, settings, source) -> list[SpecIssue]`, `parse_hpa`;
* `quantity`   — Kubernetes quantities as milli-units;
* `inputs`     — what one sync reads: `PodState`, `PodMetric`, readings, `Observation`;
* `replicas`   — the replica calculator and the missing/unready pod rules;
* `history`    — stabilization windows and scaling policies over the recommendation/event history;
* `evaluate`   — all metrics → the largest proposal (or why none is trusted);
* `conditions` — AbleToScale / ScalingActive / ScalingLimited;
* `core`       — `decide(...) -> Decision`, one sync as a pure function;
* `sampler`    — metrics-server's CPU/memory from cumulative cgroup counters;
* `custom`     — Pods/Object/External metrics from PromQL (prometheus-adapter's role);
* `status`     — `HpaStatus` (`kubectl describe hpa`) and the kube-state-metrics families;
* `timeline`   — `data/hpa.jsonl` → `data/hpa.parquet`;
* `controller` — `HpaController`, the loop on the local target.
"""
