"""The Locust pods' own program on loopback: the commands `loadgen_objects` renders, run for real.

The master and worker containers' command and args, taken from the rendered Jobs, are run as local
processes (the ConfigMap written to a folder, each "pod" with its own data folder, the master's
Service name and ports mapped to loopback): the master waits for its worker, the load runs, the
master keeps serving its folder after Locust exits, and `HttpMasterLink` copies the workers' rows
from it — then `/done` lets it exit with Locust's code.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpabench.contract import LOCUST_CSV_FILES, LOCUST_HTML
from hpabench.deploy.k8s.incluster_driver import HttpMasterLink
from hpabench.deploy.k8s.loadgen import (
    CONFIG_DIR,
    DATA_DIR,
    LOCUST_PORT,
    MASTER,
    LoadgenSpec,
    hpabench_locustfiles,
    loadgen_objects,
)
from hpabench.scenarios.drive.driver import _free_port
from hpabench.scenarios.drive.locust_runtime import RuntimeConfig
from hpabench.scenarios.spec import Scenario

from .test_driver_app import served_app
from .test_locust_messages import kill_groups

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with served_app() as url:
        yield url


def _command(container: dict, mapping: dict[str, str]) -> list[str]:
    args = [mapping.get(a, a.replace(CONFIG_DIR, mapping[CONFIG_DIR])) for a in container["args"]]
    return [sys.executable, *container["command"][1:], *args]


def test_the_rendered_pod_commands_run_a_distributed_load_and_serve_the_artefacts(tmp_path: Path, server: str) -> None:
    scenario = Scenario.model_validate(
        {
            "name": "pods",
            "description": "in-cluster commands on loopback",
            "stages": [{"name": "a", "duration_s": 3, "users": 3}],
            "think_time": {"mean_s": 0.2, "jitter": 0.5},
        }
    )
    spec = LoadgenSpec("run-1", RuntimeConfig(scenario, 1.0, Path("/x"), 1), hpabench_locustfiles(None), server, 1)
    config_map, _, master_job, worker_job = loadgen_objects(spec)
    config_dir = tmp_path / "configmap"
    config_dir.mkdir()
    for name, text in config_map["data"].items():
        (config_dir / name).write_text(text)
    locust_port, artefact_port = _free_port(), _free_port()
    procs = []
    for job, folder in ((master_job, tmp_path / "master"), (worker_job, tmp_path / "worker")):
        mapping = {
            CONFIG_DIR: str(config_dir),
            DATA_DIR: str(folder),
            str(LOCUST_PORT): str(locust_port),
            "8089": str(artefact_port),
            MASTER: "127.0.0.1",
        }
        command = _command(job["spec"]["template"]["spec"]["containers"][0], mapping)
        if "master" in command:
            command += ["--master-bind-host", "127.0.0.1"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
        log = (tmp_path / f"{folder.name}.out").open("wb")
        procs.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        log.close()
    link = HttpMasterLink(f"http://127.0.0.1:{artefact_port}")
    try:
        deadline, status = time.time() + 60, {}
        while time.time() < deadline:
            with contextlib.suppress(OSError, ValueError):
                status = link.status()
                if status.get("state") == "finished":
                    break
            time.sleep(0.3)
        assert status.get("state") == "finished", (tmp_path / "master.out").read_text()[-2000:]
        assert status["exit_code"] == 0 and status["clock"]["workers"] == 1
        assert "client_stats.worker-1.jsonl" in status["files"] and "locust.master.log" in status["files"]
        assert {*LOCUST_CSV_FILES, LOCUST_HTML} <= set(status["files"])  # Locust's own reports, served too
        rows = [json.loads(line) for line in link.fetch("client_stats.worker-1.jsonl").decode().splitlines()]
        assert sum(r["requests"] for r in rows if r["route"] == "ALL") > 5
        link.done()
        assert procs[0].wait(timeout=15) == 0
        assert procs[1].wait(timeout=15) == 0
    finally:
        link.close()
        kill_groups(procs)
    assert not list((tmp_path / "worker").glob("*.jsonl"))  # the worker's rows live only on the master
