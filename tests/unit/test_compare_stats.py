"""Bootstrap statistics and run comparison (grouping, winners, CIs, verdict)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hpabench.analysis.compare import compare_runs
from hpabench.analysis.stats import bootstrap_difference, relative, summarize
from hpabench.errors import SpecError
from tests.support.synthetic_run import make_synthetic_run


def test_bootstrap_is_seeded_and_detects_a_clear_shift() -> None:
    rng = np.random.default_rng(42)
    a = list(rng.normal(100, 5, 8))
    b = list(rng.normal(130, 5, 8))
    first = bootstrap_difference(b, a, seed=7)
    assert first == bootstrap_difference(b, a, seed=7)
    assert first.estimate == pytest.approx(np.mean(b) - np.mean(a))
    assert first.low is not None and first.high is not None
    assert 20 < first.low < first.estimate < first.high < 40
    assert first.significant and first.n_group == 8


def test_noise_is_not_significant() -> None:
    rng = np.random.default_rng(1)
    a = list(rng.normal(100, 20, 5))
    b = list(rng.normal(102, 20, 5))
    ci = bootstrap_difference(b, a)
    assert ci.low is not None and ci.high is not None
    assert ci.low < 0 < ci.high and not ci.significant


def test_small_groups_never_significant() -> None:
    single = bootstrap_difference([10.0], [20.0])
    assert single.estimate == -10.0 and single.low is None and not single.significant
    two = bootstrap_difference([10.0, 10.5], [20.0, 20.5])
    assert two.low is not None and two.high is not None and two.high < 0  # the interval excludes 0 ...
    assert not two.significant  # ... but 2 runs per side are too few to sell it
    exact = bootstrap_difference([1.0, 1.0, 1.0], [2.0, 2.0, 2.0])
    assert (exact.low, exact.high, exact.significant) == (-1.0, -1.0, True)
    same = bootstrap_difference([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    assert not same.significant
    assert bootstrap_difference([None, None], [1.0]).estimate is None  # type: ignore[list-item]


def test_median_statistic_and_helpers() -> None:
    ci = bootstrap_difference([1.0, 2.0, 100.0], [1.0, 1.0, 1.0], statistic="median")
    assert ci.estimate == 1.0
    assert summarize([1.0, None, 3.0]) == (2, 2.0, 2.0, pytest.approx(np.sqrt(2)))
    assert summarize([]) == (0, None, None, None)
    assert relative(-5.0, 20.0) == -0.25 and relative(1.0, 0.0) is None
    with pytest.raises(ValueError):
        bootstrap_difference([1.0], [2.0], confidence=1.5)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("runs")
    slow = [
        make_synthetic_run(
            root / f"slow{i}", duration_s=240, seed=i, variant="slow-sync", sync_period_s=30.0, run_id=f"s{i}"
        )
        for i in range(3)
    ]
    fast = [
        make_synthetic_run(
            root / f"fast{i}", duration_s=240, seed=20 + i, variant="fast-sync", sync_period_s=5.0, run_id=f"f{i}"
        )
        for i in range(3)
    ]
    return {"slow": slow, "fast": fast}


def test_groups_winner_and_significance(runs: dict[str, list[Path]]) -> None:
    comparison = compare_runs(runs["slow"] + runs["fast"])
    assert [g.key for g in comparison.groups] == ["spike/slow-sync", "spike/fast-sync"]
    assert comparison.reference == "spike/slow-sync"
    assert [len(g.runs) for g in comparison.groups] == [3, 3]
    reaction = comparison.row("scale_up_reaction_s")
    assert reaction is not None and reaction.better == "lower"
    assert reaction.winner == "spike/fast-sync"
    assert reaction.winner_significant  # a 5 s sync reacts sooner than a 30 s one every time
    diff = reaction.differences[0]
    assert diff.group == "spike/fast-sync" and diff.reference == "spike/slow-sync"
    assert diff.estimate is not None and diff.estimate < 0 and diff.improved is True
    assert diff.ci_high is not None and diff.ci_high < 0
    stats = reaction.stats["spike/fast-sync"]
    assert stats.n == 3 and len(stats.values) == 3 and stats.mean == pytest.approx(np.mean(stats.values))
    info = comparison.row("requests")
    assert info is not None and info.better is None and info.winner is None
    assert list(comparison.phase_rows) == ["baseline", "spike", "recovery"]
    assert comparison.phase_rows["spike"][0].name == "p50_ms"
    assert len(comparison.runs) == 6 and not comparison.runs[0].timeline.empty
    assert comparison.warnings == ()


def test_verdict_calls_wins_only_when_significant(runs: dict[str, list[Path]]) -> None:
    comparison = compare_runs(runs["slow"] + runs["fast"])
    text = comparison.verdict
    assert text.startswith("spike/fast-sync (3 run(s)) against spike/slow-sync (3 run(s)):")
    assert "Significantly better:" in text
    single = compare_runs([runs["slow"][0], runs["fast"][0]])
    assert "no significant difference" in single.verdict
    assert "repeat each variant at least 3 times" in single.verdict
    assert all(not row.winner_significant for row in single.rows)


def test_summary_json_is_reused_and_runs_flagged(runs: dict[str, list[Path]], tmp_path: Path) -> None:
    path = make_synthetic_run(tmp_path / "odd", duration_s=120, seed=9, scenario="step", interrupted=True, run_id="odd")
    summary = json.loads(
        json.dumps(
            {
                "schema_version": 1,
                "run_id": "odd",
                "scenario": "step",
                "variant": "baseline",
                "status": "interrupted",
                "flags": ["interrupted", "generator_behind"],
                "kpis": {"p95_ms": {"value": 12.0, "unit": "ms", "label": "p95", "better": "lower"}},
            }
        )
    )
    (path / "summary.json").write_text(json.dumps(summary))
    comparison = compare_runs([runs["slow"][0], path])
    assert comparison.groups[1].runs[0].summary["kpis"]["p95_ms"]["value"] == 12.0
    assert any("different scenarios" in w for w in comparison.warnings)
    assert any("odd is interrupted" in w for w in comparison.warnings)
    assert any("generator_behind" in w for w in comparison.warnings)
    only_one = compare_runs([runs["slow"][0]])
    assert "nothing to compare against" in only_one.verdict


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(SpecError):
        compare_runs([])
    with pytest.raises(SpecError, match="not a run directory"):
        compare_runs([tmp_path / "missing"])
