"""Damaged run data is named on the console; `gate` never calls a run it cannot judge a regression."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hpabench.analysis.baseline import make_baseline, write_baseline
from hpabench.analysis.runcheck import check_run_dir
from hpabench.cli import main
from tests.support.synthetic_run import make_synthetic_run


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = make_synthetic_run(tmp_path_factory.mktemp("damage") / "good", duration_s=60, run_id="good")
    assert main(["report", str(run)]) == 0
    return run


def _copy(good: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(good, tmp_path / "run"))


def test_a_sound_run_has_no_damage(good: Path) -> None:
    assert check_run_dir(good).damage == ()


@pytest.mark.parametrize(
    ("relative", "content", "named"),
    [
        ("data/client_stats.parquet", b"garbage", "client_stats.parquet"),
        ("events.jsonl", b'{not json}\n{"ts": 1, "kind": "x"}\n', "events.jsonl"),
        ("data/load.jsonl", b"\xff\xfe\n", "load.jsonl"),
    ],
)
def test_report_and_compare_name_the_damaged_file(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], relative: str, content: bytes, named: str
) -> None:
    run = _copy(good, tmp_path)
    (run / relative).write_bytes(content)
    assert main(["report", str(run)]) == 0
    assert f"damaged run data: {run / relative}" in capsys.readouterr().err
    assert main(["compare", str(run), "--out", str(tmp_path / "c.html")]) == 0
    assert named in capsys.readouterr().err


def test_a_torn_last_line_is_a_crash_not_damage(good: Path, tmp_path: Path) -> None:
    run = _copy(good, tmp_path)
    with (run / "events.jsonl").open("a") as handle:
        handle.write('{"ts": 1, "kind": "sta')
    assert check_run_dir(run).damage == ()


def test_gate_on_a_run_without_measurements_is_exit_1_not_3(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = write_baseline(make_baseline([good]), tmp_path / "baseline.json")
    run = _copy(good, tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    for entry in summary["kpis"].values():
        entry["value"] = None
    (run / "summary.json").write_text(json.dumps(summary))
    assert main(["gate", str(run), "--baseline", str(baseline)]) == 1
    assert "nothing to judge" in capsys.readouterr().out


def test_report_refuses_an_empty_directory_without_writing_into_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    assert list(empty.iterdir()) == []
