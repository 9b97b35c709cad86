"""The pods table: pods.jsonl rows → pods.parquet with the contract's columns and dtypes."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from hpabench.deploy.local.podlog import COLUMNS, PodLog, pods_frame


def test_pods_frame_columns_and_missing_values() -> None:
    frame = pods_frame(
        [
            {
                "pod": "web-b",
                "deployment": "web",
                "created_ts": 20.0,
                "started_ts": 21.0,
                "ready_ts": None,
                "deleted_ts": 30.0,
                "restarts": 2,
                "cpu_request_millicores": 200,
                "cpu_limit_millicores": None,
            },
            {
                "pod": "web-a",
                "deployment": "web",
                "created_ts": 10.0,
                "started_ts": 11.0,
                "ready_ts": 12.0,
                "deleted_ts": 40.0,
                "restarts": 0,
                "cpu_request_millicores": 200,
                "cpu_limit_millicores": 500,
            },
        ]
    )
    assert tuple(frame.columns) == COLUMNS
    assert list(frame["pod"]) == ["web-a", "web-b"]  # by creation time
    assert math.isnan(frame.loc[1, "ready_ts"]) and math.isnan(frame.loc[1, "cpu_limit_millicores"])
    assert frame["restarts"].dtype == "int64" and frame["created_ts"].dtype == "float64"
    assert tuple(pods_frame([]).columns) == COLUMNS


def test_pod_log_round_trip(tmp_path: Path) -> None:
    log = PodLog(tmp_path / "data")
    log.append({"pod": "postgres-0", "deployment": "postgres", "created_ts": 1.0, "restarts": 0})
    with (tmp_path / "data" / "pods.jsonl").open("a") as out:
        out.write('{"pod": "torn')  # a crash mid-write
    path = log.write_parquet()
    frame = pd.read_parquet(path)
    assert list(frame["pod"]) == ["postgres-0"]
    assert math.isnan(frame.loc[0, "deleted_ts"])
