"""The study runner with a fake `run_one` (synthetic run directories): the order, the records,
failed trials, the time limit, resume after an interruption, refusals, and the report."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hpabench.analysis.summary import analyze_run
from hpabench.cli import main
from hpabench.errors import SpecError
from hpabench.pipeline import RunOptions, RunOutcome
from hpabench.study.plan import plan_runs
from hpabench.study.runner import run_study
from hpabench.study.spec import StudySpec, load_study
from hpabench.study.state import TRIALS_FILE
from tests.support.synthetic_run import make_synthetic_run

SPEC = """
name: unit-study
scenarios: [spike]
variants: [hpa-target-80]
repetitions: 2
time_scale: 0.1
seed: 5
hard_bounds: {p95_ms: 100000}
cooldown_s: 1
"""


class FakeRuns:
    """Writes a synthetic run per call; `interrupt_at` makes that call a Ctrl-C'd run."""

    def __init__(self, interrupt_at: int | None = None, slow_variant: str | None = None) -> None:
        self.calls: list[RunOptions] = []
        self.interrupt_at = interrupt_at
        self.slow_variant = slow_variant

    def __call__(self, options: RunOptions) -> RunOutcome:
        self.calls.append(options)
        label = options.label or "run"
        variant = label.split("-", 1)[1].rsplit("-r", 1)[0]
        path = options.reports_dir / f"{label}-{len(self.calls)}"
        if self.interrupt_at == len(self.calls):
            return RunOutcome(path, "interrupted", 130)
        if variant == self.slow_variant:
            try:
                time.sleep(60)
            except KeyboardInterrupt:  # the pipeline turns the time limit's interrupt into a status
                return RunOutcome(path, "interrupted", 130)
        make_synthetic_run(path, seed=len(self.calls), variant=variant, duration_s=60, scale_events=variant != "bad")
        analyze_run(path)
        return RunOutcome(path, "completed", 0)


def write_spec(tmp_path: Path, text: str = SPEC) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_plan_is_seeded_blocked_and_holds_the_phase() -> None:
    spec = StudySpec.model_validate(
        {"name": "s", "scenarios": ["spike", "step"], "variants": ["a", "b", "c"], "repetitions": 3, "seed": 2}
    )
    plan = plan_runs(spec)
    assert plan == plan_runs(spec)  # deterministic
    assert len(plan) == 2 * 4 * 3 and len({r.key for r in plan}) == len(plan)  # baseline added
    for rep in (1, 2, 3):  # complete repetitions, one phase per scenario and repetition
        block = plan[(rep - 1) * 8 : rep * 8]
        assert {r.repetition for r in block} == {rep}
        for scenario in ("spike", "step"):
            assert len({r.sync_phase for r in block if r.scenario == scenario}) == 1
    orders = [[r.variant for r in plan[i * 8 : (i + 1) * 8]] for i in range(3)]
    assert len({tuple(o) for o in orders}) > 1  # shuffled per block
    other = plan_runs(spec.model_copy(update={"seed": 3}))
    assert [r.key for r in other] != [r.key for r in plan]
    free = plan_runs(spec.model_copy(update={"sync_phase": spec.sync_phase.model_copy(update={"mode": "free"})}))
    assert all(r.sync_phase is None for r in free)


def test_spec_errors_name_the_field(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "name: Bad Name\nscenarios: []\nvariants: [a, a]\nrepetitions: 0\nbogus: 1\n")
    with pytest.raises(SpecError) as caught:
        load_study(path)
    paths = {issue.path for issue in caught.value.issues}
    assert {"name", "scenarios", "repetitions", "bogus"} <= paths
    assert all(issue.file == str(path) for issue in caught.value.issues)


def test_a_broken_variant_stops_the_study_before_any_run(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path, SPEC.replace("[hpa-target-80]", "[hpa-target-80, {name: x, set: [hpa.max_replicas=0]}]")
    )
    fake = FakeRuns()
    with pytest.raises(SpecError, match=r"\[variant x\]"):
        run_study(spec, out=tmp_path / "out", run_one=fake, sleep=lambda s: None)
    assert fake.calls == [] and not (tmp_path / "out").exists()


def test_study_runs_records_and_reports(tmp_path: Path) -> None:
    fake = FakeRuns()
    pauses: list[float] = []
    outcome = run_study(write_spec(tmp_path), out=tmp_path / "out", run_one=fake, sleep=pauses.append)
    assert (outcome.done, outcome.total, outcome.interrupted, outcome.exit_code) == (4, 4, False, 0)
    assert pauses == [1.0, 1.0, 1.0]  # a cool-down between runs, none after the last
    planned = plan_runs(load_study(write_spec(tmp_path))[0])
    assert [c.label for c in fake.calls] == [f"spike-{r.variant}-r{r.repetition}" for r in planned]
    assert [c.hpa_sync_phase for c in fake.calls] == [r.sync_phase for r in planned]
    assert all(c.time_scale == 0.1 and c.reports_dir == (tmp_path / "out" / "runs") for c in fake.calls)
    lines = (tmp_path / "out" / TRIALS_FILE).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert sorted(r["key"] for r in records) == sorted(r.key for r in planned)
    assert all(r["kpis"]["p95_ms"] is not None and not r["failed"] for r in records)
    assert outcome.report is not None
    html = outcome.report.read_text()
    for text in ("Recommendation", "Ranking on client p95 latency", "min. detectable", "Pareto", "hpa-target-80"):
        assert text in html


def test_interrupted_study_resumes_without_redoing_finished_runs(tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    first = FakeRuns(interrupt_at=3)
    outcome = run_study(spec, out=tmp_path / "out", run_one=first, sleep=lambda s: None)
    assert outcome.interrupted and outcome.done == 2 and outcome.exit_code == 130
    second = FakeRuns()
    resumed = run_study(spec, out=tmp_path / "out", run_one=second, sleep=lambda s: None)
    assert not resumed.interrupted and resumed.done == 4
    planned = plan_runs(load_study(spec)[0])
    assert second.calls[0].label == first.calls[2].label  # the interrupted run again, first
    assert [c.label for c in second.calls] == [f"spike-{r.variant}-r{r.repetition}" for r in planned[2:]]
    keys = [json.loads(line)["key"] for line in (tmp_path / "out" / TRIALS_FILE).read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 4
    # a different spec in the same directory is refused rather than mixed in
    with pytest.raises(SpecError, match="different spec"):
        run_study(write_spec(tmp_path, SPEC.replace("seed: 5", "seed: 6")), out=tmp_path / "out", run_one=second)


def test_hard_bounds_and_time_limit_make_failed_trials_kept_as_data(tmp_path: Path) -> None:
    text = SPEC.replace("hard_bounds: {p95_ms: 100000}", "hard_bounds: {p95_ms: 0.001}").replace(
        "[hpa-target-80]", "[{name: slow, variant: hpa-target-80}]"
    )
    text += "run_time_limit_s: 6\n"
    fake = FakeRuns(slow_variant="slow")
    outcome = run_study(write_spec(tmp_path, text), out=tmp_path / "out", run_one=fake, sleep=lambda s: None)
    assert outcome.done == 4 and outcome.failed_trials == 4 and not outcome.interrupted
    records = [json.loads(line) for line in (tmp_path / "out" / TRIALS_FILE).read_text().splitlines()]
    slow = [r for r in records if r["variant"] == "slow"]
    assert all("exceeded the per-run time limit" in r["reasons"] for r in slow)
    base = [r for r in records if r["variant"] == "baseline"]
    assert all(any("hard bound" in reason for reason in r["reasons"]) for r in base)
    assert all(r["kpis"]["p95_ms"] is not None for r in base)  # kept as data
    assert "failed" in (tmp_path / "out" / "study.html").read_text()


def test_cli_plan_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(tmp_path)
    assert main(["study", "plan", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "4 runs" in out and "spike/baseline/r1" in out
    run_study(spec, out=tmp_path / "out", run_one=FakeRuns(), sleep=lambda s: None)
    assert main(["study", "report", str(spec), "--out", str(tmp_path / "out")]) == 0
    assert Path(capsys.readouterr().out.strip()).is_file()
    assert main(["study", "run", str(tmp_path / "missing.yaml")]) == 2
    assert main(["study", "run", str(spec), "--search", "optuna"]) == 2
