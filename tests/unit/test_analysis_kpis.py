"""Every KPI function against hand-computed expectations on small frames, incl. edge cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from hpabench.analysis import fairness, generator, provisioning, scaling, slo
from hpabench.analysis.latency import ClientHistograms, latency_stats, route_rows
from hpabench.analysis.phases import LoadChange, detect_phases, load_changes
from hpabench.scenarios.histogram import LatencyHistogram


def client_frame(per_second: dict[float, list[float]], failures: dict[float, int] | None = None) -> pd.DataFrame:
    """ALL-route rows whose histograms hold exactly the given latencies (ms)."""
    rows = []
    for t, values in per_second.items():
        hist = LatencyHistogram()
        hist.record_many(values)
        rows.append(
            {
                "t_s": t,
                "route": "ALL",
                "requests": len(values),
                "failures": (failures or {}).get(t, 0),
                "p95_ms": float(np.percentile(values, 95)) if values else math.nan,
                "hist": json.dumps(hist.to_sparse()) if values else None,
            }
        )
    return pd.DataFrame(rows)


# --- latency ------------------------------------------------------------------------------------


def test_percentiles_come_from_merged_histograms_not_averages() -> None:
    fast = [float(v) for v in range(1, 101)]  # second 0: 1..100 ms
    slow = [float(v) for v in range(1001, 1101)]  # second 1: 1001..1100 ms
    hists = ClientHistograms(client_frame({0.0: fast, 1.0: slow}, {1.0: 5}))
    stats = latency_stats(hists, 0.0, 2.0)
    exact = np.percentile(fast + slow, [50, 95, 99], method="inverted_cdf")
    assert stats.p50_ms == pytest.approx(exact[0], rel=0.005)  # 100 ms
    assert stats.p95_ms == pytest.approx(exact[1], rel=0.005)  # 1090 ms
    assert stats.p99_ms == pytest.approx(exact[2], rel=0.005)
    averaged = (np.percentile(fast, 50) + np.percentile(slow, 50)) / 2
    assert abs(stats.p50_ms - averaged) > 400  # the average of medians would be ~550 ms
    assert stats.requests == 200 and stats.failures == 5
    assert stats.error_rate == pytest.approx(0.025)
    assert stats.throughput_rps == pytest.approx(100.0)
    assert stats.max_ms == 1100.0 and stats.mean_ms == pytest.approx(np.mean(fast + slow))
    assert stats.hist_coverage == 1.0
    only_first = latency_stats(hists, 0.0, 1.0)
    assert only_first.p95_ms == pytest.approx(95.0, rel=0.005) and only_first.requests == 100


def test_missing_histograms_give_none_and_partial_coverage() -> None:
    frame = client_frame({0.0: [10.0, 20.0], 1.0: [30.0, 40.0]})
    frame.loc[1, "hist"] = "{not json"
    stats = latency_stats(ClientHistograms(frame), 0.0, 2.0)
    assert stats.hist_coverage == 0.5 and stats.max_ms == 20.0
    frame["hist"] = None
    stats = latency_stats(ClientHistograms(frame), 0.0, 2.0)
    assert stats.p95_ms is None and stats.requests == 4 and stats.hist_coverage == 0.0
    empty = latency_stats(ClientHistograms(frame.iloc[0:0]), 0.0, 10.0)
    assert empty.requests == 0 and empty.error_rate is None and empty.p50_ms is None


def test_route_rows_falls_back_to_all_routes() -> None:
    frame = pd.DataFrame({"t_s": [0.0, 0.0], "route": ["/a", "/b"], "requests": [1, 2]})
    assert len(route_rows(frame)) == 2
    assert len(route_rows(frame, "/a")) == 1


# --- phases -------------------------------------------------------------------------------------


def planned(levels: list[tuple[str, float, int]], column: str = "rps") -> pd.DataFrame:
    rows = []
    t = 0.0
    for stage, level, seconds in levels:
        for _ in range(seconds):
            rows.append({"t_s": t, "stage": stage, "users": math.nan, "rps": math.nan, column: level})
            t += 1.0
    return pd.DataFrame(rows)


def test_phases_and_changes_from_the_planned_curve() -> None:
    frame = planned([("a", 10, 10), ("b", 50, 10), ("c", 10, 10), ("a", 10.5, 10)])
    phases = detect_phases(frame, duration_s=40)
    assert [(p.name, p.start_s, p.end_s) for p in phases] == [
        ("a", 0, 10),
        ("b", 10, 20),
        ("c", 20, 30),
        ("a#2", 30, 40),
    ]
    assert phases[1].level == 50 and phases[1].unit == "rps"
    changes = load_changes(phases)
    assert [(c.t_s, c.direction, c.before, c.after) for c in changes] == [(10, "up", 10, 50), (20, "down", 50, 10)]


def test_phases_clipped_to_an_interrupted_run() -> None:
    phases = detect_phases(planned([("a", 10, 10), ("b", 50, 10), ("c", 10, 10)]), duration_s=15)
    assert [(p.name, p.end_s, p.truncated) for p in phases] == [("a", 10, False), ("b", 15, True)]


def test_phases_without_plan_use_load_stages_or_one_phase() -> None:
    load = pd.DataFrame({"t_s": [0.0, 1.0, 2.0, 3.0], "stage": ["x", "x", "y", "y"], "planned_users": [5, 5, 20, 20]})
    phases = detect_phases(pd.DataFrame(), 4.0, load)
    assert [(p.name, p.start_s, p.end_s, p.unit) for p in phases] == [("x", 0, 2, "users"), ("y", 2, 4, "users")]
    assert load_changes(phases)[0].direction == "up"
    only = detect_phases(pd.DataFrame(), 30.0, None)
    assert [(p.name, p.start_s, p.end_s) for p in only] == [("run", 0.0, 30.0)]
    assert load_changes(only) == []


# --- scaling ------------------------------------------------------------------------------------


def hpa_frame(rows: list[tuple[float, int, int, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "t_s": t,
                "current_replicas": cur,
                "desired_replicas": des,
                "raw_recommendation": raw,
                "metrics_age_s": age,
                "scaling_limited": False,
            }
            for t, cur, des, raw, age in rows
        ]
    )


def test_reaction_ready_settling_and_lag_breakdown() -> None:
    # load up at t=10; sync 12 does not see it yet; sync 27 wants 3 but holds; sync 42 scales 1 → 3;
    # the new pods are ready at t=50
    hpa = hpa_frame([(2, 1, 1, 1, 6.0), (12, 1, 1, 1, 5.0), (27, 1, 1, 3, 5.0), (42, 1, 3, 3, 4.0), (57, 3, 3, 3, 4.0)])
    at_s = np.arange(0.0, 120.0)
    ready = np.where(at_s >= 50, 3.0, 1.0)
    change = LoadChange(10.0, "spike", 10.0, 100.0, "up")
    r = scaling.respond(change, 120.0, hpa, at_s, ready, quiet_s=30)
    assert r.reaction_s == 32.0
    assert (r.sync_wait_s, r.metrics_s, r.hold_s) == (2.0, 15.0, 15.0)
    assert r.ready_s == 40.0 and r.pod_start_s == 8.0
    assert r.sync_wait_s + r.metrics_s + r.hold_s + r.pod_start_s == r.ready_s
    assert r.metrics_age_s == 4.0  # the age of the metrics the rescale used
    assert r.settling_s == 40.0
    assert r.replicas_before == 1.0 and r.replicas_target == 3.0
    # the same change seen until t=70 only: 20 s after the last change is under quiet_s
    assert scaling.respond(change, 70.0, hpa, at_s, ready, quiet_s=30).settling_s is None


def test_no_scaling_and_capacity_never_ready() -> None:
    at_s = np.arange(0.0, 60.0)
    change = LoadChange(10.0, "spike", 10.0, 100.0, "up")
    flat = hpa_frame([(2, 1, 1, 1, 5.0), (17, 1, 1, 1, 5.0), (32, 1, 1, 1, 5.0)])
    r = scaling.respond(change, 60.0, flat, at_s, np.ones(60), quiet_s=30)
    assert r.reaction_s is None and r.ready_s is None and r.hold_s is None
    assert r.settling_s == 0.0  # replicas never changed
    scaled = hpa_frame([(17, 1, 4, 4, 5.0)])
    never = scaling.respond(change, 60.0, scaled, at_s, np.where(at_s >= 30, 2.0, 1.0), quiet_s=30)
    assert never.reaction_s == 7.0 and never.ready_s is None and never.pod_start_s is None
    nothing = scaling.respond(change, 60.0, hpa_frame([]).reindex(columns=flat.columns), at_s, np.ones(60))
    assert nothing.reaction_s is None


def test_scale_down_response() -> None:
    hpa = hpa_frame([(5, 4, 4, 1, 10.0), (20, 4, 4, 1, 10.0), (35, 4, 1, 1, 10.0)])
    at_s = np.arange(0.0, 120.0)
    ready = np.where(at_s >= 36, 1.0, 4.0)
    r = scaling.respond(LoadChange(0.0, "calm", 100.0, 10.0, "down"), 120.0, hpa, at_s, ready, quiet_s=30)
    assert r.reaction_s == 35.0 and r.ready_s == 36.0 and r.settling_s == 36.0
    assert (r.sync_wait_s, r.metrics_s, r.hold_s, r.pod_start_s) == (5.0, 0.0, 30.0, 1.0)


def test_stability_counts_reversals_and_flaps() -> None:
    rows = [(10, 1, 3, 3, 1.0), (20, 3, 3, 3, 1.0), (30, 3, 1, 1, 1.0), (40, 1, 2, 2, 1.0), (50, 2, 1, 1, 1.0)]
    stab = scaling.stability(hpa_frame(rows), change_times_s=[25.0])
    assert stab.scale_events == 4 and stab.scale_ups == 2 and stab.scale_downs == 2
    assert stab.reversals == 3
    assert stab.flaps == 2  # 30→40 and 40→50 happen with no load change between them
    assert stab.replica_changes == 6.0
    assert stab.oscillation_index == pytest.approx(6.0 / 4.0)  # 1→3→1 would have sufficed
    none = scaling.stability(hpa_frame([(10, 2, 2, 2, 1.0)]), [])
    assert none.scale_events == 0 and none.oscillation_index is None
    one_way = scaling.stability(hpa_frame([(10, 1, 3, 3, 1.0)]), [])
    assert one_way.oscillation_index == 1.0  # a single clean rise
    staircase = scaling.stability(hpa_frame([(10, 1, 4, 4, 1.0), (20, 4, 2, 2, 1.0), (30, 2, 3, 3, 1.0)]), [])
    assert staircase.oscillation_index == pytest.approx(6.0 / 4.0)  # 1→4→3 needs 3+1, moved 3+2+1
    assert scaling.mean_of([None, 2.0, 4.0]) == 3.0 and scaling.mean_of([None]) is None


# --- provisioning -------------------------------------------------------------------------------


def test_spec_elasticity_metrics() -> None:
    supply = np.array([1.0, 1.0, 2.0, 2.0, 3.0])
    need = np.array([1.0, 2.0, 2.0, 3.0, 3.0])
    e = provisioning.elasticity(supply, need)
    assert e.under_accuracy_pct == pytest.approx(100 * (0.5 + 1 / 3) / 5)
    assert e.over_accuracy_pct == 0.0
    assert e.under_timeshare_pct == 40.0 and e.over_timeshare_pct == 0.0
    assert e.instability_pct == 100.0  # supply and demand never move together
    assert e.under_replica_seconds == 2.0 and e.over_replica_seconds == 0.0
    over = provisioning.elasticity(np.array([4.0, 4.0, np.nan]), np.array([1.0, 2.0, 2.0]))
    assert over.over_accuracy_pct == pytest.approx(100 * (3 + 1) / 2) and over.seconds == 2
    assert provisioning.elasticity(np.array([np.nan]), np.array([1.0])).under_accuracy_pct is None


def test_demand_cost_and_capacity_estimate() -> None:
    assert provisioning.demand(np.array([0.0, 50.0, 100.0, 101.0, np.nan]), 50.0).tolist()[:4] == [1, 1, 2, 3]
    assert np.isnan(provisioning.demand(np.array([10.0]), None)).all()
    spend = provisioning.cost(np.array([1.0, 2.0, 3.0]), np.array([0.2, 0.4, 0.6]))
    assert spend.replica_seconds == 6.0 and spend.cpu_request_core_seconds == pytest.approx(1.2)
    assert spend.mean_replicas == 2.0 and spend.max_replicas == 3.0
    assert provisioning.cost(np.array([np.nan])).replica_seconds is None
    achieved = np.array([50.0] * 6 + [200.0] * 6)
    ready = np.array([1.0] * 6 + [2.0] * 6)
    p95 = np.array([100.0] * 6 + [100.0, 900.0, 100.0, 100.0, 100.0, 100.0])
    cap = provisioning.estimate_capacity(achieved, ready, p95, np.zeros(12), 300.0, 0.01, quantile=1.0)
    # the first second and the readiness change are excluded, as is the slow second
    assert cap.source == "estimated" and cap.samples == 9 and cap.rps_per_pod == 100.0
    assert provisioning.estimate_capacity(achieved[:3], ready[:3], p95[:3], np.zeros(3), 300, 0.01).rps_per_pod is None
    assert provisioning.rolling_mean(np.array([1.0, np.nan, 3.0, 5.0]), 2).tolist() == [1.0, 1.0, 3.0, 4.0]


# --- SLO ----------------------------------------------------------------------------------------


def slow_between(start: int, end: int, duration: int = 100) -> ClientHistograms:
    return ClientHistograms(
        client_frame({float(t): [500.0 if start <= t < end else 50.0] * 4 for t in range(duration)}, {3.0: 2})
    )


def test_slo_windows_violation_and_budget() -> None:
    hists = slow_between(10, 25)
    windows = slo.evaluate_windows(hists, 0.0, 100.0, p95_ms=300.0, error_rate=0.01, window_s=10.0)
    # window 0 has 2 failures out of 40 (5 % > 1 %), windows 1 and 2 are slow
    assert windows.violating.tolist() == [True, True, True] + [False] * 7
    assert windows.violation_pct == 30.0
    assert windows.p95_ms[1] == pytest.approx(500.0, rel=0.005)
    assert slo.error_budget_burn(400, 2, 0.01) == pytest.approx(0.5)
    assert slo.error_budget_burn(0, 0, 0.01) is None and slo.error_budget_burn(10, 1, 0.0) is None


def test_p95_recovery_after_a_change() -> None:
    assert slo.p95_recovery_s(slow_between(10, 25), 10.0, 100.0, 300.0) == 15.0
    assert slo.p95_recovery_s(slow_between(50, 60), 0.0, 100.0, 300.0) == 60.0
    assert slo.p95_recovery_s(slow_between(0, 0), 10.0, 100.0, 300.0) == 0.0
    assert slo.p95_recovery_s(slow_between(10, 100), 10.0, 100.0, 300.0) is None  # never recovered
    # recovered only in the last windows of a short window: counts (nothing later to disprove it)
    assert slo.p95_recovery_s(slow_between(10, 20), 10.0, 30.0, 300.0) == 10.0


# --- fairness and generator ---------------------------------------------------------------------


def test_fairness_jain_share_and_time_to_fair_share() -> None:
    rows = [{"t_s": float(t), "pod": "a", "value": 10.0} for t in range(10)]
    ramp = {5: 2.0, 6: 6.0, 7: 9.0, 8: 10.0, 9: 10.0}
    rows += [{"t_s": float(t), "pod": "b", "value": v} for t, v in ramp.items()]
    fair = fairness.fairness(pd.DataFrame(rows), {"a": -30.0, "b": 5.0})
    expected = np.mean([144 / 208, 256 / 272, 361 / 362, 1.0, 1.0])
    assert fair.jain_index == pytest.approx(expected)
    assert fair.time_to_fair_share_s == {"b": 2.0}  # t=7: 9 ≥ 0.8·(10+9)/2
    assert fair.per_pod_share["a"] == pytest.approx(50 / 87)
    assert fair.max_share_deviation == pytest.approx(50 / 87 / 0.5 - 1)
    assert fairness.fairness(pd.DataFrame(), {}).jain_index is None
    never = fairness.fairness(pd.DataFrame([*rows[:10], {"t_s": 9.0, "pod": "c", "value": 1.0}]), {"c": 8.0})
    assert never.time_to_fair_share_s == {"c": None} and never.new_pods_never_fair == 1


def test_generator_health() -> None:
    load = pd.DataFrame(
        {
            "t_s": np.arange(10.0),
            "intended_rps": [100.0] * 10,
            "achieved_rps": [100.0] * 5 + [80.0] * 5,
            "generator_cpu_max": [0.5] * 9 + [0.8],
            "generator_overloaded": [False] * 9 + [True],
        }
    )
    health = generator.generator_health(load, known_flags=["cgroups_not_enforced"])
    assert health.achieved_ratio == pytest.approx(0.9)
    assert health.behind_s == 4  # t=6..9: trailing 5 s mean below 95
    assert health.cpu_max == 0.8 and health.overloaded_s == 1
    assert health.flags == ("cgroups_not_enforced", "generator_behind", "generator_overloaded")
    closed = pd.DataFrame({"t_s": [0.0, 1.0], "users": [5.0, 10.0], "planned_users": [10.0, 10.0]})
    assert generator.generator_health(closed).achieved_ratio == 0.75
    assert generator.generator_health(pd.DataFrame(), event_kinds=["generator_behind"]).flags == ("generator_behind",)


def test_merge_of_scattered_rows_equals_recording_everything() -> None:
    per_second = {float(t): [float(10 * t + k) for k in range(1, 6)] for t in range(6)}
    hists = ClientHistograms(client_frame(per_second))
    mask = np.array([True, False, True, False, False, True])
    merged = hists.merge(mask)
    reference = LatencyHistogram()
    for t in (0.0, 2.0, 5.0):
        reference.record_many(per_second[t])
    assert merged == reference
    contiguous = hists.merge(np.array([False, True, True, True, False, False]))
    assert contiguous is not None and contiguous.count == 15 and contiguous.min == 11.0 and contiguous.max == 35.0
    assert hists.merge(np.zeros(6, dtype=bool)) is None
