"""The CPU-bound work of `GET /work`: iterated SHA-256, a pure function of its cost.

Contract: `burn_cpu(cost)` runs `cost` rounds of SHA-256 over a 32-byte digest, synchronously,
holding the GIL between rounds, and returns the final digest as hex. The time it takes is linear
in `cost` (about 0.3 µs a round on a current x86 core), so CPU-based autoscaling has something
proportional to react to. It is deliberately run on the event loop, not in a thread: one pod then
behaves like one busy single-threaded server process, as a Python web pod does in production.
"""

from __future__ import annotations

import hashlib

_SEED = b"hpabench-work"


def burn_cpu(cost: int) -> str:
    """Hash `cost` times (cost >= 0) and return the last digest in hex (deterministic)."""
    if cost < 0:
        raise ValueError("cost must be >= 0")
    sha256 = hashlib.sha256  # local name: the loop is the hot path
    digest = _SEED
    for _ in range(cost):
        digest = sha256(digest).digest()
    return digest.hex()
