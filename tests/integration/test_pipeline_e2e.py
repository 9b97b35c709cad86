"""The whole pipeline on the local target, end to end, with compressed scenarios.

Two compressed spike runs (baseline and fast-scale-up variants), a compressed step run and an
interrupted run: artefacts of the run-directory contract exist, achieved load followed the plan,
client and server request counts agree, the comparison and the gate work on real runs, and an
interrupted run leaves nothing behind and is marked `interrupted`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpabench.cli import main
from hpabench.console import Console
from hpabench.contract import LOCUST_CSV_FILES, LOCUST_HTML
from hpabench.pipeline import RunOptions, RunOutcome, run_benchmark
from hpabench.rundir import read_events
from hpabench.scenarios.catalogue import load_scenario

from .test_local_support import processes_using

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TIME_SCALE = 0.15  # spike: 255 s planned → ~38 s of load
# Short controller settings so the compressed run shows a full scale-up.
FAST_HPA = {"sync_period_s": 3.0, "metrics_window_s": 5.0, "downscale_stabilization_s": 20.0}


def _run(reports: Path, scenario: str, variant: str | None = None) -> RunOutcome:
    options = RunOptions(
        scenario=scenario,
        variant=ROOT / "deploy" / "variants" / variant if variant else None,
        time_scale=TIME_SCALE,
        reports_dir=reports,
        scrape_interval_s=2.0,
        hpa_overrides=FAST_HPA,
    )
    return run_benchmark(options, Console(quiet=True))


@pytest.fixture(scope="module")
def spike_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunOutcome, RunOutcome]]:
    reports = tmp_path_factory.mktemp("reports")
    baseline = _run(reports, "spike")
    fast = _run(reports, "spike", "fast-scale-up.yaml")
    yield baseline, fast
    assert processes_using(reports) == []


def _server_requests(run_path: Path) -> float:
    """Requests the web pods served during the load phase, from each pod's own counter.

    A pod that existed before the load started counts from its last sample before the start; a
    pod started later counts from 0 (the app's counter starts at 0 with the process).
    """
    load_started_at = json.loads((run_path / "manifest.json").read_text())["load_started_at"]
    frame = pd.read_parquet(run_path / "data" / "prom" / "server_requests_total_by_pod.parquet")
    total = 0.0
    for _pod, series in frame.sort_values("ts").groupby("pod"):
        before = series[series["ts"] <= load_started_at]
        start_value = float(before["value"].iloc[-1]) if len(before) else 0.0
        total += float(series["value"].iloc[-1]) - start_value
    return total


def test_spike_run_writes_the_run_directory_contract(spike_runs: tuple[RunOutcome, RunOutcome]) -> None:
    outcome = spike_runs[0]
    assert outcome.status == "completed" and outcome.exit_code == 0
    run = outcome.run_path
    for name in ("manifest.json", "events.jsonl", "summary.json", "report.html", "rendered/all.yaml"):
        assert (run / name).is_file(), name
    for name in ("client_stats.parquet", "load.parquet", "planned.parquet", "hpa.parquet", "pods.parquet"):
        assert (run / "data" / name).is_file(), name
    for name in (*LOCUST_CSV_FILES, LOCUST_HTML):  # Locust's own reports, kept beside ours
        assert (run / "data" / name).stat().st_size > 0, name
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["load_started_at"] < manifest["load_ended_at"] < manifest["finished_at"]
    assert manifest["versions"]["postgres"] and manifest["versions"]["haproxy"]
    assert manifest["hpa_settings"]["sync_period_s"] == 3.0
    stages = [(e["stage"], e["state"]) for e in read_events(run) if e["kind"] == "stage"]
    order = [name for name, state in stages if state == "started"]
    assert order == ["render", "deploy", "warmup", "load", "collect", "teardown"]


def test_achieved_load_followed_the_plan(spike_runs: tuple[RunOutcome, RunOutcome]) -> None:
    run = spike_runs[0].run_path
    load = pd.read_parquet(run / "data" / "load.parquet")
    planned = load["planned_users"].to_numpy()
    users = load["users"].to_numpy()
    # Allow the spawn ramp: at most a few seconds disagree with the plan.
    mismatched = np.abs(users - planned) > 0.1 * np.maximum(planned, 1)
    assert mismatched.mean() < 0.2, load[["stage", "planned_users", "users"]].to_string()
    peak = load_scenario("spike").stages[1]
    assert peak.name == "spike"
    assert users.max() == pytest.approx(peak.users, abs=1)


def test_client_and_server_request_counts_agree(spike_runs: tuple[RunOutcome, RunOutcome]) -> None:
    run = spike_runs[0].run_path
    summary = json.loads((run / "summary.json").read_text())
    client = summary["kpis"]["requests"]["value"]
    server = _server_requests(run)
    assert client > 1000
    assert server == pytest.approx(client, rel=0.05)


def test_spike_made_the_hpa_scale_up(spike_runs: tuple[RunOutcome, RunOutcome]) -> None:
    run = spike_runs[0].run_path
    rescales = [e for e in read_events(run) if e["kind"] == "hpa_rescale"]
    assert rescales and rescales[0]["to"] > rescales[0]["from"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["kpis"]["max_replicas"]["value"] >= 2
    assert summary["kpis"]["scale_up_reaction_s"]["value"] is not None


def test_compare_and_gate_real_runs(spike_runs: tuple[RunOutcome, RunOutcome], tmp_path: Path) -> None:
    baseline_run, fast_run = (outcome.run_path for outcome in spike_runs)
    out = tmp_path / "compare.html"
    assert main(["compare", str(baseline_run), str(fast_run), "--out", str(out)]) == 0
    html = out.read_text()
    assert "baseline" in html and "fast-scale-up" in html
    baseline_file = tmp_path / "baseline.json"
    assert main(["baseline", str(baseline_run), "--out", str(baseline_file)]) == 0
    junit = tmp_path / "junit.xml"
    code = main(["gate", str(fast_run), "--baseline", str(baseline_file), "--junit", str(junit)])
    assert code in (0, 3)
    assert "<testsuite" in junit.read_text()
    impossible = tmp_path / "impossible.yaml"
    impossible.write_text("thresholds:\n  - p95_ms < 0.001\n")
    assert main(["gate", str(fast_run), "--baseline", str(baseline_file), "--thresholds", str(impossible)]) == 3


def test_report_rebuilds_offline(spike_runs: tuple[RunOutcome, RunOutcome]) -> None:
    run = spike_runs[1].run_path
    (run / "report.html").unlink()
    (run / "summary.json").unlink()
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").stat().st_size > 10_000
    assert json.loads((run / "summary.json").read_text())["variant"] == "fast-scale-up"


def test_step_run_follows_each_step(tmp_path: Path) -> None:
    outcome = _run(tmp_path, "step")
    assert outcome.status == "completed"
    load = pd.read_parquet(outcome.run_path / "data" / "load.parquet")
    by_stage = load.groupby("stage")["users"].max()
    planned = load.groupby("stage")["planned_users"].max()
    assert len(by_stage) >= 4
    assert (by_stage - planned).abs().max() <= 1
    assert processes_using(tmp_path) == []


def _interrupt_during_load(proc: subprocess.Popen[str], reports: Path) -> str:
    """Ctrl-C the run 8 s into its load stage; returns its output (kills it on any failure)."""
    try:
        deadline = time.monotonic() + 300  # deploy on a busy shared runner can take minutes
        load_seen_at = None
        while time.monotonic() < deadline and proc.poll() is None:
            runs = list(reports.iterdir()) if reports.is_dir() else []
            events = read_events(runs[0]) if runs else []
            if load_seen_at is None and any(e.get("stage") == "load" for e in events):
                load_seen_at = time.monotonic()
            if load_seen_at is not None and time.monotonic() - load_seen_at > 8:
                break
            time.sleep(0.5)
        assert load_seen_at is not None, "the run never reached the load stage"
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return output


def test_interrupted_run_is_kept_and_cleaned_up(tmp_path: Path) -> None:
    # A relative --reports-dir from another working directory, as `make bench` uses the default
    # `reports/`: every server must still find its files (the last round's fresh-clone failure).
    command = [
        sys.executable, "-m", "hpabench", "run", "--scenario", "spike", "--time-scale", "0.5",
        "--scrape-interval-s", "2", "--reports-dir", "reports",
    ]  # fmt: skip
    reports = tmp_path / "reports"
    # As a context manager: the pipe is closed even when an assertion fails (no leaked file).
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path) as proc:
        output = _interrupt_during_load(proc, reports)
    assert proc.returncode == 130, output
    (run,) = list(reports.iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    client = pd.read_parquet(run / "data" / "client_stats.parquet")
    assert client["requests"].sum() > 0
    assert (run / "report.html").is_file()
    assert processes_using(tmp_path) == []
    leftovers = [p for p in Path("/sys/fs/cgroup").glob(f"*/**/hpabench-{proc.pid}-*")]
    assert leftovers == []
