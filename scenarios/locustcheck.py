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


def _import_in_child(path: Path, timeout_s: float) -> dict[str, object] | SpecIssue:
    """The child's findings, or an issue when it timed out or died without reporting."""
    file = str(path)
    try:
        completed = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path), _RESULT_MARK],
            cwd=path.parent,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        return SpecIssue(file, "", f"importing it took more than {timeout_s:g} s (does it block at import time?)")
    for line in completed.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith(_RESULT_MARK):
            try:
                parsed = json.loads(line[len(_RESULT_MARK) :])
            except json.JSONDecodeError:
                break
            if isinstance(parsed, dict):
                return parsed
    tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    return SpecIssue(file, "", f"importing it ended the interpreter (exit {completed.returncode}): {tail[0][:300]}")


def locustfile_issues(path: Path, timeout_s: float | None = None) -> list[SpecIssue]:
    """Every reason the locustfile at `path` cannot drive a run (see the module docstring);
    `timeout_s` defaults to IMPORT_TIMEOUT_S (read at call time, so tests can shorten it)."""
    timeout_s = IMPORT_TIMEOUT_S if timeout_s is None else timeout_s
    path = Path(path).absolute()
    file = str(path)
    try:
        text = read_input_text(path, what="--locustfile", max_bytes=MAX_LOCUSTFILE_BYTES)
    except SpecError as exc:
        return list(exc.issues)
    syntax = _syntax_issues(text, file)
    if syntax:
        return syntax
    result = _import_in_child(path, timeout_s)
    if isinstance(result, SpecIssue):
        return [result]
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
