"""The metric profile: the shipped default, strict validation, placeholder substitution."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpabench.analysis.profile import DEFAULT_PROFILE, load_profile, placeholders, render_queries
from hpabench.errors import SpecError

REQUIRED_METRICS = (
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "container_cpu_usage_seconds_total",
    "kube_pod_container_resource_requests",
    "container_cpu_cfs_throttled_periods_total",
    "kube_deployment_status_replicas_ready",
    "kube_deployment_spec_replicas",
    "kube_horizontalpodautoscaler_status_desired_replicas",
    "kube_horizontalpodautoscaler_status_current_replicas",
    "haproxy_backend_current_queue",
    "haproxy_server_current_sessions",
)


def test_default_profile_covers_the_contract() -> None:
    profile = load_profile()
    queries = render_queries(profile)
    text = "\n".join(queries.values())
    for metric in REQUIRED_METRICS:
        assert metric in text, metric
    assert all("$" not in q for q in queries.values())
    assert 'namespace="hpabench"' in queries["pod_rps"]
    for q in (0.50, 0.95, 0.99):
        name = f"server_p{round(q * 100)}_ms_by_route"
        assert f"histogram_quantile({q:.2f}" in queries[name]
        assert "by (le, route)" in queries[name]
    assert 'container="web"' in queries["pod_cpu_cores"]
    assert 'deployment="web"' in queries["ready_replicas"]
    assert 'proxy="web"' in queries["haproxy_server_sessions"]
    assert load_profile(DEFAULT_PROFILE) == profile


def test_overrides_win(tmp_path: Path) -> None:
    queries = render_queries(load_profile(), {"window": "60s", "namespace": "perf-1"})
    assert "[60s]" in queries["pod_rps"]
    assert 'namespace="perf-1"' in queries["pod_rps"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(text)
    return path


def test_every_problem_reported_with_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
version: 1
variables: {ns: x, window: 30}
queries:
  - {name: ok_one, unit: req/s, query: 'rate(a{ns="$ns"}[$window])'}
  - {name: ok_one, unit: req/s, query: up}
  - {name: Bad-Name, unit: x, query: up}
  - {name: three, unit: x, query: 'rate(a[$missing])'}
  - {name: four, unit: x, query: up, colour: red}
""",
    )
    with pytest.raises(SpecError) as info:
        load_profile(path)
    paths = {issue.path for issue in info.value.issues}
    assert {"queries.2.name", "queries.4.colour"} <= paths
    assert all(issue.file == str(path) for issue in info.value.issues)
    # the schema errors come first; fix them and the semantic checks report both remaining issues
    path = write(
        tmp_path,
        """
variables: {ns: x, window: 30}
queries:
  - {name: ok_one, unit: req/s, query: 'rate(a{ns="$ns"}[$window])'}
  - {name: ok_one, unit: req/s, query: up}
  - {name: three, unit: x, query: 'rate(a[$missing])'}
""",
    )
    with pytest.raises(SpecError) as info:
        load_profile(path)
    messages = {issue.path: issue.message for issue in info.value.issues}
    assert "duplicate name 'ok_one'" in messages["queries.1.name"]
    assert "$missing" in messages["queries.2.query"]


def test_numbers_become_text_and_dollar_escape(tmp_path: Path) -> None:
    path = write(tmp_path, "variables: {window: 30}\nqueries:\n  - {name: a, unit: u, query: 'x[${window}s] $$'}\n")
    assert render_queries(load_profile(path)) == {"a": "x[30s] $"}
    assert placeholders("a $b ${c} $$d") == {"b", "c"}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("queries: []\n", "queries"),
        ("version: 2\nqueries:\n  - {name: a, unit: u, query: up}\n", "version"),
        ("queries:\n  - {name: a, unit: u, query: 'x $'}\n", "queries.0.query"),
        ("queries: [\n", "line"),
    ],
)
def test_invalid_files(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(SpecError) as info:
        load_profile(write(tmp_path, text))
    assert any(issue.path.startswith(where) for issue in info.value.issues), info.value


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_profile(tmp_path / "nope.yaml")
