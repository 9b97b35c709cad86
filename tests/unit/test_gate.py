"""Thresholds, baselines and the CI gate: exit codes, math, JUnit XML and Markdown."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from hpabench.analysis.baseline import load_baseline, make_baseline, write_baseline
from hpabench.analysis.gate import gate, junit_xml, markdown, write_junit, write_markdown
from hpabench.analysis.thresholds import default_thresholds, evaluate, load_thresholds, parse_value
from hpabench.errors import SpecError
from tests.support.synthetic_run import make_synthetic_run


def kpi(value: float | None, unit: str = "ms", better: str | None = "lower") -> dict[str, Any]:
    return {"value": value, "unit": unit, "label": "x", "better": better}


def fake_run(
    root: Path,
    name: str,
    *,
    p95: float | None = 100.0,
    error_rate: float = 0.001,
    ready_s: float | None = 30.0,
    status: str = "completed",
    scenario: str = "spike",
    flags: tuple[str, ...] = (),
    spike_p95: float = 200.0,
) -> Path:
    """A run directory whose summary.json is written by hand (the gate reads only that)."""
    path = root / name
    path.mkdir(parents=True)
    summary = {
        "schema_version": 1,
        "run_id": name,
        "status": status,
        "scenario": scenario,
        "variant": "v",
        "target": "local",
        "kpis": {
            "p95_ms": kpi(p95),
            "p99_ms": kpi(None if p95 is None else p95 * 2),
            "error_rate": kpi(error_rate, "ratio"),
            "slo_violation_pct": kpi(2.0, "%"),
            "scale_up_ready_s": kpi(ready_s, "s"),
            "under_provisioning_timeshare_pct": kpi(5.0, "%"),
            "replica_seconds": kpi(600.0, "pod·s"),
            "load_achieved_ratio": kpi(0.99, "ratio", "higher"),
        },
        "phases": [{"name": "spike", "start_s": 10, "end_s": 20, "kpis": {"p95_ms": kpi(spike_p95)}}],
        "flags": list(flags),
    }
    (path / "summary.json").write_text(json.dumps(summary))
    return path


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    runs = [fake_run(tmp_path, f"base{i}", p95=p95) for i, p95 in enumerate((90.0, 100.0, 130.0))]
    return write_baseline(make_baseline(runs), tmp_path / "baseline.json")


def test_pass_is_exit_0(tmp_path: Path, baseline: Path) -> None:
    result = gate(fake_run(tmp_path, "ok", p95=105.0), baseline)
    assert result.exit_code == 0 and result.passed
    # a default threshold on a KPI these (older) summaries lack is skipped, not an input error
    crashes = next(c for c in result.checks if c.threshold.kpi == "pod_crashes")
    assert crashes.outcome == "skip"
    p95 = next(c for c in result.checks if c.threshold.kpi == "p95_ms")
    assert (p95.baseline, p95.limit, p95.outcome) == (100.0, pytest.approx(110.0), "pass")  # median, +10 %
    assert result.baseline_runs == 3 and "PASS" in result.describe()


def test_regression_is_exit_3_and_never_raises(tmp_path: Path, baseline: Path) -> None:
    result = gate(fake_run(tmp_path, "slow", p95=111.0, error_rate=0.02), baseline)
    assert result.exit_code == 3 and not result.passed
    # p99 222 ms stays under its +20 % margin (240 ms)
    assert {c.threshold.kpi for c in result.failed_checks} == {"p95_ms", "error_rate"}
    assert "FAIL" in result.describe() and "p95_ms <= +10%" in result.describe()


def test_interrupted_run_is_exit_1(tmp_path: Path, baseline: Path) -> None:
    result = gate(fake_run(tmp_path, "cut", status="interrupted"), baseline)
    assert result.exit_code == 1 and not result.status_ok
    root = ET.fromstring(junit_xml(result))
    assert root.find("testsuite/testcase[@name='run completed']/error") is not None


def test_missing_values_follow_on_missing(tmp_path: Path, baseline: Path) -> None:
    # the default scale_up_ready_s threshold skips when unmeasured; p95 fails when unmeasured
    result = gate(fake_run(tmp_path, "noscale", ready_s=None), baseline)
    ready = next(c for c in result.checks if c.threshold.kpi == "scale_up_ready_s")
    assert ready.outcome == "skip" and result.exit_code == 0
    result = gate(fake_run(tmp_path, "nolat", p95=None), baseline)
    assert next(c for c in result.checks if c.threshold.kpi == "p95_ms").outcome == "fail"
    assert result.exit_code == 3


def test_threshold_file_modes_phases_and_severity(tmp_path: Path, baseline: Path) -> None:
    thresholds = tmp_path / "t.yaml"
    thresholds.write_text(
        """
version: 1
thresholds:
  - "p95_ms < 150"
  - "p95_ms <= -5%"
  - "replica_seconds <= +50"
  - {kpi: p95_ms, op: "<=", value: "+10%", phase: spike}
  - {kpi: load_achieved_ratio, op: ">=", value: 0.995, severity: warn, description: generator kept up}
"""
    )
    result = gate(fake_run(tmp_path, "r", p95=97.0, spike_p95=225.0), baseline, thresholds)
    outcomes = [(c.threshold.name, c.outcome, c.limit) for c in result.checks]
    assert outcomes == [
        ("p95_ms < 150", "pass", 150.0),
        ("p95_ms <= -5%", "fail", pytest.approx(95.0)),
        ("replica_seconds <= +50", "pass", 650.0),
        ("spike: p95_ms <= +10%", "fail", pytest.approx(220.0)),
        ("load_achieved_ratio >= 0.995", "warn", 0.995),
    ]
    assert result.exit_code == 3


def test_invalid_inputs_are_spec_errors(tmp_path: Path, baseline: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('thresholds:\n  - "p95_ms <= 10%"\n  - "nonsense"\n  - {kpi: p95_ms, op: "=<", value: 1}\n')
    with pytest.raises(SpecError) as info:
        load_thresholds(bad)
    assert [i.path for i in info.value.issues] == ["thresholds.0", "thresholds.1", "thresholds.2.op"]
    typo = tmp_path / "typo.yaml"
    typo.write_text('thresholds: ["p59_ms < 10"]\n')
    with pytest.raises(SpecError, match="unknown KPI 'p59_ms'"):
        gate(fake_run(tmp_path, "r1"), baseline, typo)
    with pytest.raises(SpecError, match="baseline is for 'spike'"):
        gate(fake_run(tmp_path, "r2", scenario="step"), baseline)
    with pytest.raises(SpecError, match="not a run directory"):
        gate(tmp_path / "nope", baseline)
    junk = tmp_path / "junk.json"
    junk.write_text('{"kind": "something-else"}')
    with pytest.raises(SpecError, match="not an hpabench baseline"):
        gate(fake_run(tmp_path, "r3"), junk)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(SpecError, match="invalid JSON"):
        load_baseline(broken)


def test_parse_value_and_evaluate() -> None:
    assert parse_value(0.01) == ("absolute", 0.01)
    assert parse_value("+10%") == ("relative", 10.0)
    assert parse_value("-2.5%") == ("relative", -2.5)
    assert parse_value("+5") == ("delta", 5.0)
    assert parse_value("7") == ("absolute", 7.0)
    for bad in ("10%", "abc", "+", True):
        with pytest.raises(ValueError):
            parse_value(bad)  # type: ignore[arg-type]
    rel = next(t for t in default_thresholds() if t.kpi == "p95_ms")
    assert rel.limit(-100.0) == -90.0  # relative to |baseline|: +10 % is always looser
    check = evaluate(rel, 50.0, None)
    assert check.outcome == "fail" and "baseline has no value" in check.message


def test_junit_is_valid_and_escapes(tmp_path: Path, baseline: Path) -> None:
    run = fake_run(tmp_path, 'x<script>"&', p95=200.0, flags=("generator_overloaded",))
    result = gate(run, baseline)
    path = write_junit(result, tmp_path / "out" / "junit.xml")
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == len(result.checks) + 1 == int(suite.get("tests", "0"))
    assert int(suite.get("failures", "0")) == len(result.failed_checks) == len(suite.findall("testcase/failure"))
    assert suite.find("properties/property[@name='run_id']").get("value") == 'x<script>"&'  # type: ignore[union-attr]
    failure = suite.find("testcase[@name='p95_ms <= +10%']/failure")
    assert failure is not None and "breaks" in failure.get("message", "")
    assert "<script>" not in path.read_text()


def test_markdown(tmp_path: Path, baseline: Path) -> None:
    result = gate(fake_run(tmp_path, "a|b", p95=200.0, flags=("generator_behind",)), baseline)
    text = write_markdown(result, tmp_path / "gate.md").read_text()
    assert text.startswith("## hpabench gate: ❌ FAIL")
    assert "a\\|b" in text and "generator\\_behind" in text
    assert "| ❌ | p95\\_ms &lt;= +10% | 200 ms | 100 ms | 110 ms |" in text
    assert markdown(result) == text


def test_baseline_aggregates_and_round_trips(tmp_path: Path) -> None:
    runs = [fake_run(tmp_path, f"r{i}", p95=v) for i, v in enumerate((10.0, 20.0, 60.0))]
    data = make_baseline(runs)
    p95 = data["kpis"]["p95_ms"]
    assert (p95["n"], p95["mean"], p95["median"], p95["min"], p95["max"]) == (3, 30.0, 20.0, 10.0, 60.0)
    assert p95["values"] == [10.0, 20.0, 60.0] and p95["better"] == "lower"
    assert data["phases"]["spike"]["p95_ms"]["median"] == 200.0
    assert data["kind"] == "hpabench-baseline" and data["version"] == 1 and len(data["runs"]) == 3
    for name in ("b.json", "b.yaml"):
        loaded = load_baseline(write_baseline(data, tmp_path / name))
        assert loaded.kpis["p95_ms"].median == 20.0 and loaded.scenario == "spike"
    assert load_baseline(runs[0]).kpis["p95_ms"].n == 1  # a run directory works as a baseline


def test_baseline_refuses_broken_or_mixed_runs(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="needs completed runs"):
        make_baseline([fake_run(tmp_path, "a"), fake_run(tmp_path, "b", status="failed")])
    with pytest.raises(SpecError, match="different scenarios"):
        make_baseline([fake_run(tmp_path, "c"), fake_run(tmp_path, "d", scenario="step")])
    with pytest.raises(SpecError):
        make_baseline([])


def test_gate_on_real_summaries(tmp_path: Path) -> None:
    """End to end on synthetic run directories (summaries computed on the fly)."""
    base = [make_synthetic_run(tmp_path / f"b{i}", duration_s=180, seed=i, run_id=f"b{i}") for i in range(2)]
    bl = write_baseline(make_baseline(base), tmp_path / "bl.json")
    same = gate(make_synthetic_run(tmp_path / "same", duration_s=180, seed=1, run_id="same"), bl)
    p95 = next(c for c in same.checks if c.threshold.kpi == "p95_ms")
    assert p95.actual is not None and p95.baseline is not None and p95.outcome in ("pass", "fail")
    stuck = gate(make_synthetic_run(tmp_path / "stuck", duration_s=180, seed=1, scale_events=False, run_id="s"), bl)
    assert stuck.exit_code == 3  # no autoscaling: latency and errors far beyond the baseline
    assert {"p95_ms", "error_rate"} <= {c.threshold.kpi for c in stuck.failed_checks}
