"""The local target: the rendered manifests interpreted on one machine (a tiny kubelet + kube-proxy).

Entry points: `cluster.LocalCluster.start(objects, run, LocalSettings())` (the pipeline, the HPA
controller) and `daemon.up/status/down` (the `hpabench up|status|down` commands).

Modules, one concept each:
* `workloads`  – rendered objects → what runs locally (image → runtime, Services, resources); SpecError
* `env`        – container env resolution (envFrom, $(VAR), Secrets, service links)
* `resources`  – quantities and the kubelet's cgroup arithmetic (pure)
* `cgroups`    – v1 / v2 / none drivers: create, attach, usage, kill leftovers, remove
* `runtimes`   – container → command line (app under uvicorn, PostgreSQL, Redis); `postgres`, `redis`
* `procs`      – launching into a cgroup (and dropping privileges), stopping with grace
* `probes`     – readiness/liveness/startup probes against local ports
* `pods`       – one pod's supervisor: init containers, probes, crash-loop back-off, termination
* `deployment` – replicas and scale-down choice (ReplicaSet/StatefulSet controller)
* `endpoints`  – HAProxy servers and Prometheus targets follow the pods
* `haproxy`, `prometheus`, `exporter` – the Service load balancer, the metrics server, cluster-state series
* `daemon`     – the detached supervisor behind up/status/down
* `binaries`, `ports`, `settings`

Identities when run as root (`LocalSettings.drop_privileges`, default on): PostgreSQL runs as the
`postgres` system user (it refuses root) and owns its data dir; Redis and the app run as the
manifest's `runAsUser`/`runAsGroup` (65534 when unset) — except the app runs as the caller when
the Python interpreter or the app cannot be read by other users (e.g. under a 0700 home), which
is recorded as a warning event. HAProxy and Prometheus run as the caller. Not root: everything
runs as the caller and, unless cgroups are delegated, without limits (said loudly).
"""
