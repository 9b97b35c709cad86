"""Kubernetes quantities and the kubelet's cgroup arithmetic (millicores → quota/shares/weight)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hpabench.deploy.local.resources import (
    CFS_PERIOD_US,
    Resources,
    cfs_quota_us,
    cgroup_limits,
    container_resources,
    cpu_millicores,
    cpu_shares,
    cpu_weight,
    memory_bytes,
    parse_quantity,
    pod_resources,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("250m", 250), ("0.5", 500), ("1", 1000), (2, 2000), ("1.5", 1500), ("0.1", 100), ("100u", 1), ("1e-3", 1)],
)
def test_cpu_millicores(text: object, expected: int) -> None:
    assert cpu_millicores(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("128Mi", 128 * 2**20),
        ("1Gi", 2**30),
        ("1G", 10**9),
        ("512k", 512_000),
        ("1Ki", 1024),
        ("129e6", 129_000_000),
        (1048576, 1048576),
        ("1500m", 2),  # milli-bytes round up
    ],
)
def test_memory_bytes(text: object, expected: int) -> None:
    assert memory_bytes(text) == expected


@pytest.mark.parametrize("bad", ["", "abc", "12XB", "-1", "1..5", None, True, [1]])
def test_parse_quantity_rejects_garbage(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_quantity(bad)


def test_parse_quantity_is_exact() -> None:
    assert parse_quantity("0.1") == Decimal("0.1")


def test_cfs_quota_follows_the_kubelet() -> None:
    assert cfs_quota_us(500) == 50_000
    assert cfs_quota_us(1000) == CFS_PERIOD_US
    assert cfs_quota_us(2500) == 250_000
    assert cfs_quota_us(1) == 1_000  # clamped to the kernel's 1 ms minimum
    assert cfs_quota_us(None) is None
    assert cfs_quota_us(0) is None
    assert cfs_quota_us(500, period_us=50_000) == 25_000


def test_cpu_shares_follow_the_kubelet() -> None:
    assert cpu_shares(200) == 204
    assert cpu_shares(1000) == 1024
    assert cpu_shares(250) == 256
    assert cpu_shares(1) == 2  # never below 2
    assert cpu_shares(None) == 2
    assert cpu_shares(10**9) == 262_144


def test_cpu_weight_from_shares() -> None:
    assert cpu_weight(2) == 1
    assert cpu_weight(1024) == 39  # 1 + (1022 * 9999) // 262142
    assert cpu_weight(262_144) == 10_000
    assert cpu_weight(204) == 1 + (202 * 9999) // 262142


def test_container_resources_defaults_request_to_limit() -> None:
    res = container_resources({"limits": {"cpu": "500m", "memory": "256Mi"}})
    assert res == Resources(500, 500, 256 * 2**20, 256 * 2**20)
    assert container_resources(None) == Resources()


def test_container_resources_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match=r"limits\.cpu"):
        container_resources({"limits": {"cpu": "lots"}})


def test_pod_resources_max_of_sum_and_init() -> None:
    web = Resources(200, 500, 128, 384)
    migrate = Resources(100, 500, 64, 256)
    assert pod_resources([web], [migrate]) == Resources(200, 500, 128, 384)
    big_init = Resources(1000, 2000, 1024, 2048)
    assert pod_resources([web], [big_init]) == Resources(1000, 2000, 1024, 2048)
    # one container without a limit: the pod cgroup is unlimited for that resource
    assert pod_resources([web, Resources(100, None, 10, None)], []).cpu_limit_millicores is None
    assert pod_resources([web], [Resources(100, None, 10, None)]).cpu_limit_millicores is None


def test_cgroup_limits_for_the_web_pod() -> None:
    limits = cgroup_limits(Resources(200, 500, 128 * 2**20, 384 * 2**20))
    assert limits.cpu_period_us == 100_000
    assert limits.cpu_quota_us == 50_000
    assert limits.cpu_shares == 204
    assert limits.cpu_weight == cpu_weight(204)
    assert limits.memory_limit_bytes == 384 * 2**20
    unlimited = cgroup_limits(Resources(250, None, None, None))
    assert unlimited.cpu_quota_us is None
    assert unlimited.memory_limit_bytes is None
