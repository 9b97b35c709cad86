"""The KPI catalogue: one definition per KPI, from which summaries, headlines and thresholds follow."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpabench.analysis import catalogue
from hpabench.analysis.catalogue import RUN, KpiDefinition, register
from hpabench.analysis.rundata import load_run
from hpabench.analysis.summary import build_summary
from hpabench.analysis.thresholds import default_thresholds
from tests.support.synthetic_run import make_synthetic_run


def test_every_run_kpi_of_the_catalogue_is_in_the_summary_with_its_definition(tmp_path: Path) -> None:
    summary = build_summary(load_run(make_synthetic_run(tmp_path / "run", seed=1)))
    run_defs = {d.name: d for d in catalogue.definitions(RUN)}
    assert list(summary["kpis"]) == list(run_defs)
    for name, entry in summary["kpis"].items():
        assert (entry["unit"], entry["better"]) == (run_defs[name].unit, run_defs[name].better)
    phase_names = [d.name for d in catalogue.definitions(catalogue.PHASE)]
    assert all(list(p["kpis"]) == phase_names for p in summary["phases"])
    assert "ready_replicas_mean" in phase_names and "ready_replicas_mean" not in run_defs


def test_the_example_kpi_is_one_definition_in_its_own_module(tmp_path: Path) -> None:
    summary = build_summary(load_run(make_synthetic_run(tmp_path / "run", seed=1)))
    peak = summary["kpis"]["peak_rps"]["value"]
    throughput = summary["kpis"]["throughput_rps"]["value"]
    assert peak is not None and throughput is not None and peak > throughput  # a spike's peak beats its mean
    spike = next(p for p in summary["phases"] if p["name"] == "spike")
    assert spike["kpis"]["peak_rps"]["value"] == pytest.approx(peak)


def test_headlines_verdict_and_default_thresholds_come_from_the_definitions() -> None:
    headline = catalogue.headline_kpis()
    assert headline[:3] == ("p95_ms", "p99_ms", "error_rate") and len(set(headline)) == len(headline)
    assert set(catalogue.key_kpis()) <= {d.name for d in catalogue.definitions()}
    gated = {t.kpi for t in default_thresholds()}
    assert gated == {d.name for d in catalogue.definitions() if d.threshold is not None}
    assert {"p95_ms", "error_rate", "pod_crashes"} <= gated


def test_a_duplicate_name_is_refused() -> None:
    existing = catalogue.definitions()[0]
    with pytest.raises(ValueError, match="already registered"):
        register(KpiDefinition(existing.name, "s", "again", lambda facts, window: None))
    with pytest.raises(ValueError, match="scopes"):
        register(KpiDefinition("never_registered_kpi", "s", "x", lambda f, w: None, scopes=frozenset({"nowhere"})))
    assert catalogue.definition("never_registered_kpi") is None
