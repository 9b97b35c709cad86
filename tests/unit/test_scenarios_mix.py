"""The route mix and think time draws."""

from __future__ import annotations

import random
import statistics
from collections import Counter

import pytest

from hpabench.scenarios.drive.mix import RoutePicker, think_time_s
from hpabench.scenarios.spec import Mix, ThinkTime


def test_routes_follow_their_weights() -> None:
    mix = Mix.model_validate(
        {"hot_read": {"weight": 6}, "cold_read": {"weight": 2}, "write": {"weight": 1}, "cpu": {"weight": 1}}
    )
    picker = RoutePicker(mix, random.Random(1))
    counts = Counter(picker.pick().route for _ in range(50_000))
    for route, share in {"hot_read": 0.6, "cold_read": 0.2, "write": 0.1, "cpu": 0.1}.items():
        assert counts[route] / 50_000 == pytest.approx(share, abs=0.01)


def test_zero_weight_routes_are_never_drawn() -> None:
    mix = Mix.model_validate({"hot_read": {"weight": 0}, "cold_read": {"weight": 0}, "write": {"weight": 0}})
    picker = RoutePicker(mix, random.Random(2))
    assert {picker.pick().route for _ in range(1000)} == {"cpu"}


def test_request_parameters_come_from_the_spec() -> None:
    mix = Mix.model_validate(
        {
            "hot_read": {"weight": 1, "ids": 5},
            "cold_read": {"weight": 1, "id_min": 100, "id_max": 200},
            "write": {"weight": 1, "id_max": 7, "quantity_max": 2},
            "cpu": {"weight": 1, "cost": 1234},
        }
    )
    picker = RoutePicker(mix, random.Random(3))
    seen: dict[str, set[str]] = {}
    for _ in range(4000):
        request = picker.pick()
        if request.route == "hot_read":
            assert request.method == "GET" and 1 <= int(request.path.split("/")[-1]) <= 5
        elif request.route == "cold_read":
            assert 100 <= int(request.path.split("/")[-1]) <= 200
        elif request.route == "write":
            assert (request.method, request.path) == ("POST", "/orders")
            assert request.json is not None
            assert 1 <= request.json["item_id"] <= 7 and 1 <= request.json["quantity"] <= 2
        else:
            assert request.path == "/work?cost=1234"
        seen.setdefault(request.route, set()).add(request.path)
    assert len(seen["hot_read"]) == 5  # the whole hot set is used
    assert len(seen["cold_read"]) > 90  # the large key space is spread


def test_same_seed_same_traffic() -> None:
    a = RoutePicker(Mix(), random.Random(42))
    b = RoutePicker(Mix(), random.Random(42))
    assert [a.pick() for _ in range(100)] == [b.pick() for _ in range(100)]


def test_think_time_distributions() -> None:
    rng = random.Random(4)
    uniform = [think_time_s(ThinkTime(mean_s=1.0, jitter=0.5), rng) for _ in range(20_000)]
    assert min(uniform) >= 0.5 and max(uniform) <= 1.5
    assert statistics.mean(uniform) == pytest.approx(1.0, abs=0.01)
    expo = [think_time_s(ThinkTime(distribution="exponential", mean_s=0.2), rng) for _ in range(20_000)]
    assert statistics.mean(expo) == pytest.approx(0.2, rel=0.03)
    assert statistics.stdev(expo) == pytest.approx(0.2, rel=0.05)
    assert think_time_s(ThinkTime(distribution="constant", mean_s=0.3), rng) == 0.3
    assert think_time_s(ThinkTime(mean_s=0.0), rng) == 0.0
