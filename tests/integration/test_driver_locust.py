"""The driver with real Locust against a real HTTP server (uvicorn + Starlette on 127.0.0.1).

Short compressed runs: the data files are written, the achieved load follows the plan, the
client's request count matches the server's own count, distributed mode and a user's own
locustfile work, and a broken locustfile fails cleanly without leaving processes behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest

from hpabench.contract import LOCUST_CSV_FILES, LOCUST_HTML
from hpabench.errors import LoadDriverError
from hpabench.rundir import EventLog, read_events
from hpabench.scenarios.drive.driver import DriverConfig, DriverResult, run_load
from hpabench.scenarios.spec import Scenario

from .test_driver_app import served_app, server_count

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with served_app() as url:
        yield url


def scenario(stages: list[dict[str, Any]], **extra: Any) -> Scenario:
    spec = {
        "name": "it",
        "description": "integration",
        "stages": stages,
        "think_time": {"mean_s": 0.2, "jitter": 0.5},
        "mix": {"cpu": {"weight": 0.1, "cost": 200}},
        **extra,
    }
    return Scenario.model_validate(spec)


def drive(run_dir: Path, server: str, s: Scenario, **config: Any) -> tuple[DriverResult, dict[str, int]]:
    """Run the driver; return its result and the server's count of requests it answered."""
    before = server_count(server)
    run_dir.mkdir(parents=True, exist_ok=True)
    events = EventLog(run_dir / "events.jsonl")
    lines: list[str] = []
    try:
        result = run_load(
            DriverConfig(scenario=s, host=server, data_dir=run_dir / "data", events=events, **config),
            progress=lines.append,
        )
    finally:
        events.close()
    assert lines, "the driver printed no progress line"
    after = server_count(server)
    assert_no_locust_left(run_dir / "data")
    return result, {key: value - before.get(key, 0) for key, value in after.items()}


def assert_no_locust_left(data_dir: Path) -> None:
    leftovers = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        try:
            if proc.info["cwd"] == str(data_dir) and "locust" in " ".join(proc.info["cmdline"] or []):
                leftovers.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    assert leftovers == []


def assert_locust_reports(data_dir: Path, requests: int, distributed: bool = False) -> None:
    """Locust's own CSV and HTML reports are kept in data/, from the process holding the stats."""
    for name in (*LOCUST_CSV_FILES, LOCUST_HTML):
        assert (data_dir / name).stat().st_size > 0, name
    stats = pd.read_csv(data_dir / "locust_stats.csv")
    counted = int(stats[stats["Name"] == "Aggregated"]["Request Count"].iloc[0])
    if distributed:
        # Locust's master stops before the workers' last stats report (every 3 s) reaches it.
        assert 0.5 * requests <= counted <= requests
    else:
        # standalone: Locust counts what the recorder counted (both see every completed request)
        assert abs(counted - requests) <= max(2, 0.02 * requests)
    assert "<html" in (data_dir / LOCUST_HTML).read_text(encoding="utf-8")[:2000].lower()


def in_plan(load: pd.DataFrame) -> pd.DataFrame:
    return load[load["stage"].notna()]


def test_closed_model_run_follows_the_plan_and_counts_match(tmp_path: Path, server: str) -> None:
    s = scenario(
        [{"name": "low", "duration_s": 16, "users": 4}, {"name": "high", "duration_s": 16, "users": 20}],
    )
    result, served = drive(tmp_path, server, s, time_scale=0.25)  # 8 s in total
    data = tmp_path / "data"
    for name in ("client_stats.parquet", "load.parquet", "client_stats.main.jsonl", "load.main.jsonl"):
        assert (data / name).stat().st_size > 0, name
    assert not result.interrupted and result.flags == []
    assert result.exit_codes == {"main": 0}
    assert 7.5 <= result.ended_at - result.started_at <= 11.0

    client = pd.read_parquet(data / "client_stats.parquet")
    total = client[client["route"] == "ALL"]
    # the server answered exactly what the client recorded (users finish in-flight requests)
    assert abs(int(total["requests"].sum()) - served["total"]) <= max(2, 0.02 * served["total"])
    assert result.requests == int(total["requests"].sum()) and result.failures == 0
    assert_locust_reports(data, result.requests)
    assert set(client["route"]) <= {"ALL", "hot_read", "cold_read", "write", "cpu"}
    assert {"hot_read", "cpu"} <= set(client["route"])

    load = pd.read_parquet(data / "load.parquet")
    planned = in_plan(load)
    assert planned["stage"].tolist() == ["low"] * 4 + ["high"] * 4
    # rows are aligned to the load start: ts - started_at are whole seconds
    offsets = (planned["ts"] - result.started_at).round(6).tolist()
    assert offsets == [float(k) for k in range(8)]
    # users follow the plan (allow the first second of each stage for spawning)
    steady = planned.groupby("stage").tail(3)
    assert (steady["users"] == steady["planned_users"]).all()
    low = planned[planned["stage"] == "low"]["achieved_rps"].iloc[1:].mean()
    high = planned[planned["stage"] == "high"]["achieved_rps"].iloc[1:].mean()
    assert 3.0 <= high / low <= 6.5  # 5x the users, each ~0.2 s think time
    assert (planned["generator_cpu_max"] > 0).all() and not planned["generator_overloaded"].any()

    stages = [e for e in read_events(tmp_path) if e["kind"] == "load_stage"]
    assert [(e["name"], e["users"]) for e in stages] == [("low", 4), ("high", 20)]
    assert stages[1]["ts"] - stages[0]["ts"] == pytest.approx(4.0)


def test_open_model_run_offers_the_planned_rate(tmp_path: Path, server: str) -> None:
    s = scenario(
        [{"name": "calm", "duration_s": 5, "rps": 20}, {"name": "busy", "duration_s": 5, "rps": 80}],
        arrivals={"process": "poisson", "concurrency_s": 0.5, "max_users": 60},
    )
    result, served = drive(tmp_path, server, s)
    load = in_plan(pd.read_parquet(tmp_path / "data" / "load.parquet"))
    assert result.flags == []
    for stage, rate in (("calm", 20), ("busy", 80)):
        rows = load[load["stage"] == stage]
        assert rows["planned_rps"].eq(rate).all()
        # Poisson arrivals: ±3 sd over the 5 s of each stage
        sd = (rate * 5) ** 0.5
        assert abs(rows["intended_rps"].sum() - rate * 5) <= 3 * sd + 2
        assert rows["achieved_rps"].sum() >= 0.97 * rows["intended_rps"].sum()
        assert rows["dropped_rps"].sum() == 0
    assert load["users"].max() == 40  # the pool: 80 req/s x 0.5 s
    client = pd.read_parquet(tmp_path / "data" / "client_stats.parquet")
    recorded = int(client[client["route"] == "ALL"]["requests"].sum())
    assert abs(recorded - served["total"]) <= max(2, 0.02 * served["total"])
    assert abs(recorded - 500) <= 3 * 500**0.5 + 5


def test_distributed_mode_with_two_workers(tmp_path: Path, server: str) -> None:
    s = scenario([{"name": "a", "duration_s": 3, "users": 6}, {"name": "b", "duration_s": 3, "users": 12}])
    result, served = drive(tmp_path, server, s, workers=2)
    data = tmp_path / "data"
    assert result.processes == ("master", "worker-1", "worker-2")
    assert all(code == 0 for code in result.exit_codes.values())
    assert (data / "client_stats.worker-1.jsonl").exists() and (data / "client_stats.worker-2.jsonl").exists()
    assert not (data / "client_stats.master.jsonl").exists()  # the master sends no requests
    assert_locust_reports(data, result.requests, distributed=True)  # the master's, from the workers' stats
    load = pd.read_parquet(data / "load.parquet")
    planned = in_plan(load)
    assert planned.groupby("stage").tail(1)["users"].tolist() == [6, 12]  # summed over both workers
    client = pd.read_parquet(data / "client_stats.parquet")
    recorded = int(client[client["route"] == "ALL"]["requests"].sum())
    assert recorded > 50
    assert abs(recorded - served["total"]) <= max(2, 0.02 * served["total"])
    for worker in ("worker-1", "worker-2"):
        rows = [json.loads(line) for line in (data / f"client_stats.{worker}.jsonl").read_text().splitlines()]
        assert sum(row["requests"] for row in rows if row["route"] == "ALL") > 10  # both did work


OWN_LOCUSTFILE = """
from locust import LoadTestShape, constant, task
from locust.contrib.fasthttp import FastHttpUser


class Shopper(FastHttpUser):
    wait_time = constant(0.1)

    @task
    def browse(self):
        self.client.get("/items/7", name="browse")
"""

OWN_SHAPE = """

class TwoSteps(LoadTestShape):
    def tick(self):
        run_time = self.get_run_time()
        if run_time < 3:
            return (2, 10)
        if run_time < 6:
            return (5, 10)
        return None
"""


def test_own_locustfile_with_its_own_shape(tmp_path: Path, server: str) -> None:
    locustfile = tmp_path / "mine.py"
    locustfile.write_text(OWN_LOCUSTFILE + OWN_SHAPE)
    # the scenario is longer than the user's shape: the user's shape decides when load ends
    s = scenario([{"name": "long", "duration_s": 60, "users": 50}])
    result, served = drive(tmp_path / "run", server, s, locustfile=locustfile)
    data = tmp_path / "run" / "data"
    assert result.ended_at - result.started_at < 12
    client = pd.read_parquet(data / "client_stats.parquet")
    assert set(client["route"]) == {"ALL", "browse"}
    recorded = int(client[client["route"] == "ALL"]["requests"].sum())
    assert abs(recorded - served["total"]) <= max(2, 0.02 * served["total"])
    assert served.get("items", 0) == served["total"] > 0
    load = pd.read_parquet(data / "load.parquet")
    assert load["users"].max() == 5
    assert (load["achieved_rps"] == load["completed_rps"]).all()  # no send counts from foreign users


def test_own_locustfile_without_a_shape_follows_the_scenario(tmp_path: Path, server: str) -> None:
    locustfile = tmp_path / "mine.py"
    locustfile.write_text(OWN_LOCUSTFILE)
    s = scenario([{"name": "a", "duration_s": 3, "users": 3}, {"name": "b", "duration_s": 3, "users": 6}])
    result, served = drive(tmp_path / "run", server, s, locustfile=locustfile)
    load = in_plan(pd.read_parquet(tmp_path / "run" / "data" / "load.parquet"))
    assert load.groupby("stage").tail(1)["users"].tolist() == [3, 6]
    assert served["total"] > 30
    assert 5.5 <= result.ended_at - result.started_at <= 9


def test_broken_locustfile_fails_cleanly(tmp_path: Path, server: str) -> None:
    locustfile = tmp_path / "broken.py"
    locustfile.write_text('raise RuntimeError("this locustfile exploded")\n')
    s = scenario([{"name": "a", "duration_s": 5, "users": 1}])
    with pytest.raises(LoadDriverError, match="exited with code") as info:
        run_load(DriverConfig(scenario=s, host=server, data_dir=tmp_path / "data", locustfile=locustfile))
    assert "this locustfile exploded" in str(info.value)  # the log's tail says what went wrong
    assert_no_locust_left(tmp_path / "data")


def test_refuses_a_data_dir_with_an_earlier_run(tmp_path: Path, server: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "client_stats.main.jsonl").write_text("")
    s = scenario([{"name": "a", "duration_s": 1, "users": 1}])
    with pytest.raises(LoadDriverError, match="already holds load data"):
        run_load(DriverConfig(scenario=s, host=server, data_dir=data))
    assert not (data / "locust.main.log").exists()  # nothing was started
