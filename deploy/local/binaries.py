"""Finding the server binaries the local target runs, with the Debian package that provides each.

`find_binary("postgres")` returns an absolute path or raises `MissingDependencyError` naming the
package. PostgreSQL's server binaries are not on PATH on Debian (they live in
/usr/lib/postgresql/<major>/bin); the newest major found there wins. `HPABENCH_PG_BINDIR`
overrides the search for PostgreSQL.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from hpabench.errors import MissingDependencyError

# binary → Debian package providing it
PACKAGES: dict[str, str] = {
    "postgres": "postgresql",
    "initdb": "postgresql",
    "pg_isready": "postgresql",
    "pg_ctl": "postgresql",
    "psql": "postgresql",
    "redis-server": "redis-server",
    "redis-cli": "redis-tools",
    "haproxy": "haproxy",
    "prometheus": "prometheus",
    "setpriv": "util-linux",
}
POSTGRES_BINARIES = {"postgres", "initdb", "pg_isready", "pg_ctl", "psql"}
PG_ROOT = Path("/usr/lib/postgresql")
SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def _pg_bindirs() -> list[Path]:
    override = os.environ.get("HPABENCH_PG_BINDIR")
    if override:
        return [Path(override)]
    if not PG_ROOT.is_dir():
        return []
    majors = [p for p in PG_ROOT.iterdir() if re.fullmatch(r"\d+(\.\d+)?", p.name)]
    majors.sort(key=lambda p: float(p.name), reverse=True)
    return [p / "bin" for p in majors]


def find_binary(name: str) -> str:
    """Absolute path of `name`; MissingDependencyError(name, package) if it is nowhere."""
    candidates: list[Path] = []
    if name in POSTGRES_BINARIES:
        candidates += [d / name for d in _pg_bindirs()]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN_DIRS))
    if found:
        return found
    package = PACKAGES.get(name, name)
    raise MissingDependencyError(name, package, hint="needed by the local target")


def check_binaries(names: list[str]) -> dict[str, str]:
    """Resolve all `names` at once; one error lists every missing package (install in one go)."""
    found: dict[str, str] = {}
    missing: list[MissingDependencyError] = []
    for name in names:
        try:
            found[name] = find_binary(name)
        except MissingDependencyError as exc:
            missing.append(exc)
    if len(missing) == 1:
        raise missing[0]
    if missing:
        what = ", ".join(m.what for m in missing)
        packages = " ".join(sorted({m.package for m in missing}))
        raise MissingDependencyError(what, packages, hint="needed by the local target")
    return found
