"""Checking a user's locustfile before anything is deployed: read, compiled, imported, inspected.

Contract: `locustfile_issues(path, timeout_s=)` returns every reason the locustfile at `path`
cannot drive a run, as `SpecIssue(file, "line N" or "", problem)`; empty when it can. It
- reads it through the input layer (regular file, size limit, UTF-8);
- compiles it here, so a syntax error names its line without running any code;
- imports it in a **child process** with a timeout, the way Locust will (its folder first on
  `sys.path`), so an import that raises, hangs or exits is reported instead of reaching the
  deploy, and nothing it does (gevent monkey-patching, sockets, threads) touches this process;
- requires at least one concrete `User` class (Locust's own `is_user_class` rule: abstract ones
  do not count) and allows at most one `LoadTestShape` (optional: hpabench's plan drives the
  load otherwise).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from hpabench.errors import SpecError, SpecIssue
from hpabench.inputfile import MAX_LOCUSTFILE_BYTES, read_input_text

IMPORT_TIMEOUT_S = 60.0
_RESULT_MARK = "HPABENCH-LOCUSTFILE-CHECK "

# Runs in the child: import the file like Locust's loader does and print one JSON line.
_CHILD = r"""
import importlib.util, json, os, sys, traceback
path = sys.argv[1]
mark = sys.argv[2]
result = {"users": [], "shapes": [], "error": None, "line": None}
try:
    from locust.util.load_locustfile import is_shape_class, is_user_class
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location("hpabench_user_locustfile", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    for name, value in vars(module).items():
        if is_user_class(value):
            result["users"].append(name)
        elif is_shape_class(value) and value.__module__ == module.__name__:
            result["shapes"].append(name)
except BaseException as exc:
    result["error"] = f"{type(exc).__name__}: {exc}"[:500]
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.abspath(f.filename) == path]
    result["line"] = frames[-1].lineno if frames else None
sys.stdout.flush()
print(mark + json.dumps(result), flush=True)
os._exit(0)
"""


def _syntax_issues(text: str, file: str) -> list[SpecIssue]:
    try:
        compile(text, file, "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else ""
        return [SpecIssue(file, where, f"Python syntax error: {exc.msg}")]
    except ValueError as exc:  # e.g. NUL bytes in the source
        return [SpecIssue(file, "", f"not Python source: {exc}")]
    return []


def _findings(stdout: bytes, stderr: bytes, returncode: int | None, file: str) -> dict[str, object] | SpecIssue:
    """The child's report line, or an issue when it died without reporting."""
    for line in stdout.decode("utf-8", "replace").splitlines():
        if line.startswith(_RESULT_MARK):
            try:
                parsed = json.loads(line[len(_RESULT_MARK) :])
            except json.JSONDecodeError:
                break
            if isinstance(parsed, dict):
                return parsed
    tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    return SpecIssue(file, "", f"importing it ended the interpreter (exit {returncode}): {tail[0][:300]}")


def _verdict(result: dict[str, object], file: str) -> list[SpecIssue]:
    if result.get("error"):
        line = result.get("line")
        return [SpecIssue(file, f"line {line}" if line else "", f"importing it raised {result['error']}")]
    issues = []
    users, shapes = list(result.get("users") or []), list(result.get("shapes") or [])  # type: ignore[call-overload]
    if not users:
        issues.append(SpecIssue(file, "", "defines no Locust User class (a non-abstract subclass of locust.User)"))
    if len(shapes) > 1:
        issues.append(
            SpecIssue(file, "", f"defines {len(shapes)} LoadTestShape classes ({', '.join(shapes)}); give at most one")
        )
    return issues


class LocustfileCheck:
    """The check of one locustfile, started at once so the child's import (Locust takes most of
    a second) overlaps the caller's other checks; `issues()` waits for the verdict, `close()`
    (or leaving the `with` block) ends a child still running. `timeout_s` defaults to
    IMPORT_TIMEOUT_S, read at construction so tests can shorten it."""

    def __init__(self, path: Path, timeout_s: float | None = None) -> None:
        self.path = Path(path).absolute()
        self.file = str(self.path)
        self.timeout_s = IMPORT_TIMEOUT_S if timeout_s is None else timeout_s
        self._early: list[SpecIssue] | None = None
        self._child: subprocess.Popen[bytes] | None = None
        try:
            text = read_input_text(self.path, what="--locustfile", max_bytes=MAX_LOCUSTFILE_BYTES)
        except SpecError as exc:
            self._early = list(exc.issues)
            return
        self._early = _syntax_issues(text, self.file) or None
        if self._early is None:
            self._started = time.monotonic()
            self._child = subprocess.Popen(
                [sys.executable, "-c", _CHILD, self.file, _RESULT_MARK],
                cwd=self.path.parent,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )

    def issues(self) -> list[SpecIssue]:
        """Every reason the locustfile cannot drive a run (see the module docstring)."""
        if self._early is not None or self._child is None:
            return list(self._early or [])
        remaining_s = max(0.0, self.timeout_s - (time.monotonic() - self._started))
        try:
            stdout, stderr = self._child.communicate(timeout=remaining_s)
        except subprocess.TimeoutExpired:
            self.close()
            problem = f"importing it took more than {self.timeout_s:g} s (does it block at import time?)"
            self._early = [SpecIssue(self.file, "", problem)]
            return list(self._early)
        result = _findings(stdout, stderr, self._child.returncode, self.file)
        self._early = [result] if isinstance(result, SpecIssue) else _verdict(result, self.file)
        return list(self._early)

    def close(self) -> None:
        if self._child is not None and self._child.poll() is None:
            self._child.kill()
        if self._child is not None:
            self._child.communicate()  # reaps it and closes the pipes

    def __enter__(self) -> LocustfileCheck:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def locustfile_issues(path: Path, timeout_s: float | None = None) -> list[SpecIssue]:
    """Every reason the locustfile at `path` cannot drive a run (see the module docstring)."""
    with LocustfileCheck(path, timeout_s) as check:
        return check.issues()
