"""Pipeline input resolution (no servers): the SLO precedence and early refusal of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpabench.deploy.variant import Variant, default_variant
from hpabench.errors import SpecError
from hpabench.pipeline import RunOptions, resolve_inputs, resolve_slo
from hpabench.scenarios.catalogue import load_scenario


def test_slo_precedence() -> None:
    spike = load_scenario("spike")
    assert spike.slo is not None and spike.slo.p95_ms is not None
    slo = resolve_slo(spike, default_variant())
    assert slo.p95_ms == spike.slo.p95_ms and slo.sources["p95_ms"] == "scenario"
    assert slo.p99_ms == spike.slo.p99_ms  # a scenario's p99 bound is kept, not dropped
    explicit = Variant.model_validate({"name": "strict", "slo": {"p95_ms": 123}})
    slo = resolve_slo(spike, explicit)
    assert slo.p95_ms == 123 and slo.sources["p95_ms"] == "variant"
    assert slo.error_rate == (spike.slo.error_rate if spike.slo.error_rate is not None else 0.01)
    assert slo.as_manifest()["p95_ms"] == 123


def test_slo_defaults_when_nobody_declares_one() -> None:
    from hpabench.slo import DEFAULT_SLO
    from hpabench.slo import resolve_slo as resolve_slo_fields

    slo = resolve_slo_fields(None, None)
    assert (slo.p95_ms, slo.error_rate, slo.p99_ms) == (DEFAULT_SLO["p95_ms"], DEFAULT_SLO["error_rate"], None)
    assert set(slo.sources.values()) == {"default"} and "p99_ms" not in slo.as_manifest()


def test_unhonourable_hpa_refused_before_the_run(tmp_path: Path) -> None:
    variant = tmp_path / "v.yaml"
    variant.write_text(
        "name: broken\npatches:\n"
        "  - {kind: HorizontalPodAutoscaler, name: web, op: add, path: /spec/metrics/-,"
        " value: {type: Pods, pods: {metric: {name: nope}, target: {type: AverageValue, averageValue: '1'}}}}\n"
    )
    with pytest.raises(SpecError) as info:
        resolve_inputs(RunOptions(scenario="spike", variant=variant, reports_dir=tmp_path / "reports"))
    assert "nope" in str(info.value) or "custom_metrics" in str(info.value)
    assert not (tmp_path / "reports").exists()
