"""The stages before the load: render (the run's rendered objects and planned curve), deploy on
the target, warm up the deployment.

Each function takes the `stage` callback of the pipeline (`stage(name, state, **extra)`: the
event, the console line, the fault point), so the stage boundaries are recorded one way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from hpabench.console import Console
from hpabench.run_inputs import Resolved
from hpabench.rundir import RunDir
from hpabench.target import Deployed

StageMark = Callable[..., None]
"""`stage(name, state, **extra)`: records a stage boundary (see `Pipeline._stage`)."""

WARMUP_TIMEOUT_S = 20.0
# The web Deployment names the requests that warm it up (pools, caches), so the pipeline does
# not hard-code the reference app's routes: a space-separated list of paths.
WARMUP_ANNOTATION = "hpabench.dev/warmup-paths"
DEFAULT_WARMUP_PATHS = ("/",)


def write_rendered(run: RunDir, objects: list[dict[str, Any]]) -> None:
    from hpabench.deploy.render import write_rendered as write_objects

    write_objects(run.path, objects)


def write_planned(run: RunDir, load_plan: Any, shape_plan: Any = None) -> float:
    """planned.parquet from the compiled plan (the same per-second sampling as load.parquet), or
    from a locustfile's own shape when it brings one; returns the planned length in run seconds."""
    if shape_plan is not None:
        from hpabench.scenarios.drive.own_shape import planned_frame

        planned_frame(shape_plan).to_parquet(run.data / "planned.parquet", index=False)
        return float(shape_plan.duration_s)
    load_plan.per_second().to_parquet(run.data / "planned.parquet", index=False)
    return float(load_plan.duration_s)


def render(run: RunDir, resolved: Resolved, shape_plan: Any, stage: StageMark) -> None:
    """The render stage: rendered/ and planned.parquet, before anything is started."""
    stage("render", "started")
    write_rendered(run, resolved.objects)
    planned_s = write_planned(run, resolved.plan, shape_plan)
    stage("render", "finished", planned_duration_s=planned_s)


def deploy(
    run: RunDir, resolved: Resolved, console: Console, stage: StageMark, started: Callable[[Deployed], None]
) -> Deployed:
    """The deploy stage: the target starts the rendered objects; their URLs go on the stack record.
    `started` receives the deployment as soon as it exists, before anything else can fail (a
    signal at `deploy.finished`), so the caller's teardown always has it to stop."""
    stage("deploy", "started")
    deployed = resolved.target.start(resolved.objects, run, console.info)
    started(deployed)
    console.info(f"    service:    {deployed.service_url}")
    console.info(f"    prometheus: {deployed.prometheus_url}")
    run.stack.set_urls(service=deployed.service_url, prometheus=deployed.prometheus_url)
    stage("deploy", "finished")
    return deployed


def warmup_paths(objects: list[dict[str, Any]], workload: str = "web") -> list[str]:
    """The warm-up requests the web workload declares (annotation `WARMUP_ANNOTATION`), else "/"."""
    for obj in objects:
        if obj.get("kind") in ("Deployment", "StatefulSet") and (obj.get("metadata") or {}).get("name") == workload:
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            declared = str(annotations.get(WARMUP_ANNOTATION, "")).split()
            if declared:
                return declared
    return list(DEFAULT_WARMUP_PATHS)


def warm_up(service_url: str, paths: list[str], console: Console) -> None:
    """A few requests on every declared route so first-request costs (pools, caches) are not measured."""
    deadline = time.monotonic() + WARMUP_TIMEOUT_S
    with httpx.Client(base_url=service_url, timeout=5.0) as client:
        for path in paths:
            if time.monotonic() > deadline:
                console.warn("warm-up took too long; continuing")
                return
            try:
                client.get(path)
            except httpx.HTTPError as exc:
                console.warn(f"warm-up request {path} failed: {exc}")


def warm_up_stage(deployed: Deployed, objects: list[dict[str, Any]], console: Console, stage: StageMark) -> None:
    """The warm-up stage (its requests are not part of the measured load)."""
    stage("warmup", "started")
    warm_up(deployed.service_url, warmup_paths(objects), console)
    stage("warmup", "finished")
