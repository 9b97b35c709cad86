"""summary.json from synthetic runs: shape, plausible values, and the edge cases."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hpabench.analysis.rundata import load_run
from hpabench.analysis.summary import analyze_run, build_summary
from tests.support.synthetic_run import make_synthetic_run

KEYS = (
    "p95_ms",
    "error_rate",
    "slo_violation_pct",
    "scale_up_reaction_s",
    "scale_up_ready_s",
    "lag_metrics_s",
    "replica_seconds",
    "under_provisioning_timeshare_pct",
    "fairness_jain",
    "load_achieved_ratio",
)


def summary_of(tmp_path: Path, **kwargs: object) -> dict:
    return build_summary(load_run(make_synthetic_run(tmp_path / "run", **kwargs)))  # type: ignore[arg-type]


def value(summary: dict, name: str) -> float | None:
    return summary["kpis"][name]["value"]


def test_shape_follows_the_contract(tmp_path: Path) -> None:
    path = make_synthetic_run(tmp_path / "run", duration_s=300, seed=1)
    summary = analyze_run(path)
    on_disk = json.loads((path / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary, allow_nan=False))
    assert summary["schema_version"] == 1
    assert (summary["status"], summary["scenario"], summary["variant"], summary["target"]) == (
        "completed",
        "spike",
        "baseline",
        "local",
    )
    for name in KEYS:
        entry = summary["kpis"][name]
        assert set(entry) == {"value", "unit", "label", "better"}
        assert entry["better"] in ("lower", "higher", None)
    assert [p["name"] for p in summary["phases"]] == ["baseline", "spike", "recovery"]
    assert summary["phases"][1]["start_s"] == 60.0 and summary["phases"][1]["end_s"] == 150.0
    assert summary["flags"] == []


def test_values_tell_the_spike_story(tmp_path: Path) -> None:
    summary = summary_of(tmp_path, duration_s=300, seed=1)
    phases = {p["name"]: p["kpis"] for p in summary["phases"]}
    assert phases["spike"]["p95_ms"]["value"] > 10 * phases["baseline"]["p95_ms"]["value"]
    assert phases["baseline"]["slo_violation_pct"]["value"] == 0.0
    assert phases["spike"]["slo_violation_pct"]["value"] > 0
    up, down = summary["load_changes"]
    assert up["direction"] == "up" and down["direction"] == "down"
    # the HPA syncs every 15 s and uses metrics 5-15 s old: it cannot react within 3 s or after 35 s
    assert 3.0 <= up["reaction_s"] <= 35.0
    lag = up["lag"]
    assert lag["metrics_s"] + lag["sync_wait_s"] + lag["hold_s"] + lag["pod_start_s"] == pytest.approx(up["ready_s"])
    assert 0.0 <= lag["sync_wait_s"] < 15.0  # the next of the 15 s syncs
    assert 4.0 <= lag["pod_start_s"] <= 25.0
    assert 5.0 <= up["metrics_age_s"] <= 15.0
    # scale-down waits for the 60 s stabilization window
    assert down["reaction_s"] >= 60.0 and down["lag"]["hold_s"] >= 30.0
    assert value(summary, "max_desired_replicas") == 4.0
    assert value(summary, "scale_flaps") == 0.0 and value(summary, "oscillation_index") == 1.0
    assert 0.9 < value(summary, "fairness_jain") <= 1.0
    assert summary["capacity"]["source"] == "estimated"
    assert 50.0 < summary["capacity"]["rps_per_pod"] <= 105.0  # true capacity 100 rps, a lower bound
    assert value(summary, "over_provisioning_timeshare_pct") > 0  # held replicas after the spike
    assert value(summary, "load_achieved_ratio") == pytest.approx(1.0, abs=0.02)


def test_no_scaling(tmp_path: Path) -> None:
    summary = summary_of(tmp_path, scale_events=False, seed=2)
    assert value(summary, "scale_up_reaction_s") is None
    assert value(summary, "scale_events") == 0.0
    assert value(summary, "oscillation_index") is None
    assert value(summary, "max_replicas") == 1.0
    assert value(summary, "under_provisioning_timeshare_pct") > 20.0
    assert summary["load_changes"][0]["reaction_s"] is None


def test_capped_at_max(tmp_path: Path) -> None:
    summary = summary_of(tmp_path, pods_max=2, peak_rps=400.0, seed=3)
    up = summary["load_changes"][0]
    assert up["capped"] is True and up["replicas_target"] == 2.0
    assert value(summary, "max_desired_replicas") == 2.0
    assert value(summary, "under_provisioning_accuracy_pct") > 0


def test_interrupted_mid_spike(tmp_path: Path) -> None:
    summary = summary_of(tmp_path, interrupted=True, duration_s=300, seed=4)
    assert summary["status"] == "interrupted" and "interrupted" in summary["flags"]
    assert summary["duration_s"] == pytest.approx(105.0)
    assert [p["name"] for p in summary["phases"]] == ["baseline", "spike"]
    assert summary["phases"][1]["truncated"] is True
    assert [c["direction"] for c in summary["load_changes"]] == ["up"]
    assert value(summary, "scale_down_reaction_s") is None
    assert value(summary, "p95_ms") is not None


def test_missing_series_give_null_kpis(tmp_path: Path) -> None:
    path = make_synthetic_run(tmp_path / "run", seed=5)
    shutil.rmtree(path / "data" / "prom")
    (path / "data" / "hpa.parquet").unlink()
    (path / "data" / "hpa.jsonl").unlink()  # its incremental form: the reader falls back to it
    summary = build_summary(load_run(path))
    for name in ("fairness_jain", "server_p95_ms_peak", "scale_up_reaction_s", "lag_hold_s", "scale_events"):
        assert value(summary, name) is None, name
    assert value(summary, "p95_ms") is not None and value(summary, "replica_seconds") is not None
    assert any("hpa" in note for note in summary["notes"])


def test_empty_directory_still_summarises(tmp_path: Path) -> None:
    summary = build_summary(load_run(tmp_path))
    assert summary["status"] == "unknown" and summary["phases"] == []
    assert all(entry["value"] is None for name, entry in summary["kpis"].items() if name != "requests")
    json.dumps(summary, allow_nan=False)


def test_closed_model_and_manifest_capacity(tmp_path: Path) -> None:
    path = make_synthetic_run(tmp_path / "run", closed_model=True, seed=6)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["capacity"] = {"rps_per_pod": 100.0}
    (path / "manifest.json").write_text(json.dumps(manifest))
    summary = build_summary(load_run(path))
    assert summary["phases"][1]["level_unit"] == "users"
    assert summary["capacity"] == {"rps_per_pod": 100.0, "source": "manifest", "samples": 0}
    assert value(summary, "scale_up_reaction_s") is not None
    assert build_summary(load_run(path), capacity_rps_per_pod=50.0)["capacity"]["source"] == "argument"


def test_pod_crashes_and_min_ready(tmp_path: Path) -> None:
    path = make_synthetic_run(tmp_path / "run", seed=7)
    summary = build_summary(load_run(path))
    assert value(summary, "pod_crashes") == 0.0 and value(summary, "ready_replicas_min") == 1.0
    events = (path / "events.jsonl").read_text()
    crash = {"ts": 1_760_000_000.0 + 80, "kind": "pod_crashed", "pod": "web-x", "deployment": "web", "exit_code": 1}
    late = {**crash, "ts": 1_760_000_000.0 + 900}  # after the load: teardown, not counted
    (path / "events.jsonl").write_text(events + json.dumps(crash) + "\n" + json.dumps(late) + "\n")
    assert value(build_summary(load_run(path)), "pod_crashes") == 1.0
    (path / "events.jsonl").unlink()
    assert value(build_summary(load_run(path)), "pod_crashes") is None  # no pod events: unknown


def test_tier_link_notes_say_how_each_link_was_impaired() -> None:
    from hpabench.analysis.summary import tier_link_notes

    links = [
        {
            "service": "postgres",
            "mechanism": "userspace-relay",
            "delay_ms": 5.0,
            "jitter_ms": 1.0,
            "reason": "kernel has no sch_netem",
        },
        {"service": "redis", "mechanism": "netem", "qdisc": ["netem", "delay", "2ms"], "delay_ms": 2.0},
        {"service": "redis", "mechanism": "none", "delay_relay": True},  # a relay for events only
        {"service": "web", "tier": "client_web", "mechanism": "userspace-relay", "delay_ms": 20.0, "reason": "why"},
        "junk",
    ]
    assert tier_link_notes(links) == [
        "web→postgres: 5 ms one-way delay (±1 ms jitter) applied by the userspace delay relay, not netem; "
        "kernel has no sch_netem",
        "web→redis: impairment applied with netem (netem delay 2ms)",
        "client→web: 20 ms one-way delay applied by the userspace delay relay, not netem; why",
    ]
    assert tier_link_notes(None) == []
