"""A two-variant, two-repetition study of real compressed runs on the local target, end to end:
interrupted by SIGINT mid-study, resumed without redoing finished runs, and reported. Keep-alive
off shows up in the connection counters (a connection per request at the balancer)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpabench.study.state import REPORT_FILE, TRIALS_FILE, read_records

from .test_local_support import processes_using

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
SPEC = HERE / "studies" / "two-by-two.yaml"
STUDY_DEADLINE_S = 900.0


def _study(out: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "hpabench", "study", "run", str(SPEC), "--out", str(out), *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=out.parent)


def test_study_interrupted_resumed_and_reported(tmp_path: Path) -> None:
    out = tmp_path / "study"
    first = _study(out)
    try:
        # Interrupt once the first run is recorded and the second has started.
        deadline = time.monotonic() + STUDY_DEADLINE_S
        while time.monotonic() < deadline and first.poll() is None:
            if len(read_records(out)) >= 1 if out.exists() else False:
                break
            time.sleep(1.0)
        time.sleep(8.0)  # into the second run (deploy or load)
        first.send_signal(signal.SIGINT)
        log, _ = first.communicate(timeout=180)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 130, log.decode()[-3000:]
    done_before = {k: v["run_path"] for k, v in read_records(out).items()}
    assert 1 <= len(done_before) < 4
    assert processes_using(tmp_path) == []  # the interrupted run tore down

    second = _study(out)
    log2, _ = second.communicate(timeout=STUDY_DEADLINE_S)
    assert second.returncode == 0, log2.decode()[-3000:]
    result = json.loads(log2.decode().strip().splitlines()[-1])
    assert (result["done"], result["total"]) == (4, 4)
    records = read_records(out)
    assert set(records) == {f"step-short.yaml/{v}/r{r}" for v in ("baseline", "keepalive-off") for r in (1, 2)}
    for key, run_path in done_before.items():
        assert records[key]["run_path"] == run_path  # not redone
    lines = (out / TRIALS_FILE).read_text().splitlines()
    assert len(lines) == 4
    for record in records.values():
        assert record["status"] == "completed" and not record["failed"], record
        assert record["kpis"]["p95_ms"] is not None
        phase, period = record["sync_phase_measured_s"], record["sync_period_s"]
        assert phase is not None and 0 <= phase <= period
        # seeded: the first sync after the load start falls where the plan put it (to the poll)
        off = (phase - record["sync_phase"] * period) % period
        assert min(off, period - off) < 0.5, record
    html = (out / REPORT_FILE).read_text()
    assert "Recommendation" in html and "keepalive-off" in html and "min. detectable" in html
    assert processes_using(tmp_path) == []

    # Keep-alive off: the balancer sees about one new client connection per request.
    def connections_per_request(variant: str) -> float:
        import pandas as pd

        ratios = []
        for record in records.values():
            if record["variant"] != variant:
                continue
            run = Path(record["run_path"])
            conns = pd.read_parquet(run / "data" / "prom" / "haproxy_client_connections_rps.parquet")["value"]
            stats = pd.read_parquet(run / "data" / "client_stats.parquet")
            rps = stats[stats["route"] == "ALL"]["requests"].sum() / max(1, len(stats[stats["route"] == "ALL"]))
            ratios.append(float(conns.max()) / max(rps, 1e-9))
        return max(ratios)

    assert connections_per_request("keepalive-off") > 0.5
    assert connections_per_request("baseline") < 0.2
    assert os.path.isdir(out / "runs")
