"""The collect stage: the metric profile's series read from the deployment's Prometheus over the
load window (plus margins) into `data/prom/`.

The collector is a seam (`Collector`, default `hpabench.analysis.collect.collect`); a query that
fails or has no samples is a warning event, never a lost run. `collect_best_effort` is the form
used after an interruption or a failure: whatever goes wrong there is recorded, not raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from hpabench.console import Console
from hpabench.errors import HpabenchError
from hpabench.run_inputs import RunOptions, rate_window_variables
from hpabench.rundir import RunDir
from hpabench.stage_deploy import StageMark
from hpabench.target import Deployed

Collector = Callable[..., Any]
"""`collector(data_dir, prometheus_url, start_ts, end_ts, variables=...) -> CollectResult`."""
BEFORE_LOAD_S = 30.0  # the series' state before the load started (baseline replicas, idle CPU)
AFTER_LOAD_S = 5.0


def collect(
    run: RunDir,
    deployed: Deployed | None,
    load_window: tuple[float, float] | None,
    options: RunOptions,
    console: Console,
    stage: StageMark,
    collector: Collector | None = None,
) -> None:
    """Collect when there is a deployment and a load window (else nothing ran to collect)."""
    from hpabench.analysis.collect import collect as collect_from_prometheus

    if deployed is None or load_window is None:
        return
    collect_series = collector or collect_from_prometheus
    stage("collect", "started")
    # Let Prometheus take one more scrape so the last seconds of load are in its TSDB.
    time.sleep(options.scrape_interval_s + 1.0)
    start, end = load_window
    result = collect_series(
        run.data,
        deployed.prometheus_url,
        start - BEFORE_LOAD_S,
        end + AFTER_LOAD_S,
        # The profile's series are scoped to the run's namespace (per run on a cluster).
        variables={**rate_window_variables(options.scrape_interval_s), "namespace": deployed.namespace},
    )
    for warning in result.warnings:
        run.events.emit("warning", message=str(warning))
        # An empty series is usually good news (no 5xx at all); only failures deserve a WARNING.
        if not any(f"{name!r}" in warning for name in result.empty):
            console.warn(str(warning))
    if result.empty:
        console.info(f"    no samples in the run window (normal when e.g. nothing failed): {', '.join(result.empty)}")
    stage("collect", "finished")


def collect_best_effort(
    run: RunDir,
    deployed: Deployed | None,
    load_window: tuple[float, float] | None,
    options: RunOptions,
    console: Console,
    stage: StageMark,
    collector: Collector | None = None,
) -> None:
    """`collect`, with its failure recorded as a warning (the run is already failing or stopping)."""
    try:
        collect(run, deployed, load_window, options, console, stage, collector)
    except (HpabenchError, OSError, httpx.HTTPError, ValueError) as exc:
        run.events.emit("warning", message=f"collection failed: {exc}")
        console.warn(f"collection failed: {exc}")
