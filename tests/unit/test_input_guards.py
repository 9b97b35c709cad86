"""The input layer's guards: regular files only, size limits, UTF-8, strict YAML and JSON.

Fast by design: a FIFO, a device or an oversized (sparse) file is refused from its `stat`, before
any byte is read, so none of these tests can block or allocate what the file claims to hold.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hpabench.errors import SpecError
from hpabench.inputfile import (
    MAX_DEPTH,
    MAX_SPEC_BYTES,
    check_output_dir,
    check_output_file,
    parse_json_text,
    read_input_text,
)
from hpabench.specio import read_yaml
from hpabench.yamlstrict import MAX_NODES, parse_yaml, parse_yaml_all


def _refusal(path: Path | str, **kwargs: object) -> str:
    with pytest.raises(SpecError) as info:
        read_input_text(path, **kwargs)  # type: ignore[arg-type]
    assert len(info.value.issues) == 1 and info.value.issues[0].file == str(path)
    return info.value.issues[0].message


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    assert "FIFO" in _refusal(fifo, what="scenario")


def test_devices_and_directories_are_refused(tmp_path: Path) -> None:
    assert "device" in _refusal("/dev/zero")
    assert "device" in _refusal("/dev/urandom")
    assert "directory" in _refusal(tmp_path)


def test_an_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as handle:  # sparse: 50 MB claimed, nothing written
        handle.truncate(50 * 1024 * 1024)
    message = _refusal(huge)
    assert "50.0 MiB" in message and "limit" in message


def test_the_limit_is_inclusive_and_per_call(tmp_path: Path) -> None:
    exact = tmp_path / "exact.yaml"
    exact.write_bytes(b"a" * 100)
    assert read_input_text(exact, max_bytes=100) == "a" * 100
    assert "limit" in _refusal(exact, max_bytes=99)
    assert MAX_SPEC_BYTES >= 1024 * 1024


def test_missing_and_unreadable_files_name_the_file(tmp_path: Path) -> None:
    assert "not found" in _refusal(tmp_path / "nope.yaml")


def test_utf8_is_required_and_the_byte_offset_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\n".encode("latin-1"))
    with pytest.raises(SpecError) as info:
        read_input_text(path)
    assert info.value.issues[0].path == "byte 9" and "0xe9" in info.value.issues[0].message
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbfname: x\n")
    assert read_input_text(bom) == "name: x\n"


def test_duplicate_keys_are_refused_with_both_lines() -> None:
    with pytest.raises(SpecError) as info:
        parse_yaml("a: 1\nb: {c: 1, c: 2}\n", "f.yaml")
    issue = info.value.issues[0]
    assert issue.path == "line 2, column 11" and "duplicate key 'c' (first given on line 2)" in issue.message
    with pytest.raises(SpecError, match="duplicate key 'a'"):
        parse_json_text('{"a": 1, "a": 2}', "f.json")


def test_merge_keys_may_be_overridden() -> None:
    data = parse_yaml("base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\n", "f.yaml")
    assert data["use"] == {"x": 1, "y": 3}


@pytest.mark.parametrize("text", ["v: !!binary aGVsbG8=\n", "v: !!set {a, b}\n", "v: !!omap [a: 1]\n"])
def test_tags_no_field_takes_are_refused(text: str) -> None:
    with pytest.raises(SpecError, match="is not accepted"):
        parse_yaml(text, "f.yaml")


def test_timestamps_stay_text_and_python_tags_stay_refused() -> None:
    assert parse_yaml("day: 2026-01-01\n", "f.yaml") == {"day": "2026-01-01"}
    with pytest.raises(SpecError):
        parse_yaml("x: !!python/object/apply:os.system ['true']\n", "f.yaml")


def test_nesting_is_bounded_in_yaml_and_json() -> None:
    fine = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_yaml(fine, "f.yaml") is not None
    for depth in (MAX_DEPTH + 1, 100_000):
        with pytest.raises(SpecError, match="levels deep"):
            parse_yaml("[" * depth + "]" * depth, "f.yaml")
        with pytest.raises(SpecError, match="levels deep"):
            parse_json_text("[" * depth + "]" * depth, "f.json")


def test_alias_bombs_and_self_reference_are_refused() -> None:
    layers = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    layers += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]  # 10^7 values
    with pytest.raises(SpecError, match=f"more than {MAX_NODES} values"):
        parse_yaml("\n".join(layers) + "\n", "f.yaml")
    with pytest.raises(SpecError, match="refers to the collection that contains it"):
        parse_yaml("a: &a [1, *a]\n", "f.yaml")
    assert parse_yaml("a: &a [1, 2]\nb: *a\n", "f.yaml") == {"a": [1, 2], "b": [1, 2]}


def test_several_documents_only_where_expected() -> None:
    assert parse_yaml_all("a: 1\n---\nb: 2\n", "f.yaml") == [{"a": 1}, {"b": 2}]
    with pytest.raises(SpecError, match="2 YAML documents"):
        parse_yaml("a: 1\n---\nb: 2\n", "f.yaml")


def test_read_yaml_goes_through_the_guards(tmp_path: Path) -> None:
    fifo = tmp_path / "v.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="FIFO"):
        read_yaml(fifo)


def test_output_paths_are_checked_before_any_work(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    assert check_output_file(tmp_path / "new" / "deeper" / "out.xml", "--junit") == []
    assert "is a directory" in check_output_file(tmp_path, "--junit")[0].message
    under = check_output_file(blocker / "out.xml", "--junit")[0]
    assert under.path == "--junit" and "is a file, not a directory" in under.message
    assert check_output_dir(tmp_path / "reports", "--reports-dir") == []
    assert "not a directory" in check_output_dir(blocker, "--reports-dir")[0].message
    assert "is a file" in check_output_dir(blocker / "sub", "--reports-dir")[0].message
