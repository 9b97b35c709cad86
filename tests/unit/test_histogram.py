"""The latency histogram: ≤ 1% error against exact numpy percentiles, merging, JSON round trip."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from hpabench.scenarios.histogram import (
    MAX_VALUE_MS,
    SUB_BUCKETS,
    LatencyHistogram,
    bucket_key,
    bucket_midpoint,
    merge_all,
)

QUANTILES = [0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0]


def _samples(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "lognormal":  # typical web latency: ~1 ms median, long tail
        return rng.lognormal(mean=0.0, sigma=1.2, size=n)
    if kind == "bimodal":  # cache hits vs misses
        return np.concatenate([rng.normal(0.6, 0.05, n // 2).clip(0.01), rng.normal(40.0, 8.0, n - n // 2)])
    if kind == "wide":  # 1 µs .. 100 s
        return 10 ** rng.uniform(-3, 5, n)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["lognormal", "bimodal", "wide"])
def test_percentiles_within_one_percent_of_exact(kind: str) -> None:
    # 20_011 samples: no q·n/100 is an integer, where numpy's float rounding of q would pick the
    # neighbouring rank (0.999·20000 = 19980.000000000004 → rank 19981 instead of 19980).
    samples = _samples(kind, 20_011, seed=7)
    hist = LatencyHistogram()
    hist.record_many(samples.tolist())
    exact = np.percentile(samples, QUANTILES, method="inverted_cdf")
    got = hist.percentiles(QUANTILES)
    for q, want, value in zip(QUANTILES, exact, got, strict=True):
        assert abs(value - want) / want <= 0.01, (kind, q, value, want)
    # the guarantee is in fact tighter than asked: half a bucket, 1/(2·SUB_BUCKETS)
    worst = max(abs(v - w) / w for v, w in zip(got, exact, strict=True))
    assert worst <= 1.0 / (2 * SUB_BUCKETS) + 1e-12


def test_against_default_numpy_percentiles_on_large_sample() -> None:
    # With many samples the interpolating definition converges to the same values.
    samples = _samples("lognormal", 100_000, seed=3)
    hist = LatencyHistogram()
    hist.record_many(samples.tolist())
    for q in (50.0, 90.0, 95.0, 99.0):
        want = float(np.percentile(samples, q))
        assert abs(hist.percentile(q) - want) / want <= 0.01


def test_single_percentile_matches_batch_and_small_counts() -> None:
    hist = LatencyHistogram()
    for value in (5.0, 1.0, 3.0):
        hist.record(value)
    # rank = ceil(q/100·3): q=50 → 2nd smallest (3.0), q=34 → 2nd, q=33 → 1st
    assert hist.percentile(50) == pytest.approx(3.0, rel=0.004)
    assert hist.percentile(34) == pytest.approx(3.0, rel=0.004)
    assert hist.percentile(33) == pytest.approx(1.0, rel=0.004)
    assert hist.percentile(0) == 1.0  # clamped to the exact minimum
    assert hist.percentile(100) == 5.0  # exact maximum
    assert hist.percentiles([50, 33]) == [hist.percentile(50), hist.percentile(33)]


def test_count_max_min_mean_exact() -> None:
    values = [0.25, 1.5, 2.0, 1000.0]
    hist = LatencyHistogram()
    hist.record_many(values)
    assert hist.count == 4
    assert hist.max == 1000.0 and hist.min == 0.25
    assert hist.mean == pytest.approx(sum(values) / 4)


def test_empty_histogram_reports_nan() -> None:
    hist = LatencyHistogram()
    assert hist.count == 0
    assert math.isnan(hist.percentile(50)) and math.isnan(hist.mean)
    assert LatencyHistogram.from_sparse(hist.to_sparse()) == hist


def test_zero_and_negative_values_count_as_zero() -> None:
    hist = LatencyHistogram()
    hist.record_many([0.0, -0.5, 2.0])
    assert hist.count == 3 and hist.min == 0.0
    assert hist.percentile(50) == 0.0
    assert hist.percentile(100) == 2.0


def test_nan_rejected_and_bad_percentile_rejected() -> None:
    hist = LatencyHistogram()
    with pytest.raises(ValueError, match="NaN"):
        hist.record(math.nan)
    hist.record(1.0)
    with pytest.raises(ValueError, match="percentile"):
        hist.percentile(101)


def test_bucket_midpoint_within_half_bucket_of_every_member() -> None:
    rng = random.Random(1)
    for _ in range(5000):
        value = 10 ** rng.uniform(-5, 8)
        mid = bucket_midpoint(bucket_key(value))
        assert abs(mid - value) / value <= 1.0 / (2 * SUB_BUCKETS) + 1e-12


def test_merge_equals_recording_everything_in_one() -> None:
    samples = _samples("bimodal", 6000, seed=11).tolist()
    parts = [LatencyHistogram() for _ in range(3)]
    for i, value in enumerate(samples):
        parts[i % 3].record(value)
    single = LatencyHistogram()
    single.record_many(samples)
    merged = merge_all(parts)
    assert merged == single
    assert merged.percentiles(QUANTILES) == single.percentiles(QUANTILES)
    assert merged.mean == pytest.approx(single.mean)


def test_sparse_round_trip_through_json() -> None:
    hist = LatencyHistogram()
    hist.record_many([*_samples("wide", 3000, seed=5).tolist(), 0.0])
    text = json.dumps(hist.to_sparse())
    back = LatencyHistogram.from_sparse(json.loads(text))
    assert back == hist
    assert back.percentiles(QUANTILES) == hist.percentiles(QUANTILES)
    assert back.total == pytest.approx(hist.total)


def test_from_sparse_rejects_inconsistent_data() -> None:
    hist = LatencyHistogram()
    hist.record_many([1.0, 2.0])
    data = hist.to_sparse()
    with pytest.raises(ValueError, match="count"):
        LatencyHistogram.from_sparse({**data, "n": 5})
    with pytest.raises(ValueError, match="layout"):
        LatencyHistogram.from_sparse({**data, "sub": 64})


def test_memory_is_bounded_independent_of_sample_count() -> None:
    hist = LatencyHistogram()
    rng = random.Random(2)
    for _ in range(100_000):
        hist.record(10 ** rng.uniform(-1, 3))  # 0.1 ms .. 1 s
    buckets_after_100k = hist.bucket_count
    for _ in range(300_000):
        hist.record(10 ** rng.uniform(-1, 3))
    # 4x more samples from the same range add no buckets: ~13.3 octaves x 128 is all there is
    assert hist.bucket_count == buckets_after_100k <= 14 * SUB_BUCKETS
    hist.record(1e30)  # clamped, not a new far-away bucket per magnitude
    hist.record(1e-30)
    assert hist.max == MAX_VALUE_MS
    assert hist.bucket_count <= 70 * SUB_BUCKETS
