"""The `postgres:*` image as a local runtime: a real PostgreSQL server in the run directory.

Follows the official image's contract: `POSTGRES_USER` (default "postgres") is the bootstrap
superuser with `POSTGRES_PASSWORD` (required unless `POSTGRES_HOST_AUTH_METHOD=trust`),
`POSTGRES_DB` (default: the user name) is created on first start, container `args` go to the
`postgres` server (e.g. `-c max_connections=200`), and the stop signal is SIGINT (fast
shutdown). Locally the server listens on 127.0.0.1 only, on the Service's local port, with no
Unix socket (run-directory paths may exceed the 107-byte socket path limit). PostgreSQL refuses
to run as root: when we are root it runs as the `postgres` system user, which owns the data dir.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hpabench.deploy.local.binaries import find_binary
from hpabench.deploy.local.procs import RunAs, is_root, wrap_command
from hpabench.errors import MissingDependencyError, TargetError


@dataclass(frozen=True)
class PostgresCredentials:
    user: str
    password: str | None  # None: trust authentication
    database: str


def credentials(env: Mapping[str, str]) -> PostgresCredentials:
    """The bootstrap credentials from the container env, as the official image reads them."""
    user = env.get("POSTGRES_USER") or "postgres"
    password = env.get("POSTGRES_PASSWORD") or None
    if password is None and env.get("POSTGRES_HOST_AUTH_METHOD") != "trust":
        raise ValueError("POSTGRES_PASSWORD is required (or POSTGRES_HOST_AUTH_METHOD=trust)")
    return PostgresCredentials(user, password, env.get("POSTGRES_DB") or user)


def server_user() -> RunAs | None:
    """The identity PostgreSQL runs as: the `postgres` system user when we are root, else us."""
    if not is_root():
        return None
    try:
        return RunAs.user("postgres")
    except KeyError:
        raise MissingDependencyError("the 'postgres' system user", "postgresql") from None


def accessible_to_others(path: Path) -> bool:
    """True if a different, unprivileged user can reach `path` (every ancestor is o+x)."""
    path = path.resolve()
    for directory in [path, *path.parents]:
        try:
            if not os.stat(directory).st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def server_argv(data_dir: Path, port: int, args: tuple[str, ...] | None) -> list[str]:
    """The postgres command line; our listen settings come last so they win (pure but for lookup)."""
    return [
        find_binary("postgres"),
        "-D",
        str(data_dir),
        *(args or ()),
        "-c",
        "listen_addresses=127.0.0.1",
        "-p",
        str(port),
        "-c",
        "unix_socket_directories=",
    ]


def _run(argv: list[str], run_as: RunAs | None, procs_files: list[Path], log: Path, stdin: bytes | None = None) -> None:
    with log.open("ab") as out:
        done = subprocess.run(
            wrap_command(argv, procs_files, run_as),
            input=stdin,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
            start_new_session=True,  # Ctrl-C in the terminal goes to hpabench, which stops the pod
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
        )
    if done.returncode != 0:
        raise TargetError(f"{Path(argv[0]).name} failed with exit code {done.returncode} (log: {log})")


def prepare_data_dir(
    data_dir: Path, env: Mapping[str, str], run_as: RunAs | None, procs_files: list[Path], log: Path
) -> None:
    """initdb + create POSTGRES_DB, once (idempotent: skipped when PG_VERSION exists)."""
    if (data_dir / "PG_VERSION").exists():
        return
    creds = credentials(env)
    if data_dir.exists():
        shutil.rmtree(data_dir)  # a half-initialised dir from a crash: start over
    data_dir.mkdir(parents=True, mode=0o700)
    if run_as is not None:
        os.chown(data_dir, run_as.uid, run_as.gid)
    with tempfile.NamedTemporaryFile("w", dir=data_dir.parent, prefix=".pwfile-", delete=False) as pwfile:
        pwfile.write((creds.password or "") + "\n")
    pw_path = Path(pwfile.name)
    try:
        if run_as is not None:
            os.chown(pw_path, run_as.uid, run_as.gid)
        auth = "scram-sha-256" if creds.password else "trust"
        _run(
            [
                find_binary("initdb"),
                "-D",
                str(data_dir),
                "-U",
                creds.user,
                f"--pwfile={pw_path}",
                f"--auth-host={auth}",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",  # a throwaway cluster: skip the fsync of the fresh files
            ],
            run_as,
            procs_files,
            log,
        )
    finally:
        pw_path.unlink(missing_ok=True)
    if creds.database != "postgres":
        statement = f'CREATE DATABASE "{creds.database}" OWNER "{creds.user}";\n'
        _run(
            [find_binary("postgres"), "--single", "-D", str(data_dir), "-c", "unix_socket_directories=", "postgres"],
            run_as,
            procs_files,
            log,
            stdin=statement.encode(),
        )
