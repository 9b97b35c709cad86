"""The optuna search: proposals within the ranges, the baseline kept, refused and failed
proposals told as failures and kept as data, resume replays what was measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpabench.errors import SpecError
from hpabench.pipeline import RunOptions, RunOutcome
from hpabench.study.search import run_search
from hpabench.study.state import TRIALS_FILE

SPEC = """
name: search-study
scenarios: [spike]
variants: []
repetitions: 1
seed: 11
hard_bounds: {p95_ms: 5000}
cooldown_s: 0
search:
  knobs:
    hpa.target_cpu_utilization: {low: 30, high: 90, step: 10}
    web.resources.limits.cpu: {choices: ["100m", "500m"]}
  baseline_every: 4
"""


class FakeRuns:
    """p95 = 100 + (target - 50)^2 ms; 90 % breaks the hard bound (a failed trial)."""

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.calls: list[RunOptions] = []
        self.interrupt_at = interrupt_at

    def __call__(self, options: RunOptions) -> RunOutcome:
        self.calls.append(options)
        path = options.reports_dir / f"run-{len(self.calls)}-{options.label}"
        if self.interrupt_at == len(self.calls):
            return RunOutcome(path, "interrupted", 130)
        overrides = dict(o.split("=", 1) for o in options.variant_overrides)
        target = float(overrides.get("hpa.target_cpu_utilization", 60))
        p95 = 100 + (target - 50) ** 2 if target < 90 else 9000.0
        path.mkdir(parents=True)
        (path / "summary.json").write_text(
            json.dumps({"kpis": {"p95_ms": {"value": p95}, "replica_seconds": {"value": 100 - target}}})
        )
        return RunOutcome(path, "completed", 0)


def write(tmp_path: Path, text: str = SPEC) -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(text.replace("variants: []", "variants: [baseline]"), encoding="utf-8")
    return path


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / TRIALS_FILE).read_text().splitlines()]


def test_search_proposes_within_ranges_keeps_the_baseline_and_reports(tmp_path: Path) -> None:
    fake = FakeRuns()
    outcome = run_search(write(tmp_path), 8, out=tmp_path / "out", run_one=fake, sleep=lambda s: None)
    assert (outcome.done, outcome.total, outcome.interrupted) == (8, 8, False)
    rows = records(tmp_path / "out")
    proposals = [r for r in rows if r.get("proposal")]
    baselines = [r for r in rows if r["variant"] == "baseline"]
    assert len(proposals) == 8 and len(baselines) == 2  # first, then after 4 proposals
    assert rows[0]["variant"] == "baseline"
    for r in proposals:
        assert r["params"]["hpa.target_cpu_utilization"] in range(30, 100, 10)
        assert r["params"]["web.resources.limits.cpu"] in ("100m", "500m")
        if r["params"]["web.resources.limits.cpu"] == "100m":  # below the 200m request: refused, never run
            assert r["status"] == "refused" and r["failed"] and "exceed" in r["reasons"][0]
        elif r["params"]["hpa.target_cpu_utilization"] == 90:
            assert r["failed"] and "hard bound" in r["reasons"][0]
    assert any(r["status"] == "refused" for r in proposals)
    measured = [r["kpis"]["p95_ms"] for r in proposals if r["status"] == "completed"]
    assert min(measured) <= 200  # the search finds settings at least as good as the baseline's
    ran = [c for c in fake.calls if "s0" in (c.label or "")]
    assert all("web.resources.limits.cpu=500m" in c.variant_overrides for c in ran)
    assert outcome.report is not None and "s001" in outcome.report.read_text()


def test_interrupted_search_resumes_and_replays(tmp_path: Path) -> None:
    spec = write(tmp_path)
    first = run_search(spec, 6, out=tmp_path / "out", run_one=FakeRuns(interrupt_at=3), sleep=lambda s: None)
    assert first.interrupted
    before = {r["key"]: r for r in records(tmp_path / "out")}
    second = FakeRuns()
    resumed = run_search(spec, 6, out=tmp_path / "out", run_one=second, sleep=lambda s: None)
    assert resumed.done == 6 and not resumed.interrupted
    keys = [r["key"] for r in records(tmp_path / "out")]
    assert len(keys) == len(set(keys))
    assert sum(1 for k in keys if "/s0" in k) == 6
    assert all(k in keys for k in before)  # nothing measured before is redone or lost


def test_search_needs_a_search_block(tmp_path: Path) -> None:
    text = SPEC.split("search:")[0]
    with pytest.raises(SpecError, match="search"):
        run_search(write(tmp_path, text), 3, out=tmp_path / "out", run_one=FakeRuns())
    with pytest.raises(SpecError, match="low < high"):
        run_search(write(tmp_path, SPEC.replace("low: 30, high: 90", "low: 90, high: 30")), 3, run_one=FakeRuns())
