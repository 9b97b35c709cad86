"""The guards every input file and every output path goes through, before any parsing or work.

Contract:
- `read_input_bytes(path, what=, max_bytes=)` returns the bytes of a *regular* file no larger than
  `max_bytes`; a FIFO, a device (`/dev/zero`), a directory, a missing or unreadable file, or an
  oversized one raises `SpecError` (exit 2) naming the file. It never blocks on a FIFO (the type
  is checked before opening, and the file is opened non-blocking and checked again) and never
  reads more than `max_bytes + 1` bytes, so a file growing while read cannot exhaust memory.
- `read_input_text(...)` also requires UTF-8 and names the byte offset of the first bad byte.
- `read_input_json(...)` parses one JSON document strictly: duplicate keys and nesting deeper
  than `MAX_DEPTH` are refused with the file and the problem. `NaN`/`Infinity` literals parse
  (Python's json writes them), so the model validating the data can name their field path.
- `check_output_file(path, option)` / `check_output_dir(path, option)` return the issues that
  would make writing there fail (a directory where a file goes, a file where a directory goes or
  among the parents, a read-only parent) so commands refuse *before* doing any work.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from hpabench.errors import SpecError, SpecIssue

KIB = 1024
MIB = 1024 * KIB
# Limits per kind of input: generous for real files, small enough that parsing stays sub-second.
MAX_SPEC_BYTES = 1 * MIB  # scenario, variant, thresholds, metric profile, base manifests
MAX_TRACE_BYTES = 8 * MIB  # a replay CSV (100,000 rows of "minute,rps" is ~1.5 MB)
MAX_JSON_BYTES = 32 * MIB  # baseline, manifest.json, summary.json
MAX_EVENTS_BYTES = 512 * MIB  # events.jsonl / data jsonl of a long run
MAX_LOCUSTFILE_BYTES = 4 * MIB
MAX_DEPTH = 64  # nesting of YAML/JSON collections; real specs use fewer than 12 levels


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n_bytes: int) -> str:
    return f"{n_bytes / MIB:.1f} MiB" if n_bytes >= MIB else f"{n_bytes / KIB:.0f} KiB"


def read_input_bytes(path: str | Path, *, what: str = "file", max_bytes: int = MAX_SPEC_BYTES) -> bytes:
    """The bytes of the regular file at `path` (see the module docstring)."""
    file = str(path)
    try:
        before = os.stat(path)
    except FileNotFoundError:
        raise SpecError(SpecIssue(file, "", f"{what} not found")) from None
    except OSError as exc:
        raise SpecError(SpecIssue(file, "", f"{what} cannot be read: {exc.strerror}")) from None
    if not stat.S_ISREG(before.st_mode):
        raise SpecError(SpecIssue(file, "", f"{what} must be a regular file, this is {_kind(before.st_mode)}"))
    if before.st_size > max_bytes:
        raise SpecError(
            SpecIssue(file, "", f"{what} is {_size(before.st_size)}, more than the limit of {_size(max_bytes)}")
        )
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO after the stat, open must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SpecError(SpecIssue(file, "", f"{what} cannot be read: {exc.strerror}")) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise SpecError(SpecIssue(file, "", f"{what} must be a regular file"))
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise SpecError(SpecIssue(file, "", f"{what} cannot be read: {exc.strerror}")) from None
    if len(data) > max_bytes:
        raise SpecError(SpecIssue(file, "", f"{what} is larger than the limit of {_size(max_bytes)}"))
    return data


def decode_utf8(data: bytes, file: str, what: str = "file") -> str:
    """`data` as text; a byte sequence that is not UTF-8 raises SpecError naming its offset."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            SpecIssue(file, f"byte {exc.start}", f"{what} is not UTF-8 text (byte 0x{data[exc.start]:02x})")
        ) from None
    return text.removeprefix("\ufeff")  # a BOM some editors write is not content


def read_input_text(path: str | Path, *, what: str = "file", max_bytes: int = MAX_SPEC_BYTES) -> str:
    """The UTF-8 text of the regular file at `path` (see the module docstring)."""
    return decode_utf8(read_input_bytes(path, what=what, max_bytes=max_bytes), str(path), what)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def depth_of(data: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of lists/dicts in `data`, counted iteratively (stops once past `limit`)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict | list):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json_text(text: str, file: str, what: str = "file") -> Any:
    """One strict JSON document from `text` (see `read_input_json`)."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise SpecError(SpecIssue(file, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}")) from None
    except ValueError as exc:
        raise SpecError(SpecIssue(file, "", f"invalid JSON: {exc}")) from None
    except RecursionError:
        raise SpecError(SpecIssue(file, "", f"{what} is nested more than {MAX_DEPTH} levels deep")) from None
    if depth_of(data) > MAX_DEPTH:
        raise SpecError(SpecIssue(file, "", f"{what} is nested more than {MAX_DEPTH} levels deep"))
    return data


def read_input_json(path: str | Path, *, what: str = "file", max_bytes: int = MAX_JSON_BYTES) -> Any:
    """One strict JSON document from the regular file at `path` (see the module docstring)."""
    return parse_json_text(read_input_text(path, what=what, max_bytes=max_bytes), str(path), what)


def _existing_ancestor(path: Path) -> Path:
    """The nearest existing ancestor of `path` (the directory that would hold what is created)."""
    node = path.parent
    while not node.exists() and node != node.parent:
        node = node.parent
    return node


def _parent_issues(path: Path, option: str) -> list[SpecIssue]:
    ancestor = _existing_ancestor(path)
    if ancestor.exists() and not ancestor.is_dir():
        return [SpecIssue(str(path), option, f"cannot be created: {ancestor} is a file, not a directory")]
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return [SpecIssue(str(path), option, f"cannot be created: {ancestor} is not writable")]
    return []


def check_output_file(path: str | Path, option: str) -> list[SpecIssue]:
    """Why a file could not be written at `path` (given by `option`); empty when it can."""
    target = Path(path)
    if str(path) == "":
        return [SpecIssue("command line", option, "is empty; give a file name")]
    if target.is_dir():
        return [SpecIssue(str(target), option, "is a directory; give a file name")]
    if target.exists():
        if not target.is_file():
            return [SpecIssue(str(target), option, "exists and is not a regular file")]
        if not os.access(target, os.W_OK):
            return [SpecIssue(str(target), option, "exists and is not writable")]
        return []
    return _parent_issues(target.absolute(), option)


def check_output_dir(path: str | Path, option: str) -> list[SpecIssue]:
    """Why a directory could not be used or created at `path` (given by `option`); empty when it can."""
    target = Path(path)
    if str(path) == "":
        return [SpecIssue("command line", option, "is empty; give a directory")]
    if target.exists():
        if not target.is_dir():
            return [SpecIssue(str(target), option, "exists and is not a directory")]
        if not os.access(target, os.W_OK | os.X_OK):
            return [SpecIssue(str(target), option, "is not writable")]
        return []
    return _parent_issues(target.absolute(), option)


def require_outputs(issues: list[SpecIssue]) -> None:
    """Raise the output-path issues (if any) as one SpecError, before any work is done."""
    if issues:
        raise SpecError(issues, headline="cannot write the requested outputs:")
