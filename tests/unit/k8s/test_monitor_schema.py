"""The PodMonitors the k8s target creates, against a JSON schema of the monitoring.coreos.com/v1
fields they use (deploy/k8s/schemas/podmonitor-v1.json, written from the Prometheus Operator's
CRD: kubernetes-validate ships no CRD schemas)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hpabench.deploy.k8s.monitors import monitor_objects
from hpabench.deploy.render import render_objects

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "deploy" / "k8s" / "schemas" / "podmonitor-v1.json").read_text())
VARIANTS = sorted((ROOT / "deploy" / "variants").glob("*.yaml"))


def errors(obj: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return sorted(f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in validator.iter_errors(obj))


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    unit = "ms" if duration.endswith("ms") else duration[-1]
    return float(duration[: -len(unit)]) * units[unit]


def test_the_schema_itself_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("variant", [None, *VARIANTS], ids=lambda v: v.stem if v else "baseline")
@pytest.mark.parametrize("scrape_interval_s", [0.5, 2.0, 5.0, 30.0])
def test_rendered_monitors_match_the_crd_fields(variant: Path | None, scrape_interval_s: float) -> None:
    objects = render_objects(variant, None, ())
    monitors = monitor_objects(objects, "hpabench-run-1-ab12", scrape_interval_s)
    assert [m["metadata"]["name"] for m in monitors] == ["hpabench-web", "hpabench-load"]
    for monitor in monitors:
        assert errors(monitor) == [], monitor["metadata"]["name"]
        for endpoint in monitor["spec"]["podMetricsEndpoints"]:
            # Prometheus refuses a scrape timeout longer than the interval
            assert seconds(endpoint["scrapeTimeout"]) <= seconds(endpoint["interval"])


def test_the_schema_refuses_what_the_crd_would() -> None:
    good = monitor_objects(render_objects(None, None, ()), "ns-1", 2.0)[0]
    assert errors(good) == []
    bad_interval = copy.deepcopy(good)
    bad_interval["spec"]["podMetricsEndpoints"][0]["interval"] = "1.5s"  # not a Prometheus duration
    no_selector = copy.deepcopy(good)
    del no_selector["spec"]["selector"]
    unknown = copy.deepcopy(good)
    unknown["spec"]["podMetricsEndpoint"] = []  # a typo: strict field validation would refuse it
    assert errors(bad_interval) == [
        "spec/podMetricsEndpoints/0/interval: '1.5s' does not match " + repr(SCHEMA["$defs"]["duration"]["pattern"])
    ]
    assert errors(no_selector) == ["spec: 'selector' is a required property"]
    assert any("podMetricsEndpoint" in e and "Additional properties" in e for e in errors(unknown))
