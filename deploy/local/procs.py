"""Starting and stopping the local target's processes.

`launch` starts a command that first puts *itself* into the given cgroup `procs_files`, then
(when running as root and a `RunAs` is given) drops to that uid/gid with `setpriv`, then execs
the workload. So the workload and every child it forks are inside the pod's cgroup from their
first instruction, and the cgroup write happens while still privileged.

Every process gets its own session (process group), stdin from /dev/null and stdout+stderr
appended to a log file, so logs survive restarts and a whole tree can be signalled.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hpabench.deploy.local.binaries import find_binary

# $0 is a label; then procs files until "--", then the command. `exit 125`: the cgroup write
# failed, so the workload never runs outside its limits.
_ATTACH_SCRIPT = 'for f do shift; [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; done; exec "$@"'


@dataclass(frozen=True)
class RunAs:
    """An unprivileged identity to run a workload as (only applied when we are root)."""

    uid: int
    gid: int

    @classmethod
    def user(cls, name: str) -> RunAs:
        """The identity of a system user (KeyError if it does not exist)."""
        entry = pwd.getpwnam(name)
        return cls(entry.pw_uid, entry.pw_gid)


def is_root() -> bool:
    return os.geteuid() == 0


def wrap_command(argv: list[str], procs_files: list[Path], run_as: RunAs | None) -> list[str]:
    """The full argv: optional cgroup self-attach, optional privilege drop, then `argv` (pure)."""
    command = list(argv)
    if run_as is not None and is_root():
        setpriv = find_binary("setpriv")
        command = [
            setpriv,
            f"--reuid={run_as.uid}",
            f"--regid={run_as.gid}",
            "--clear-groups",
            "--",
            *command,
        ]
    if procs_files:
        command = ["/bin/sh", "-c", _ATTACH_SCRIPT, "hpabench-attach", *map(str, procs_files), "--", *command]
    return command


def launch(
    argv: list[str],
    env: dict[str, str],
    log_path: Path,
    cwd: Path | None = None,
    procs_files: list[Path] | None = None,
    run_as: RunAs | None = None,
    stdin_data: bytes | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` (see module docstring). The caller owns the returned process."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            wrap_command(argv, procs_files or [], run_as),
            env=env,
            cwd=str(cwd) if cwd else None,
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )


def signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Send `sig` to the process group of `proc` (its whole tree unless a child re-grouped)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def stop_process(proc: subprocess.Popen[bytes], grace_s: float, stop_signal: int = signal.SIGTERM) -> int | None:
    """`stop_signal` to the main process, SIGKILL to its group after `grace_s`; returns the exit code.

    Like the kubelet, the stop signal goes to the container's main process only (it is
    responsible for its children); the kill at the end takes the whole group.
    """
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(stop_signal)
        try:
            proc.wait(timeout=max(grace_s, 0.0))
        except subprocess.TimeoutExpired:
            signal_group(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5.0)
    # Reap stragglers of the group even if the main process exited on its own.
    signal_group(proc, signal.SIGKILL)
    return proc.returncode


def wait_exit(proc: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    """Wait up to timeout_s for `proc` to exit; its exit code or None if still running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            return code
        time.sleep(0.02)
    return proc.poll()


def log_tail(path: Path, max_bytes: int = 2000) -> str:
    """The last `max_bytes` of a log file (for error messages); empty if absent."""
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - max_bytes))
            return log.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
