"""Ctrl-C (SIGINT) to a process running the driver: data kept, result `interrupted`, nothing left."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from .test_driver_app import served_app

pytestmark = pytest.mark.integration

DRIVER_SCRIPT = """
import json, sys
from pathlib import Path
from hpabench.scenarios.drive.driver import DriverConfig, run_load
from hpabench.scenarios.spec import Scenario

scenario = Scenario.model_validate(json.loads(sys.argv[1]))
config = DriverConfig(scenario=scenario, host=sys.argv[2], data_dir=Path(sys.argv[3]), workers=int(sys.argv[4]))
result = run_load(config)
print(json.dumps({"interrupted": result.interrupted, "requests": result.requests,
                  "started_at": result.started_at, "ended_at": result.ended_at,
                  "exit_codes": result.exit_codes}))
"""

# Long enough that the interrupt always lands mid-run, however slow a busy machine starts Locust.
PLANNED_S = 300
# Generous: a shared 2-core runner with another job on it starts Locust several times slower.
DEADLINE_S = 150

SCENARIO = {
    "name": "long",
    "description": "five minutes of load, interrupted after a few seconds",
    "stages": [{"name": "steady", "duration_s": PLANNED_S, "users": 5}],
    "think_time": {"mean_s": 0.1},
}


def wait_for(condition: object, timeout_s: float, explain: object = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; {explain() if callable(explain) else ''}")
        time.sleep(0.1)


def diagnosis(data_dir: Path, driver: subprocess.Popen[str]) -> str:
    """What the driver left so far: its files and the tail of every Locust log (for a failure)."""
    if not data_dir.is_dir():
        return f"no data dir; driver exit code {driver.poll()}"
    files = sorted(p.name for p in data_dir.iterdir())
    logs = {p.name: p.read_text(errors="replace")[-1500:] for p in data_dir.glob("locust.*.log")}
    return f"driver exit code {driver.poll()}; files {files}; logs {logs}"


def load_lines(data_dir: Path) -> int:
    return sum(len(path.read_text().splitlines()) for path in data_dir.glob("load.*.jsonl"))


def _interrupt_after_some_load(
    driver: subprocess.Popen[str], data_dir: Path, workers: int
) -> tuple[float, list[psutil.Process], str, str]:
    """Wait for a few measured seconds, note the Locust processes, Ctrl-C, and collect the output.
    Returns (when interrupted, the Locust processes, stdout, stderr); kills the driver on failure."""
    try:
        wait_for(
            lambda: data_dir.is_dir() and load_lines(data_dir) >= 3 * (workers or 1),
            timeout_s=DEADLINE_S,
            explain=lambda: diagnosis(data_dir, driver),
        )
        children = psutil.Process(driver.pid).children(recursive=True)
        assert len(children) == (1 if workers == 0 else 1 + workers)
        interrupted_at = time.time()
        driver.send_signal(signal.SIGINT)
        out, err = driver.communicate(timeout=DEADLINE_S)
        return interrupted_at, children, out, err
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()


@pytest.mark.parametrize("workers", [0, 2])
def test_sigint_keeps_data_and_leaves_no_process(tmp_path: Path, workers: int) -> None:
    data_dir = tmp_path / "data"
    # Popen as a context manager: the pipes are closed even when an assertion fails (no leaked file).
    with (
        served_app() as url,
        subprocess.Popen(
            [sys.executable, "-c", DRIVER_SCRIPT, json.dumps(SCENARIO), url, str(data_dir), str(workers)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as driver,
    ):
        interrupted_at, children, out, err = _interrupt_after_some_load(driver, data_dir, workers)
    assert driver.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["interrupted"] is True
    assert result["requests"] > 10
    assert result["ended_at"] - result["started_at"] < PLANNED_S / 2  # stopped long before the plan's end
    assert result["ended_at"] <= interrupted_at + DEADLINE_S / 5  # the stop itself, not the rest of the plan
    assert all(code is not None for code in result["exit_codes"].values())
    # every Locust process is gone — not merely orphaned
    alive = [child.pid for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    # what was measured is kept, in both the incremental and the merged form
    client = pd.read_parquet(data_dir / "client_stats.parquet")
    load = pd.read_parquet(data_dir / "load.parquet")
    assert int(client[client["route"] == "ALL"]["requests"].sum()) == result["requests"]
    assert len(load) >= 3 and (load["stage"] == "steady").sum() >= 3
    assert list(data_dir.glob("client_stats.*.jsonl"))
