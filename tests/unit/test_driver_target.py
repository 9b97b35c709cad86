"""The driver's safety and input checks: load only to loopback unless explicitly allowed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hpabench.errors import EXIT_INVALID_INPUT, SafetyError, SpecError
from hpabench.scenarios.catalogue import load_scenario
from hpabench.scenarios.drive.driver import DriverConfig, check_target, run_load


@pytest.mark.parametrize(
    "host",
    ["http://127.0.0.1:8080", "http://127.0.0.9", "http://localhost:1234/", "http://[::1]:80", "https://127.0.0.1"],
)
def test_loopback_targets_are_allowed(host: str) -> None:
    check_target(host, set(), allow_external=False)


@pytest.mark.parametrize("host", ["http://10.0.0.5:80", "http://example.com", "http://192.168.1.1:8080"])
def test_external_targets_are_refused_without_consent(host: str) -> None:
    with pytest.raises(SafetyError, match="allow-external-target") as info:
        check_target(host, set(), allow_external=False)
    assert info.value.exit_code == EXIT_INVALID_INPUT
    check_target(host, set(), allow_external=True)


def test_deployed_hosts_are_allowed() -> None:
    check_target("http://web.hpabench-run.svc:80", {"web.hpabench-run.svc"}, allow_external=False)
    with pytest.raises(SafetyError):
        check_target("http://web.other.svc:80", {"web.hpabench-run.svc"}, allow_external=False)


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "ftp://127.0.0.1", "http://", "http://127.0.0.1:99999"])
def test_malformed_targets_are_input_errors(host: str) -> None:
    with pytest.raises(SpecError):
        check_target(host, set(), allow_external=False)


def test_run_load_refuses_before_starting_anything(tmp_path: Path) -> None:
    scenario = load_scenario("steady")
    with pytest.raises(SafetyError):
        run_load(DriverConfig(scenario=scenario, host="http://10.1.2.3:80", data_dir=tmp_path))
    with pytest.raises(SpecError) as info:
        run_load(
            DriverConfig(
                scenario=scenario,
                host="http://127.0.0.1:1",
                data_dir=tmp_path,
                time_scale=0,
                workers=-1,
                locustfile=tmp_path / "missing.py",
            )
        )
    paths = {(issue.file, issue.path) for issue in info.value.issues}
    assert paths == {("driver", "time_scale"), ("driver", "workers"), (str(tmp_path / "missing.py"), "")}
    assert list(tmp_path.iterdir()) == []  # nothing was written or started


def test_the_parent_never_imports_locust_or_gevent() -> None:
    code = (
        "import sys\n"
        "import hpabench.scenarios.drive.driver, hpabench.scenarios.catalogue, hpabench.scenarios.drive.results\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent'))\n"
        "print(','.join(leaked))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""
