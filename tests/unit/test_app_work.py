"""The CPU-bound work function: deterministic, proportional to its cost, refuses nonsense."""

from __future__ import annotations

import hashlib

import pytest

from hpabench_refapp.work import burn_cpu


def test_cost_zero_is_the_seed_and_one_round_is_one_sha256() -> None:
    assert burn_cpu(0) == b"hpabench-work".hex()
    assert burn_cpu(1) == hashlib.sha256(b"hpabench-work").hexdigest()


def test_rounds_chain_digests() -> None:
    digest = b"hpabench-work"
    for _ in range(50):
        digest = hashlib.sha256(digest).digest()
    assert burn_cpu(50) == digest.hex()
    assert burn_cpu(50) != burn_cpu(51)


def test_negative_cost_is_refused() -> None:
    with pytest.raises(ValueError, match="cost must be >= 0"):
        burn_cpu(-1)
