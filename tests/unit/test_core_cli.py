"""CLI wiring: exit codes and error messages without tracebacks."""

from __future__ import annotations

import re

import pytest

from hpabench.cli import build_parser, main
from hpabench.console import Console


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    # argparse lists each sub-command at the start of an indented line: match the whole word
    # there, so "up" cannot be satisfied by "grouped" nor "down" by "tear down".
    listed = {m.group(1) for m in re.finditer(r"^ {2,}([a-z][a-z-]*)(?: {2,}|$)", out, re.M)}
    for command in ("render", "scenarios", "run", "report", "compare", "gate", "baseline", "up", "status", "down"):
        assert command in listed, f"{command!r} is not listed in --help"


def test_unknown_scenario_is_invalid_input(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scenarios", "show", "no-such-scenario"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no-such-scenario" in err and "spike" in err
    assert "Traceback" not in err


def test_missing_variant_file_is_invalid_input(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = main(["render", "--variant", str(tmp_path / "missing.yaml")])
    assert code == 2
    assert "missing.yaml" in capsys.readouterr().err


def test_run_refuses_bad_time_scale_before_starting_anything(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = main(["run", "--scenario", "spike", "--time-scale", "0", "--reports-dir", str(tmp_path)])
    assert code == 2
    assert list(tmp_path.iterdir()) == []


def test_parser_defaults() -> None:
    args = build_parser().parse_args(["run", "--scenario", "spike"])
    assert args.target == "local" and args.time_scale == 1.0 and args.workers == 0


def test_console_throttles_live_lines_off_terminal() -> None:
    import io

    stream = io.StringIO()
    console = Console(stream=stream, log_every_s=3600)
    console.live("a")
    console.live("b")
    console.info("done")
    assert stream.getvalue() == "a\ndone\n"
