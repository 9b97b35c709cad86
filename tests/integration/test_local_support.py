"""Shared helpers of the local-target integration tests (no tests here; named test_local_* to stay in
that file family): rendered objects, polling, leftover detection."""

from __future__ import annotations

import copy
import glob
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import yaml

T = TypeVar("T")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def base_objects(web_replicas: int | None = None) -> list[dict[str, Any]]:
    """The rendered base manifests (render_objects when present), optionally with web replicas."""
    try:
        from hpabench.deploy.render import render_objects
    except ImportError:
        files = sorted(glob.glob(str(Path(__file__).resolve().parents[2] / "deploy" / "manifests" / "*.yaml")))
        objects = [o for f in files for o in yaml.safe_load_all(Path(f).read_text()) if o]
    else:
        objects = render_objects(None, None)
    objects = copy.deepcopy(objects)
    if web_replicas is not None:
        web = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "web")
        web["spec"]["replicas"] = web_replicas
    return objects


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def wait_until(check: Callable[[], T], timeout_s: float, what: str, interval_s: float = 0.1) -> T:
    """Poll `check` until it returns something truthy; AssertionError naming `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # still converging; remember why for the failure message
            last = exc
        else:
            if last:
                return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last: {last!r}")


def prom_query(prometheus_url: str, query: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": query}, timeout=5)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def processes_using(path: Path) -> list[str]:
    """Processes whose command line or working directory is inside `path`."""
    needle = str(path)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            cwd = proc.info["cwd"] or ""
        except psutil.Error:
            continue
        if proc.pid != os.getpid() and (needle in cmdline or cwd.startswith(needle)):
            found.append(f"{proc.pid}: {cmdline[:120]}")
    return found


def our_cgroups(max_depth: int = 5) -> list[Path]:
    """`hpabench-<this pid>-*` cgroup folders anywhere in the mounted hierarchies."""
    prefix = f"hpabench-{os.getpid()}-"
    found: list[Path] = []

    def walk(folder: Path, depth: int) -> None:
        if depth > max_depth:
            return
        try:
            children = [c for c in folder.iterdir() if c.is_dir()]
        except OSError:
            return
        for child in children:
            if child.name.startswith(prefix):
                found.append(child)
            elif not child.name.startswith("hpabench-"):
                walk(child, depth + 1)

    if CGROUP_ROOT.is_dir():
        walk(CGROUP_ROOT, 0)
    return found
