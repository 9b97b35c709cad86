"""Signal discipline for teardown, and named fault points for tests that interrupt from inside.

`deferred_signals()` — a context manager for work that must finish once started (tearing a stack
down, finalizing the manifest): SIGINT and SIGTERM received inside it are *recorded*, not raised,
so no wait inside a `stop()` is cut short and no later step is skipped. On exit the previous
handlers come back; `Deferred.received` says which signals arrived, and the caller decides what
they mean (the pipeline: the run is `interrupted`, exit 130). Only the main thread may install
handlers; elsewhere the context manager does nothing (signals only ever run there anyway).

`fault_point(name)` — when the environment variable `HPABENCH_SIGNAL_AT` names this point, the
process sends itself the named signal at exactly this moment, e.g.

    HPABENCH_SIGNAL_AT=teardown.mid:SIGINT hpabench run ...
    HPABENCH_SIGNAL_AT=load.running:SIGKILL,teardown.started:SIGTERM

Points are `<stage>.<state>` for every pipeline stage event (`render.started`, `load.finished`, …)
plus `deploy.servers_started` (HAProxy and Prometheus started, pods not yet), `load.running`
(the load has begun), `load.stopping` (the driver stops Locust), `teardown.mid` (between the app and the backing tiers
of the local stop) and `analyze.started` / `report.started`. Each point fires at most once per
process. Unset (the normal case) it costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

ENV_SIGNAL_AT = "HPABENCH_SIGNAL_AT"
DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_fired: set[tuple[str, str]] = set()
_fired_lock = threading.Lock()


@dataclass
class Deferred:
    """Signals received while deferred, in arrival order (signal numbers)."""

    received: list[int] = field(default_factory=list)

    @property
    def interrupted(self) -> bool:
        return bool(self.received)

    def names(self) -> list[str]:
        return [signal.Signals(s).name for s in self.received]


@contextmanager
def deferred_signals(signals: tuple[int, ...] = DEFERRED_SIGNALS) -> Iterator[Deferred]:
    """Record instead of raise SIGINT/SIGTERM inside the block (see the module docstring)."""
    deferred = Deferred()
    if threading.current_thread() is not threading.main_thread():
        yield deferred
        return

    def record(signum: int, frame: FrameType | None) -> None:
        deferred.received.append(signum)

    previous = {sig: signal.signal(sig, record) for sig in signals}
    try:
        yield deferred
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _parse(spec: str) -> dict[str, int]:
    """`point:SIGNAL,point2:SIGNAL2` → {point: signum} (unknown signal names are ignored)."""
    points: dict[str, int] = {}
    for item in spec.split(","):
        name, _, sig = item.strip().partition(":")
        sig = sig.strip().upper() or "SIGINT"
        if not sig.startswith("SIG"):
            sig = f"SIG{sig}"
        number = getattr(signal.Signals, sig, None)
        if name and number is not None:
            points[name.strip()] = int(number)
    return points


def reset_fault_points() -> None:
    """Let every point fire again (tests that run several pipelines in one process)."""
    with _fired_lock:
        _fired.clear()


def fault_point(name: str) -> None:
    """Signal ourselves if `HPABENCH_SIGNAL_AT` names `name` (once per process; see module doc)."""
    spec = os.environ.get(ENV_SIGNAL_AT)
    if not spec:
        return
    signum = _parse(spec).get(name)
    if signum is None:
        return
    with _fired_lock:
        if (spec, name) in _fired:
            return
        _fired.add((spec, name))
    # os.kill checks pending signals before it returns, so a Python handler runs right here.
    os.kill(os.getpid(), signum)
