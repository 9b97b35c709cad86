"""Locust's custom messages carry t0 and the rows between a master and a worker sharing no folder.

A real master and a real worker on loopback, each with its own data folder (as pods are): the
worker takes t0 from the master's `hpabench_clock` message, ships its rows (`ship_rows`), and the
master's folder ends with the worker's `client_stats` / `load` files aligned to the master's t0;
the worker's folder stays empty of load data.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpabench.scenarios.drive.driver import CATALOGUE_LOCUSTFILE, _free_port
from hpabench.scenarios.drive.locust_runtime import CONFIG_FILE, ENV_CONFIG, ENV_PROCESS, RuntimeConfig, read_clock
from hpabench.scenarios.spec import Scenario

from .test_driver_app import served_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with served_app() as url:
        yield url


def kill_groups(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGKILL the process group of every process still running (each runs in its own session)."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _locust(folder: Path, name: str, host: str, extra: list[str]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env.update({ENV_CONFIG: str(folder / CONFIG_FILE), ENV_PROCESS: name, "PYTHONUNBUFFERED": "1"})
    command = [sys.executable, "-m", "locust", "-f", str(CATALOGUE_LOCUSTFILE), "--headless", "--host", host]
    with (folder / f"locust.{name}.log").open("ab") as log:
        return subprocess.Popen(
            [*command, "--only-summary", "--stop-timeout", "2", *extra],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_a_worker_without_the_masters_folder_gets_t0_and_ships_its_rows(tmp_path: Path, server: str) -> None:
    spec = {
        "name": "msg",
        "description": "messages",
        "stages": [{"name": "a", "duration_s": 3, "users": 4}],
        "think_time": {"mean_s": 0.2, "jitter": 0.5},
    }
    scenario = Scenario.model_validate(spec)
    master_dir, worker_dir = tmp_path / "master", tmp_path / "worker"
    for folder in (master_dir, worker_dir):
        folder.mkdir()
        RuntimeConfig(scenario, 1.0, folder, generators=1, ship_rows=True).write(folder / CONFIG_FILE)
    port = _free_port()
    master_args = ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
    procs = [_locust(master_dir, "master", server, [*master_args, "--expect-workers", "1"])]
    procs.append(_locust(worker_dir, "worker-x", server, ["--worker", "--master-port", str(port)]))
    try:
        procs[0].wait(timeout=60)
        procs[1].wait(timeout=20)
    finally:
        kill_groups(procs)
    assert procs[0].returncode == 0, (master_dir / "locust.master.log").read_text()
    t0 = float(read_clock(master_dir)["t0"])
    assert t0 < time.time()
    # The worker named itself from Locust's index; its rows are in the master's folder, on the master's clock.
    rows = [json.loads(line) for line in (master_dir / "client_stats.worker-1.jsonl").read_text().splitlines()]
    assert sum(r["requests"] for r in rows if r["route"] == "ALL") > 10
    assert all(abs(r["ts"] - t0 - r["t_s"]) < 1e-6 for r in rows)
    load = [json.loads(line) for line in (master_dir / "load.worker-1.jsonl").read_text().splitlines()]
    assert load and all(r["role"] == "worker" and r["process"] == "worker-1" for r in load)
    assert min(r["t_s"] for r in load) <= 0  # the worker knew t0 before its first second
    # Nothing of the load is in the worker's own folder, and it never had to guess t0.
    assert not read_clock(worker_dir)
    assert sorted(p.name for p in worker_dir.glob("*.jsonl")) == []
    assert "hpabench_clock" not in (worker_dir / "locust.worker-x.log").read_text()
