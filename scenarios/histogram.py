"""An HDR-style log-linear latency histogram: bounded memory, ≤ 0.4% relative error, mergeable.

Contract
--------
* `record(value_ms)` files a latency (milliseconds, float) into a bucket. Buckets are log-linear:
  every power of two is split into `SUB_BUCKETS` (128) equal-width sub-buckets, so a bucket is at
  most 1/128 of its lower edge wide and a value reported at the bucket's midpoint is within
  1/256 ≈ 0.39% of every value recorded in it (the issue asks for ≤ 1%).
* Values ≤ 0 are counted exactly as 0; values are clamped to [`MIN_VALUE_MS`, `MAX_VALUE_MS`]
  (1 ns .. ~11.6 days), so the number of distinct buckets — and memory — is bounded (≤ 70 octaves
  × 128) no matter how many samples are recorded. NaN is rejected.
* `percentile(q)` (q in [0, 100]) is the value at rank ceil(q/100·count) (numpy's
  `method="inverted_cdf"`), reported at its bucket's midpoint and clamped to the exact recorded
  min/max, so `percentile(100) == max` exactly. NaN when empty.
* `count`, `max`, `min` are exact; `mean` is exact up to float summation.
* `merge(other)` adds another histogram (same layout) in place: merging per-process or per-second
  histograms gives the same percentiles as recording every sample into one.
* `to_sparse()` / `from_sparse()` round-trip through plain JSON types (only non-empty buckets,
  keys delta-encoded) — the `hist` column of `client_stats`.

Pure Python on purpose: it runs inside Locust's gevent processes on every request, where a
`math.frexp` and a dict increment (~0.3 µs) is cheaper than any numpy call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

SUB_BUCKETS = 128
"""Linear sub-buckets per power of two; relative bucket width ≤ 1/SUB_BUCKETS."""

MIN_VALUE_MS = 1e-6
MAX_VALUE_MS = 1e9
SPARSE_VERSION = 1


def bucket_key(value_ms: float) -> int:
    """The bucket index of a positive value: exponent·SUB_BUCKETS + linear sub-bucket."""
    mantissa, exponent = math.frexp(value_ms)  # value = mantissa · 2**exponent, 0.5 ≤ mantissa < 1
    return exponent * SUB_BUCKETS + int((mantissa - 0.5) * (2 * SUB_BUCKETS))


def bucket_midpoint(key: int) -> float:
    """The representative (midpoint) value of bucket `key`, in the unit values were recorded in."""
    exponent, sub = divmod(key, SUB_BUCKETS)
    return math.ldexp(0.5 + (sub + 0.5) / (2 * SUB_BUCKETS), exponent)


class LatencyHistogram:
    """See the module docstring. Not thread-safe (one per gevent process is the intended use)."""

    __slots__ = ("_counts", "_zero", "count", "max", "min", "total")

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self._zero = 0
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    # -- recording --------------------------------------------------------------------------
    def record(self, value_ms: float) -> None:
        """Add one sample (milliseconds)."""
        if value_ms > 0.0:
            if value_ms < MIN_VALUE_MS:
                value_ms = MIN_VALUE_MS
            elif value_ms > MAX_VALUE_MS:
                value_ms = MAX_VALUE_MS
            mantissa, exponent = math.frexp(value_ms)
            key = exponent * SUB_BUCKETS + int((mantissa - 0.5) * (2 * SUB_BUCKETS))
            counts = self._counts
            counts[key] = counts.get(key, 0) + 1
        elif value_ms == value_ms:  # zero or negative (clock step): counted as 0
            value_ms = 0.0
            self._zero += 1
        else:
            raise ValueError("cannot record NaN")
        self.count += 1
        self.total += value_ms
        if value_ms > self.max:
            self.max = value_ms
        if value_ms < self.min:
            self.min = value_ms

    def record_many(self, values_ms: Iterable[float]) -> None:
        for value in values_ms:
            self.record(value)

    def merge(self, other: LatencyHistogram) -> LatencyHistogram:
        """Add `other`'s samples into this histogram (in place); returns self."""
        counts = self._counts
        for key, n in other._counts.items():
            counts[key] = counts.get(key, 0) + n
        self._zero += other._zero
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)
        self.min = min(self.min, other.min)
        return self

    def copy(self) -> LatencyHistogram:
        return LatencyHistogram().merge(self)

    # -- reading ----------------------------------------------------------------------------
    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    @property
    def bucket_count(self) -> int:
        """Number of non-empty buckets (the memory footprint, bounded by the clamp range)."""
        return len(self._counts) + (1 if self._zero else 0)

    def percentile(self, q: float) -> float:
        """Value at percentile `q` (0..100); NaN when empty. See the module docstring."""
        return self.percentiles([q])[0]

    def percentiles(self, qs: Sequence[float]) -> list[float]:
        """Several percentiles in one pass over the sorted buckets (same definition as above)."""
        for q in qs:
            if not 0.0 <= q <= 100.0:
                raise ValueError(f"percentile must be within [0, 100], got {q}")
        if self.count == 0:
            return [math.nan] * len(qs)
        ranks = [max(1, math.ceil(q / 100.0 * self.count - 1e-9)) for q in qs]
        order = sorted(range(len(qs)), key=lambda i: ranks[i])
        results = [math.nan] * len(qs)
        cumulative = self._zero
        keys = sorted(self._counts)
        key_index = 0
        for i in order:
            rank = ranks[i]
            if rank <= self._zero:
                results[i] = 0.0
                continue
            if rank == 1 or rank == self.count:  # the extremes are known exactly
                results[i] = self.min if rank == 1 else self.max
                continue
            while cumulative < rank and key_index < len(keys):
                cumulative += self._counts[keys[key_index]]
                key_index += 1
            position = key_index - 1
            value = bucket_midpoint(keys[position]) if position >= 0 else self.max
            results[i] = min(max(value, self.min), self.max)
        return results

    # -- serialisation ----------------------------------------------------------------------
    def to_sparse(self) -> dict[str, Any]:
        """Plain-JSON form: only non-empty buckets, keys delta-encoded (compact per-second rows)."""
        keys = sorted(self._counts)
        deltas: list[int] = []
        previous = 0
        for key in keys:
            deltas.append(key - previous)
            previous = key
        return {
            "v": SPARSE_VERSION,
            "sub": SUB_BUCKETS,
            "n": self.count,
            "sum": self.total,
            "min": self.min if self.count else None,
            "max": self.max if self.count else None,
            "zero": self._zero,
            "keys": deltas,
            "counts": [self._counts[key] for key in keys],
        }

    @classmethod
    def from_sparse(cls, data: dict[str, Any]) -> LatencyHistogram:
        """Inverse of `to_sparse`; raises ValueError on a different layout or inconsistent data."""
        if data.get("v") != SPARSE_VERSION or data.get("sub") != SUB_BUCKETS:
            raise ValueError(f"unsupported histogram layout v={data.get('v')} sub={data.get('sub')}")
        deltas, counts = data["keys"], data["counts"]
        if len(deltas) != len(counts):
            raise ValueError("histogram keys and counts differ in length")
        hist = cls()
        key = 0
        for delta, n in zip(deltas, counts, strict=True):
            key += int(delta)
            hist._counts[key] = int(n)
        hist._zero = int(data["zero"])
        hist.count = int(data["n"])
        if hist.count != hist._zero + sum(hist._counts.values()):
            raise ValueError("histogram count does not match its buckets")
        hist.total = float(data["sum"])
        if hist.count:
            hist.min = float(data["min"])
            hist.max = float(data["max"])
        return hist

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencyHistogram):
            return NotImplemented
        return (
            self._counts == other._counts
            and self._zero == other._zero
            and self.count == other.count
            and self.min == other.min
            and self.max == other.max
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"LatencyHistogram(count={self.count}, buckets={self.bucket_count})"


def merge_all(histograms: Iterable[LatencyHistogram]) -> LatencyHistogram:
    """A new histogram holding every sample of `histograms`."""
    merged = LatencyHistogram()
    for hist in histograms:
        merged.merge(hist)
    return merged
