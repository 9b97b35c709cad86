"""RunData loading: full synthetic runs, partial runs, missing files, jsonl fallbacks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpabench.analysis.rundata import CLIENT_COLUMNS, HPA_COLUMNS, PODS_COLUMNS, load_run, prom_frame
from tests.support.synthetic_run import START_TS, make_synthetic_run


def test_full_run_has_every_frame_with_t_s(tmp_path: Path) -> None:
    run = load_run(make_synthetic_run(tmp_path / "run", duration_s=120, seed=3))
    assert run.status == "completed"
    assert run.scenario_name == "spike"
    assert run.variant_name == "baseline"
    assert run.load_started_at == START_TS
    assert run.load_duration_s == pytest.approx(120.0)
    assert run.slo == {"p95_ms": 300.0, "error_rate": 0.01}
    assert run.notes == ()
    for frame in (run.client, run.load, run.hpa, *run.prom.values()):
        assert "t_s" in frame.columns
        assert (frame["t_s"] == frame["ts"] - START_TS).all()
    assert run.client["t_s"].min() == 0.0
    assert set(run.client["route"]) == {"ALL", "/items/{id}", "/orders", "/work"}
    assert "pod_rps" in run.prom
    assert all(e["t_s"] == e["ts"] - START_TS for e in run.events)
    web = run.web_pods()
    assert set(web["deployment"]) == {"web"}
    assert (web["ready_t_s"] > web["created_t_s"]).all()


def test_missing_everything_gives_empty_frames_not_crashes(tmp_path: Path) -> None:
    run = load_run(tmp_path)
    assert run.manifest == {}
    assert run.events == []
    assert list(run.client.columns) == [*CLIENT_COLUMNS, "t_s"]
    assert set(HPA_COLUMNS) <= set(run.hpa.columns)
    assert set(PODS_COLUMNS) <= set(run.pods.columns)
    assert run.client.empty and run.pods.empty and run.prom == {}
    assert run.load_duration_s == 0.0
    assert run.status == "unknown"
    assert any("client_stats" in note for note in run.notes)
    empty = prom_frame(run, "pod_rps", "pod")
    assert list(empty.columns) == ["ts", "value", "t_s", "pod"]


def test_not_a_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_run(tmp_path / "nope")


def test_jsonl_fallback_and_torn_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps({"load_started_at": 100.0, "status": "interrupted"}))
    rows = [{"ts": 100.0 + i, "stage": "s", "achieved_rps": 5.0} for i in range(3)]
    text = "\n".join(json.dumps(r) for r in rows) + '\n{"ts": 103.0, "sta'
    (data / "load.jsonl").write_text(text)
    run = load_run(tmp_path)
    assert list(run.load["t_s"]) == [0.0, 1.0, 2.0]
    assert run.load["intended_rps"].isna().all()  # contract column added, unknown
    assert run.load_duration_s == 3.0


def test_corrupt_parquet_is_a_note_and_missing_start_uses_first_ts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "prom").mkdir(parents=True)
    (data / "client_stats.parquet").write_bytes(b"PAR1 truncated")
    pd.DataFrame({"ts": [50.0, 51.0], "stage": ["a", "a"]}).to_parquet(data / "load.parquet")
    (data / "prom" / "broken.parquet").write_bytes(b"nope")
    run = load_run(tmp_path)
    assert run.client.empty
    assert run.load_started_at == 50.0
    assert "broken" not in run.prom
    assert any("client_stats.parquet unreadable" in n for n in run.notes)
    assert any("load_started_at" in n for n in run.notes)


def test_interrupted_run_is_cut_mid_spike(tmp_path: Path) -> None:
    run = load_run(make_synthetic_run(tmp_path / "r", duration_s=200, interrupted=True))
    assert run.status == "interrupted"
    assert run.load_duration_s == pytest.approx(70.0)
    assert run.client["t_s"].max() < 70.0
    assert not run.planned.empty and run.planned["t_s"].max() == 199.0


def test_synthetic_run_fakes_every_default_profile_query(tmp_path: Path) -> None:
    from hpabench.analysis.profile import load_profile
    from tests.support.synthetic_run import PROFILE_QUERIES

    assert set(PROFILE_QUERIES) == set(load_profile().names())
    run = load_run(make_synthetic_run(tmp_path / "r", duration_s=60))
    assert set(run.prom) == set(PROFILE_QUERIES)


def test_real_writers_formats(tmp_path: Path) -> None:
    """Frames as the driver and the HPA controller write them: per-process client jsonl (never
    merged: an interrupted driver) and nullable-integer HPA columns."""
    from hpabench.analysis.summary import build_summary
    from hpabench.deploy.hpa.sync_log import rows_frame
    from hpabench.scenarios.histogram import LatencyHistogram

    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps({"load_started_at": 1000.0, "status": "interrupted"}))
    for process, latency in (("p1", 10.0), ("p2", 30.0)):
        lines = []
        for second in range(3):
            for route in ("/items/{id}", "ALL"):
                hist = LatencyHistogram()
                hist.record_many([latency] * 10)
                row = {
                    "ts": 1000.0 + second,
                    "t_s": second,
                    "route": route,
                    "requests": 10,
                    "failures": 1,
                    "hist": hist.to_sparse(),
                    "process": process,
                }
                lines.append(json.dumps(row))
        (data / f"client_stats.{process}.jsonl").write_text("\n".join(lines) + "\n")
    hpa_rows = [
        {
            "ts": 1000.5 + s,
            "hpa": "web",
            "current_replicas": 1,
            "desired_replicas": 0 if s == 0 else 1 + s,
            "raw_recommendation": None if s == 0 else 1 + s,
            "stabilized_recommendation": None,
            "metrics": "{}",
            "ready_pods": 1,
            "unready_pods": 0,
            "missing_pods": 0,
            "able_to_scale": True,
            "scaling_active": True,
            "scaling_limited": False,
            "reason": "r",
            "metrics_age_s": None if s == 0 else 2.0,
        }
        for s in range(3)
    ]
    rows_frame(hpa_rows).to_parquet(data / "hpa.parquet", index=False)

    run = load_run(tmp_path)
    assert any("merged from per-process" in note for note in run.notes)
    everything = run.client[run.client["route"] == "ALL"]
    assert everything["requests"].tolist() == [20, 20, 20] and everything["failures"].tolist() == [2, 2, 2]
    assert run.hpa["raw_recommendation"].dtype == float and np.isnan(run.hpa["raw_recommendation"].iloc[0])
    summary = build_summary(run)
    assert summary["kpis"]["requests"]["value"] == 60
    assert summary["kpis"]["p50_ms"]["value"] == pytest.approx(10.0, rel=0.005)
    assert summary["kpis"]["p99_ms"]["value"] == pytest.approx(30.0, rel=0.005)
    assert summary["kpis"]["error_rate"]["value"] == pytest.approx(0.1)
    # the first sync failed (desired 0, the controller's "no recommendation"): not a scale to zero
    assert run.web_hpa()["desired_replicas"].isna().tolist() == [True, False, False]
    assert summary["kpis"]["scale_events"]["value"] == 2.0
    assert summary["kpis"]["scale_reversals"]["value"] == 0.0
    assert summary["kpis"]["scale_flaps"]["value"] is None  # no planned curve: flapping unknowable
