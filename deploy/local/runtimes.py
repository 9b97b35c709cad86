"""Container → local command: how each image runs on this machine (docs/contracts.md).

`plan_pod(...)` turns a workload's pod template into a `PodPlan`: for each (init) container the
argv, the resolved environment, the identity to run as, the stop signal, the probes and the
local port mapping. Runtimes:

* app (`…/refapp:*`): no command → the image's entrypoint, `python -m uvicorn
  hpabench_refapp.main:app --host 127.0.0.1 --port $PORT` followed by the container's `args`
  (uvicorn options; default the image's CMD `--no-access-log`); `python`/`python3` in a command is this
  interpreter (`sys.executable`), so the app runs from the installed package. Each pod gets a
  free port per container port; `PORT` is the first one.
* `postgres:*` / `redis:*`: see postgres.py / redis.py; they listen on the Service's stable
  local port so Service links never change when the pod is replaced.

Identity (when root and `drop_privileges`): PostgreSQL as the `postgres` system user; the app
and Redis as `runAsUser`/`runAsGroup` (default 65534), unless the interpreter is not readable by
other users, in which case the app runs as us and a warning says so.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpabench.deploy.local import postgres, redis
from hpabench.deploy.local.env import PodContext, ServiceLink, resolve_env
from hpabench.deploy.local.ports import PortAllocator
from hpabench.deploy.local.probes import ProbeSpec
from hpabench.deploy.local.procs import RunAs, is_root
from hpabench.deploy.local.resources import Resources
from hpabench.deploy.local.workloads import (
    RUNTIME_APP,
    RUNTIME_POSTGRES,
    RUNTIME_REDIS,
    ClusterSpec,
    ContainerSpec,
    WorkloadSpec,
)
from hpabench.errors import SpecError, SpecIssue

NOBODY = 65534
APP_MODULE = "hpabench_refapp.main:app"
IMAGE_CMD = ("--no-access-log",)  # the image's CMD: default args of its uvicorn entrypoint
# Like the image's ENV: unbuffered logs, no bytecode writes (the image's filesystem is read-only).
IMAGE_ENV = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}

# Prepare step run (in the pod cgroup) before each start of a container; raises on failure.
Prepare = Callable[[list[Path], Path], None]


@dataclass(frozen=True)
class ContainerRun:
    """One container, ready to launch."""

    name: str
    argv: list[str]
    env: dict[str, str]
    run_as: RunAs | None
    stop_signal: int = signal.SIGTERM
    readiness: ProbeSpec | None = None
    liveness: ProbeSpec | None = None
    startup: ProbeSpec | None = None
    prepare: Prepare | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PodPlan:
    """Everything a pod supervisor needs; `ports` maps container port names/numbers → local ports."""

    name: str
    workload: str
    init_containers: tuple[ContainerRun, ...]
    main: ContainerRun
    ports: dict[str | int, int]
    main_port: int | None  # the local port of the first container port (metrics/scrape target)
    grace_s: float
    resources: Resources
    pod_dir: Path
    owned_ports: tuple[int, ...]  # ports allocated for this pod alone (released when it is gone)
    pre_stop_s: float = 0.0  # preStop sleep before the stop signal (counts against grace_s)


@functools.cache
def app_runs_unprivileged() -> bool:
    """Can an unprivileged user run this interpreter (symlinks resolved), its stdlib, the venv
    and the app package? (Not when e.g. the interpreter lives under a 0700 /root/.pyenv.)"""
    spec = importlib.util.find_spec("hpabench_refapp")
    if spec is None or spec.origin is None:
        return False
    paths = [
        Path(sys.executable).resolve(),
        Path(sys.base_prefix) / "lib",
        Path(sys.prefix) / "lib",
        Path(spec.origin).parent,
    ]
    return all(postgres.accessible_to_others(path) for path in paths)


def _identity(container: ContainerSpec, drop: bool) -> RunAs | None:
    if not (drop and is_root()):
        return None
    uid = container.run_as_user if container.run_as_user else NOBODY
    gid = container.run_as_group if container.run_as_group is not None else NOBODY
    return RunAs(uid, gid)


def _app_argv(container: ContainerSpec, port: int) -> list[str]:
    if container.command is None:
        # The image's entrypoint is uvicorn on $PORT; `args` (default: the image's CMD) are
        # extra uvicorn options such as --limit-concurrency (docs/contracts.md).
        options = list(container.args) if container.args is not None else list(IMAGE_CMD)
        return [sys.executable, "-m", "uvicorn", APP_MODULE, "--host", "127.0.0.1", "--port", str(port), *options]
    command = list(container.command) + list(container.args or ())
    head = os.path.basename(command[0])
    if head in ("python", "python3", "python3.11"):
        return [sys.executable, *command[1:]]
    if head == "uvicorn":
        return [sys.executable, "-m", "uvicorn", *command[1:]]
    raise ValueError(f"command {command[0]!r}: the local app runtime runs python or uvicorn commands")


def _probes(container: ContainerSpec) -> dict[str, Any]:
    """ContainerRun keyword arguments for the container's probes."""
    return {
        "readiness": ProbeSpec.parse(container.readiness) if container.readiness else None,
        "liveness": ProbeSpec.parse(container.liveness) if container.liveness else None,
        "startup": ProbeSpec.parse(container.startup) if container.startup else None,
    }


def _port_map(container: ContainerSpec, local: dict[int, int]) -> dict[str | int, int]:
    ports: dict[str | int, int] = {}
    for spec in container.ports:
        ports[spec.container_port] = local[spec.container_port]
        if spec.name:
            ports[spec.name] = local[spec.container_port]
    return ports


def plan_pod(
    cluster: ClusterSpec,
    workload: WorkloadSpec,
    pod_name: str,
    pod_dir: Path,
    services: list[ServiceLink],
    stable_ports: dict[int, int],
    allocator: PortAllocator,
    namespace: str,
    drop_privileges: bool,
) -> PodPlan:
    """The launch plan of one pod. `stable_ports` (container port → local) for single-instance
    runtimes; the app gets fresh ports from `allocator`. Raises SpecError on unsupported commands."""
    main = workload.main
    ref = f"{workload.kind}/{workload.name}"
    owned: list[int] = []
    main_port: int | None
    if workload.runtime == RUNTIME_APP:
        local: dict[int, int] = {}
        for spec in main.ports:
            local[spec.container_port] = allocator.allocate()
            owned.append(local[spec.container_port])
        if not local:
            owned.append(allocator.allocate())
            main_port = owned[0]
        else:
            main_port = local[main.ports[0].container_port]
    else:
        local = dict(stable_ports)
        main_port = local[main.ports[0].container_port] if main.ports else None
    ports = _port_map(main, local)
    ctx = PodContext(
        configmaps=cluster.configmaps,
        secrets=cluster.secrets,
        pod_name=pod_name,
        namespace=namespace,
        services=tuple(services),
    )
    base_env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": "/", "HOSTNAME": pod_name}

    def container_run(container: ContainerSpec, where: str, is_main: bool) -> ContainerRun:
        env = {**base_env, **resolve_env(container.raw, ctx)}
        probes = _probes(container) if is_main else {}
        try:
            if container.runtime == RUNTIME_APP:
                port = main_port or 0
                env = {**IMAGE_ENV, **env, "PORT": str(port)}
                run_as = _identity(container, drop_privileges) if app_runs_unprivileged() else None
                return ContainerRun(container.name, _app_argv(container, port), env, run_as, **probes)
            if container.runtime == RUNTIME_REDIS:
                workdir = pod_dir / "redis"
                argv = redis.server_argv(main_port or 0, workdir, container.command, container.args)
                run_as = _identity(container, drop_privileges)

                def prepare_redis(procs_files: list[Path], log: Path) -> None:
                    workdir.mkdir(parents=True, exist_ok=True)
                    if run_as is not None:
                        os.chown(workdir, run_as.uid, run_as.gid)

                return ContainerRun(container.name, argv, env, run_as, prepare=prepare_redis, **probes)
            if container.runtime == RUNTIME_POSTGRES:
                if container.command and os.path.basename(container.command[0]) not in (
                    "postgres",
                    "docker-entrypoint.sh",
                ):
                    raise ValueError(f"command {container.command[0]!r}: the local postgres runtime runs postgres only")
                postgres.credentials(env)  # fail early on a missing password
                run_as = postgres.server_user() if drop_privileges else None
                data_dir = pod_dir / "data"
                argv = postgres.server_argv(data_dir, main_port or 0, container.args)

                def prepare_pg(procs_files: list[Path], log: Path) -> None:
                    postgres.prepare_data_dir(data_dir, env, run_as, procs_files, log)

                return ContainerRun(
                    container.name, argv, env, run_as, stop_signal=signal.SIGINT, prepare=prepare_pg, **probes
                )
        except ValueError as exc:
            raise SpecError(SpecIssue(ref, where, str(exc))) from None
        raise SpecError(SpecIssue(ref, where, f"no local runtime {container.runtime!r}"))

    base = "spec.template.spec"
    inits = tuple(
        container_run(c, f"{base}.initContainers.{i}", is_main=False) for i, c in enumerate(workload.init_containers)
    )
    return PodPlan(
        name=pod_name,
        workload=workload.name,
        init_containers=inits,
        main=container_run(main, f"{base}.containers.0", is_main=True),
        ports=ports,
        main_port=main_port,
        grace_s=workload.grace_s,
        resources=workload.resources,
        pod_dir=pod_dir,
        owned_ports=tuple(owned),
        pre_stop_s=workload.pre_stop_s,
    )
