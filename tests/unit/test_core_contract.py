"""The run-directory contract: writers emit the declared columns, the manifest reader names damage,
the atomic writer never leaves half a file, and analysis depends on the contract, not on a target."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from hpabench import contract
from hpabench.deploy.local.podlog import pods_frame
from hpabench.scenarios.drive.results import CLIENT_COLUMNS, LOAD_COLUMNS


def test_writers_emit_the_contract_columns() -> None:
    assert tuple(pods_frame([]).columns) == contract.PODS_COLUMNS
    assert tuple(CLIENT_COLUMNS) == contract.CLIENT_COLUMNS and tuple(LOAD_COLUMNS) == contract.LOAD_COLUMNS
    assert {f.name for f in contract.DATA_FILES} == {
        "client_stats.parquet", "load.parquet", "planned.parquet", "hpa.parquet", "pods.parquet"
    }  # fmt: skip


def test_manifest_reader_types_known_fields_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / contract.MANIFEST).write_text(
        json.dumps({"status": "completed", "load_started_at": 10, "k8s": {"a": 1}})
    )
    manifest = contract.read_manifest(tmp_path)
    assert manifest.status == "completed" and manifest.load_started_at == 10.0
    assert manifest.model_dump()["k8s"] == {"a": 1} and manifest.schema_version == contract.MANIFEST_SCHEMA_VERSION


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"\xff\xfe{}", "not UTF-8 (byte 0)"), (b"{", "not JSON"), (b"[1]", "must be a JSON object"),
     (b'{"load_started_at": "soon"}', "load_started_at"), (b'{"finished_at": NaN}', "finite")],
)  # fmt: skip
def test_manifest_reader_names_the_file_and_the_problem(tmp_path: Path, content: bytes, problem: str) -> None:
    (tmp_path / contract.MANIFEST).write_bytes(content)
    with pytest.raises(ValueError) as info:
        contract.read_manifest(tmp_path)
    assert str(tmp_path / contract.MANIFEST) in str(info.value) and problem in str(info.value)


def test_atomic_writer_replaces_whole_files_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    contract.write_json_atomic(target, {"b": 1, "a": Path("/x")})
    contract.write_json_atomic(target, {"c": {2, 1}})
    assert json.loads(target.read_text()) == {"c": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    with pytest.raises(TypeError):
        contract.write_json_atomic(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"c": [1, 2]} and len(list(tmp_path.iterdir())) == 1


def test_atomic_writer_never_replaces_a_device_node(tmp_path: Path) -> None:
    """Renaming over /dev/null as root would turn it into a plain file for the whole machine."""
    before = os.stat("/dev/null")
    contract.write_json_atomic(Path("/dev/null"), {"x": 1})
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    with pytest.raises(IsADirectoryError):
        contract.write_text_atomic(tmp_path, "x")


ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("hpabench", "scenarios", "deploy", "analysis")


def _imports(folder: str) -> list[tuple[str, str]]:
    found = []
    for path in (ROOT / folder).rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.match(r"\s*(?:from|import)\s+([\w.]+)", line)
            if match:
                found.append((str(path.relative_to(ROOT)), match.group(1)))
    return found


def test_analysis_depends_on_the_contract_never_on_a_target() -> None:
    assert [(p, m) for p, m in _imports("analysis") if m.startswith(("hpabench.deploy", "tests"))] == []


def test_nothing_shipped_imports_the_tests() -> None:
    assert [(p, m) for folder in SHIPPED for p, m in _imports(folder) if m.split(".")[0] == "tests"] == []
