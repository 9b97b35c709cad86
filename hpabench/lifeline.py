"""Every child dies with its parent: a parent-death signal for Locust, a lifeline for the rest.

Two mechanisms, because one is not enough:

* `die_with_parent` (a `preexec_fn`): `prctl(PR_SET_PDEATHSIG, SIGKILL)` in the child, so the
  kernel kills Locust the instant the runner dies — even by SIGKILL or the OOM killer — and no
  load keeps flowing. It only holds for children forked by a thread that lives as long as the
  process (the main thread) and is cleared when a child changes its credentials (`setpriv`),
  so it cannot cover pods or servers.
* The *lifeline*: `Lifeline.start(run_path)` spawns a small reaper (`python -m hpabench.lifeline`)
  in its own session, holding the read end of a pipe whose write end only the runner has. When
  the runner exits normally it calls `release()` (writes `RELEASE`, the reaper exits quietly). If
  the runner dies any other way the kernel closes the pipe, the reaper reads EOF and runs
  `reap(run_path)`: it stops whatever the run's stack record (`stack.json`) lists — Locust
  first — and marks the manifest `interrupted` with the flag `runner_died`.

`reap` is also what `hpabench down --run DIR` uses, so cleanup after a crash is one code path.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hpabench.rundir import STATUS_INTERRUPTED, STATUS_RUNNING, EventLog, RunDir
from hpabench.stack import (
    STACK_FILE,
    STATE_RELEASED,
    StackRecord,
    clean,
    leftovers,
    owner_alive,
    read_stack,
)

PR_SET_PDEATHSIG = 1
RELEASE = b"R"
REAPER_LOG = "reaper.log"
RELEASE_WAIT_S = 10.0
RUNNER_STOP_WAIT_S = 180.0  # a runner asked to stop tears down first (pods get their grace)
FLAG_RUNNER_DIED = "runner_died"
FLAG_TEARDOWN_INCOMPLETE = "teardown_incomplete"


# Resolved in the parent: between fork and exec the child must not dlopen (the loader's lock may
# be held by another thread of ours at the fork), only call an address already known.
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl


def die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when the thread that forked it dies (Linux only)."""
    if _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


class Lifeline:
    """The runner's end of the lifeline (see the module docstring)."""

    def __init__(self, proc: subprocess.Popen[bytes], write_fd: int) -> None:
        self.proc = proc
        self._write_fd: int | None = write_fd

    @classmethod
    def start(cls, run_path: Path, record: StackRecord) -> Lifeline:
        read_fd, write_fd = os.pipe()  # both non-inheritable: no other child holds the pipe
        try:
            with (Path(run_path) / REAPER_LOG).open("ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "hpabench.lifeline", "--run", str(run_path), "--fd", str(read_fd)],
                    pass_fds=(read_fd,),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C in the terminal must not reach the reaper
                )
        except BaseException:
            os.close(write_fd)
            raise
        finally:
            os.close(read_fd)
        record.set_owner("reaper", proc.pid)
        return cls(proc, write_fd)

    def release(self) -> None:
        """The runner is done and has torn down: let the reaper exit without doing anything."""
        if self._write_fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.write(self._write_fd, RELEASE)
        finally:
            os.close(self._write_fd)
            self._write_fd = None
        try:
            self.proc.wait(timeout=RELEASE_WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=RELEASE_WAIT_S)


def reap(run_path: Path, by: str) -> list[str]:
    """Clean up a run whose runner is gone, record it honestly; what could not be removed.

    The manifest of a run still marked `running` becomes `interrupted` with the flag
    `runner_died` (plus `teardown_incomplete` if something is left); a `fault` event says who
    cleaned up. A record already released (the runner tore down itself) is left alone.
    """
    run_path = Path(run_path)
    record = read_stack(run_path)
    if record is None:
        return []
    left = clean(record) if record.get("state") != STATE_RELEASED else leftovers(record)
    run = RunDir(run_path)
    manifest = run.read_manifest()
    if manifest.get("status") == STATUS_RUNNING:
        flags = set(manifest.get("flags") or []) | {FLAG_RUNNER_DIED}
        if left:
            flags.add(FLAG_TEARDOWN_INCOMPLETE)
        pid = (record.get("runner") or {}).get("pid")
        message = f"the runner (pid {pid}) died without tearing down; its stack was stopped by {by}"
        events = EventLog(run_path / "events.jsonl")
        try:
            events.emit("fault", message=message, flag=FLAG_RUNNER_DIED, by=by)
            events.emit("stage", stage="teardown", state="finished", by=by, complete=not left, leftovers=left)
        finally:
            events.close()
        run.update_manifest(status=STATUS_INTERRUPTED, flags=sorted(flags), error=message, finished_at=time.time())
    if not left:
        StackRecord(run_path / STACK_FILE).release()
    return left


def stop_run(run_path: Path, timeout_s: float = RUNNER_STOP_WAIT_S) -> list[str]:
    """`hpabench down --run DIR`: ask a live runner to stop (SIGTERM; it tears down itself),
    SIGKILL it if it does not exit in time, then `reap` whatever is left; the leftovers."""
    record = read_stack(run_path)
    if record is None:
        return []
    runner = record.get("runner") or {}
    if owner_alive(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(runner["pid"]), signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while owner_alive(record) and time.monotonic() < deadline:
            time.sleep(0.1)
        if owner_alive(record):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(runner["pid"]), signal.SIGKILL)
            while owner_alive(record) and time.monotonic() < deadline + 10.0:
                time.sleep(0.05)
    # A reaper busy with this run is racing us; both are idempotent, so wait for it briefly.
    deadline = time.monotonic() + timeout_s
    while owner_alive(read_stack(run_path) or {}, "reaper") and time.monotonic() < deadline:
        time.sleep(0.1)
    return reap(run_path, by="hpabench down")


def active_runs(reports_dir: Path) -> list[dict[str, Any]]:
    """Run directories under `reports_dir` whose stack record is still active: {run_dir, record}."""
    found = []
    for path in sorted(Path(reports_dir).glob(f"*/{STACK_FILE}")):
        record = read_stack(path)
        if record is not None and record.get("state") != STATE_RELEASED:
            found.append({"run_dir": str(path.parent), "record": record, "runner_alive": owner_alive(record)})
    return found


def _reaper_main(run_path: Path, fd: int) -> int:
    """Block on the lifeline; on EOF without RELEASE the runner died: reap its run."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the pipe decides
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 64)
        except InterruptedError:
            continue
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    if RELEASE in b"".join(chunks):
        return 0
    print(f"{time.strftime('%H:%M:%S')} runner gone; reaping {run_path}", flush=True)
    left = reap(run_path, by="the lifeline reaper")
    for line in left:
        print(f"left behind: {line}", flush=True)
    return 1 if left else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="hpabench lifeline reaper (started by `hpabench run`)")
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args(argv)
    return _reaper_main(args.run, args.fd)


if __name__ == "__main__":
    sys.exit(main())
