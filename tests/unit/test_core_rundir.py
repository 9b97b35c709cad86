"""The run directory: unique folders, atomic manifest updates, a crash-tolerant event log."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from hpabench.rundir import RunDir, new_run_id, read_events


def test_run_ids_are_sortable_and_safe() -> None:
    assert new_run_id("spike/base line", now=0) == "19700101-000000-spike-base-line"
    assert new_run_id("///", now=0).endswith("-run")


def test_create_never_reuses_a_folder(tmp_path: Path) -> None:
    first = RunDir.create(tmp_path, "x")
    second = RunDir.create(tmp_path, "x")
    assert first.path != second.path
    assert (first.path / "data").is_dir() and (first.path / "rendered").is_dir()


def test_manifest_updates_merge(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "x")
    run.update_manifest(status="running", a=1)
    run.update_manifest(status="completed", path=Path("/x"))
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert manifest == {"status": "completed", "a": 1, "path": "/x"}
    assert RunDir.open(run.path).read_manifest()["a"] == 1
    with pytest.raises(FileNotFoundError):
        RunDir.open(tmp_path / "nothing")


def test_events_threadsafe_and_torn_line_skipped(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "x")

    def writer(n: int) -> None:
        for i in range(200):
            run.events.emit("tick", writer=n, i=i)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.close()
    with (run.path / "events.jsonl").open("a") as handle:
        handle.write('{"ts": 1, "kind": "torn')
    events = read_events(run.path)
    assert len(events) == 800
    assert all(event["kind"] == "tick" and "ts" in event for event in events)
    run.events  # noqa: B018 - reopening after close is allowed for late writers
