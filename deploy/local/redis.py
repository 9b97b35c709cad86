"""The `redis:*` image as a local runtime: a real redis-server bound to 127.0.0.1.

The container's `args` are passed through (e.g. `--maxmemory 128mb`); a `command` must be
`redis-server` (its further words are treated as args). Our listen settings come last so they
win: the Service's local port, 127.0.0.1 only, protected mode, the pod folder as working dir,
foreground.
"""

from __future__ import annotations

from pathlib import Path

from hpabench.deploy.local.binaries import find_binary


def server_argv(port: int, workdir: Path, command: tuple[str, ...] | None, args: tuple[str, ...] | None) -> list[str]:
    """The redis-server command line (pure but for finding the binary). ValueError on bad command."""
    extra: list[str] = []
    if command:
        if Path(command[0]).name != "redis-server":
            raise ValueError(f"command {command[0]!r}: the local redis runtime only runs redis-server")
        extra += list(command[1:])
    extra += list(args or ())
    return [
        find_binary("redis-server"),
        *extra,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--protected-mode",
        "yes",
        "--dir",
        str(workdir),
        "--daemonize",
        "no",
    ]
