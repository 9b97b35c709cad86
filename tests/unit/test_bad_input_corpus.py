"""Issue 9's property: every malformed input of the corpus is refused the way the CLI promises.

Each case runs `hpabench.cli.main` in-process and must: exit with one of its codes (2, or 1 for a
run that cannot be judged), print no traceback and no raw control character, name the file (or
option) and the field, line or byte, create no run directory, start no target and write nothing
into a run directory it refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hpabench.analysis.baseline import make_baseline, write_baseline
from hpabench.cli import main
from tests.badinput_corpus import Case, Workspace, all_cases
from tests.support.synthetic_run import make_synthetic_run

CASES = all_cases()


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("golden")
    run = make_synthetic_run(root / "good-run", duration_s=60, run_id="good-run")
    main(["report", str(run)])  # a sound summary.json, as a finished run has
    baseline = write_baseline(make_baseline([run]), root / "baseline.json")
    return run, baseline


@pytest.fixture
def spies(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Records any attempt to create a run directory or start a target (there must be none)."""
    from hpabench.deploy.local.target import LocalTarget
    from hpabench.rundir import RunDir

    calls: dict[str, list[Any]] = {"run_dir": [], "start": []}

    def no_run_dir(*args: Any, **kwargs: Any) -> Any:
        calls["run_dir"].append(args)
        raise AssertionError("a run directory was created for invalid input")

    def no_start(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["start"].append(args)
        raise AssertionError("the target was started for invalid input")

    monkeypatch.setattr(RunDir, "create", staticmethod(no_run_dir))
    monkeypatch.setattr(LocalTarget, "start", no_start)
    return calls


def _tree(path: Path) -> list[tuple[str, int]]:
    if not path.is_dir():
        return []
    return sorted((str(p.relative_to(path)), p.stat().st_size) for p in path.rglob("*") if not p.is_fifo())


def test_corpus_is_large_and_covers_every_kind() -> None:
    assert len(CASES) >= 300
    kinds = {case.id.split("-")[0] for case in CASES}
    assert kinds >= {"scenario", "trace", "variant", "thresholds", "baseline", "rundir", "cli", "locustfile"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_input_is_refused(
    case: Case,
    tmp_path: Path,
    golden: tuple[Path, Path],
    spies: dict[str, list[Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ws = Workspace(tmp_path, *golden, tmp_path / "reports")
    argv = case.build(ws)
    before = {arg: _tree(Path(arg)) for arg in argv if arg.startswith(str(tmp_path)) and Path(arg).is_dir()}

    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors (exit 2, the usage line on stderr)
        code = int(exc.code or 0)

    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert code in case.codes, output
    assert "Traceback" not in output
    assert "\x1b" not in output and "\r" not in output and "\x07" not in output
    for mention in case.mentions:
        assert mention in output, f"{mention!r} not named in:\n{output}"
    assert not ws.reports.exists() or list(ws.reports.iterdir()) == []
    assert spies == {"run_dir": [], "start": []}
    for arg, tree in before.items():  # a refused run directory is left exactly as it was
        assert _tree(Path(arg)) == tree, arg


def test_a_locustfile_that_hangs_at_import_is_refused_after_the_timeout(
    tmp_path: Path, spies: dict[str, list[Any]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hpabench.scenarios.drive.locustcheck.IMPORT_TIMEOUT_S", 3.0)
    locustfile = tmp_path / "hang.py"
    locustfile.write_text("import time\ntime.sleep(600)\n")
    reports = tmp_path / "reports"
    code = main(["run", "--scenario", "spike", "--locustfile", str(locustfile), "--reports-dir", str(reports)])
    err = capsys.readouterr().err
    assert code == 2
    assert "hang.py" in err and "took more than 3 s" in err
    assert not reports.exists() and spies == {"run_dir": [], "start": []}
