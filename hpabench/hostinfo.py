"""Facts about the machine and the software a run used, for manifest.json (reproducibility)."""

from __future__ import annotations

import contextlib
import glob
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# binary → (argv that prints its version, regex picking the version out of the output)
_BINARY_VERSIONS: dict[str, tuple[list[str], str]] = {
    "haproxy": (["haproxy", "-v"], r"version (\S+)"),
    "redis": (["redis-server", "--version"], r"v=(\S+)"),
    "prometheus": (["prometheus", "--version"], r"version (\S+)"),
    "postgres": (["postgres", "--version"], r"(\d+\.\d+)"),
}
_PYTHON_PACKAGES = ("locust", "kubernetes", "pandas", "plotly", "pyarrow", "prometheus-api-client", "pydantic")


def _postgres_binary() -> str | None:
    found = shutil.which("postgres")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return candidates[-1] if candidates else None


def _run_version(argv: list[str], pattern: str) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(pattern, out.stdout + out.stderr)
    return match.group(1) if match else None


def software_versions() -> dict[str, str | None]:
    """Versions of hpabench, Python, the key Python packages and the local servers (None if absent)."""
    from hpabench import __version__

    versions: dict[str, str | None] = {"hpabench": __version__, "python": platform.python_version()}
    for package in _PYTHON_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    for name, (argv, pattern) in _BINARY_VERSIONS.items():
        binary = _postgres_binary() if name == "postgres" else shutil.which(argv[0])
        versions[name] = _run_version([binary, *argv[1:]], pattern) if binary else None
    return versions


def git_sha(root: Path = PROJECT_ROOT) -> str | None:
    """The commit the suite runs from, with `-dirty` when the work tree has changes; None outside git."""
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def cgroup_version() -> str:
    """ "v2" (unified), "v1", or "none" for this machine's cgroup layout."""
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        return "v2"
    if Path("/sys/fs/cgroup/cpu").is_dir():
        return "v1"
    return "none"


def host_facts() -> dict[str, Any]:
    """Hostname, CPU count, memory, kernel, Python executable and cgroup layout."""
    mem_bytes = None
    with contextlib.suppress(ValueError, OSError):
        mem_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "hostname": socket.gethostname(),
        "cpus": os.cpu_count(),
        "mem_bytes": mem_bytes,
        "kernel": platform.release(),
        "platform": platform.platform(),
        "python_executable": sys.executable,
        "cgroup_version": cgroup_version(),
        "is_root": os.geteuid() == 0,
    }
