"""The Kubernetes objects of one in-cluster load run: Locust master and workers, rendered in Python.

`loadgen_objects(spec)` → `[ConfigMap, Service, master Job, workers Job]`, applied in that order
into the run's namespace (by `incluster_driver`), deleted again after the artefacts are copied:

* ConfigMap `hpabench-loadgen`: `locust_config.json` (the `RuntimeConfig` the local driver writes,
  with `ship_rows` on and `data_dir` rewritten in the pod), hpabench's locustfile entry points and a
  user's own locustfile when given — what the pods run is what the run directory records.
* Service `hpabench-loadgen-master` (ClusterIP): Locust's port 5557 for the workers, the artefact
  port 8089 the driver reaches only through a port-forward to the master pod.
* Job `hpabench-loadgen-master`: one pod running `hpabench.scenarios.drive.incluster master` with
  `--expect-workers N`; it serves its data folder until the driver says done.
* Job `hpabench-loadgen-workers`: exactly N pods (`parallelism` = `completions` = N), never
  autoscaled and never replaced (`backoffLimit: 0`, `restartPolicy: Never` — a worker that goes
  away is a fact of the run, not something to hide), podAntiAffinity *preferred* between workers
  and away from the app's pods (`app.kubernetes.io/name: web`); the master avoids the app too.

Every pod has resource requests (the scheduler must count the generators), a memory limit, labels
`app.kubernetes.io/name: hpabench-loadgen`, `app.kubernetes.io/component: master|worker`,
`hpabench.io/run-id`, and both Jobs carry `activeDeadlineSeconds` (the run's bound: plan + startup +
linger), so a runner that vanishes leaves no load running.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpabench.deploy.k8s.apply import label_value
from hpabench.scenarios.drive.locust_runtime import CONFIG_FILE, RuntimeConfig

DEFAULT_LOADGEN_IMAGE = "hpabench/loadgen:0.1.0"
NAME = "hpabench-loadgen"
MASTER = f"{NAME}-master"
WORKERS = f"{NAME}-workers"
LOCUST_PORT = 5557
ARTEFACT_PORT = 8089
CONFIG_DIR = "/etc/hpabench"
DATA_DIR = "/data"
APP_SELECTOR = {"app.kubernetes.io/name": "web"}
STARTUP_BOUND_S = 300.0
LINGER_S = 600.0
LOCUST_STOP_TIMEOUT_S = 2


@dataclass(frozen=True)
class LoadgenSpec:
    """One in-cluster load run. `locustfiles` maps a ConfigMap key (file name) to its text; the
    first names are passed to Locust's `-f` in order. `host` is the app's in-cluster URL."""

    run_id: str
    config: RuntimeConfig
    locustfiles: dict[str, str]
    host: str
    workers: int
    image: str = DEFAULT_LOADGEN_IMAGE
    planned_s: float = 0.0
    expect_workers_wait_s: float = 120.0
    worker_cpu_request_millicores: int = 1000
    master_cpu_request_millicores: int = 250
    memory_request_mib: int = 256
    memory_limit_mib: int = 1024
    extra_labels: dict[str, str] = field(default_factory=dict)

    @property
    def active_deadline_s(self) -> int:
        """The pods' hard bound: startup + the wait for workers + the plan + stopping + lingering."""
        return int(STARTUP_BOUND_S + self.expect_workers_wait_s + self.planned_s + 60 + LINGER_S)


def labels(spec: LoadgenSpec, component: str | None = None) -> dict[str, str]:
    found = {
        "app.kubernetes.io/name": NAME,
        "app.kubernetes.io/part-of": "hpabench",
        "hpabench.io/run-id": label_value(spec.run_id),
        **spec.extra_labels,
    }
    if component:
        found["app.kubernetes.io/component"] = component
    return found


def _selector(spec: LoadgenSpec, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": component}


def _away_from(selector: dict[str, str], weight: int) -> dict[str, Any]:
    return {
        "weight": weight,
        "podAffinityTerm": {"labelSelector": {"matchLabels": selector}, "topologyKey": "kubernetes.io/hostname"},
    }


def _container(spec: LoadgenSpec, role: str, args: list[str], cpu_millicores: int) -> dict[str, Any]:
    locust = ["--host", spec.host, "-f", ",".join(f"{CONFIG_DIR}/{name}" for name in spec.locustfiles)]
    common = ["--only-summary", "--exit-code-on-error", "0", "--stop-timeout", str(LOCUST_STOP_TIMEOUT_S)]
    container: dict[str, Any] = {
        "name": f"locust-{role}",
        "image": spec.image,
        "command": ["python", "-m", "hpabench.scenarios.drive.incluster", role],
        "args": ["--config-dir", CONFIG_DIR, "--data-dir", DATA_DIR, *locust, *common, *args],
        "resources": {
            "requests": {"cpu": f"{cpu_millicores}m", "memory": f"{spec.memory_request_mib}Mi"},
            "limits": {"memory": f"{spec.memory_limit_mib}Mi"},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "data", "mountPath": DATA_DIR},
        ],
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 10001},
    }
    return container


def _job(spec: LoadgenSpec, name: str, component: str, container: dict[str, Any], count: int) -> dict[str, Any]:
    affinity = [_away_from(APP_SELECTOR, 50)]
    if component == "worker":
        affinity.insert(0, _away_from(_selector(spec, "worker"), 100))
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels(spec, component)},
        "spec": {
            "parallelism": count,
            "completions": count,
            "backoffLimit": 0,
            "activeDeadlineSeconds": spec.active_deadline_s,
            "template": {
                "metadata": {"labels": labels(spec, component)},
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 15,
                    "enableServiceLinks": False,
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": affinity}},
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "configMap": {"name": NAME}},
                        {"name": "data", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def loadgen_objects(spec: LoadgenSpec) -> list[dict[str, Any]]:
    """See the module docstring; deterministic for a given spec."""
    config = RuntimeConfig(
        spec.config.scenario,
        spec.config.time_scale,
        Path(DATA_DIR),
        spec.workers,
        spec.config.own_locustfile,
        ship_rows=True,
    )
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NAME, "labels": labels(spec)},
        "data": {CONFIG_FILE: json.dumps(config.to_json(), sort_keys=True) + "\n", **spec.locustfiles},
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": MASTER, "labels": labels(spec, "master")},
        "spec": {
            "selector": _selector(spec, "master"),
            "ports": [
                {"name": "locust", "port": LOCUST_PORT, "targetPort": "locust"},
                {"name": "artefacts", "port": ARTEFACT_PORT, "targetPort": "artefacts"},
            ],
        },
    }
    wait_s = str(int(spec.expect_workers_wait_s))
    master_args = ["--master", "--master-bind-port", str(LOCUST_PORT), "--expect-workers", str(spec.workers)]
    master_args += ["--expect-workers-max-wait", wait_s]
    master = _container(spec, "master", master_args, spec.master_cpu_request_millicores)
    master["args"][0:0] = ["--artefact-port", str(ARTEFACT_PORT), "--linger-s", str(int(LINGER_S))]
    master["ports"] = [
        {"name": "locust", "containerPort": LOCUST_PORT},
        {"name": "artefacts", "containerPort": ARTEFACT_PORT},
    ]
    worker_args = ["--worker", "--master-host", MASTER, "--master-port", str(LOCUST_PORT)]
    worker = _container(spec, "worker", worker_args, spec.worker_cpu_request_millicores)
    return [
        config_map,
        service,
        _job(spec, MASTER, "master", master, 1),
        _job(spec, WORKERS, "worker", worker, spec.workers),
    ]


def hpabench_locustfiles(own_locustfile: Path | None) -> dict[str, str]:
    """The locustfiles the pods load (ConfigMap keys → text), in Locust's `-f` order."""
    from hpabench.scenarios.drive.driver import CATALOGUE_LOCUSTFILE, RECORDER_LOCUSTFILE, SHAPE_LOCUSTFILE

    if own_locustfile is None:
        return {CATALOGUE_LOCUSTFILE.name: CATALOGUE_LOCUSTFILE.read_text(encoding="utf-8")}
    return {
        f"user_{own_locustfile.name}": own_locustfile.read_text(encoding="utf-8"),
        SHAPE_LOCUSTFILE.name: SHAPE_LOCUSTFILE.read_text(encoding="utf-8"),
        RECORDER_LOCUSTFILE.name: RECORDER_LOCUSTFILE.read_text(encoding="utf-8"),
    }
