"""The README's examples are real: its scenario, variant and thresholds YAML validate as shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hpabench.deploy.render import render
from hpabench.deploy.variant import load_variant
from hpabench.scenarios.catalogue import load_scenario

README = Path(__file__).resolve().parents[2] / "README.md"


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)


def test_readme_scenario_example_loads(tmp_path: Path) -> None:
    (scenario_text,) = [b for b in _yaml_blocks() if b.startswith("name: lunch-rush")]
    path = tmp_path / "lunch-rush.yaml"
    path.write_text(scenario_text)
    scenario = load_scenario(path)
    assert [stage.name for stage in scenario.stages] == ["morning", "burst-1", "plateau", "burst-2"]


def test_readme_variant_example_renders(tmp_path: Path) -> None:
    (variant_text,) = [b for b in _yaml_blocks() if b.startswith("name: big-pods-leastconn")]
    path = tmp_path / "v.yaml"
    path.write_text(variant_text)
    objects = render(load_variant(path))
    web = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "web")
    assert web["spec"]["template"]["metadata"]["labels"]["tier"] == "frontend"


@pytest.mark.parametrize("block_start", ["version: 1\nthresholds:"])
def test_readme_thresholds_example_parses(tmp_path: Path, block_start: str) -> None:
    from hpabench.analysis.thresholds import load_thresholds

    (text,) = [b for b in _yaml_blocks() if b.startswith(block_start)]
    path = tmp_path / "t.yaml"
    path.write_text(text)
    assert len(load_thresholds(path)) == 3


def test_readme_study_example_loads(tmp_path: Path) -> None:
    from hpabench.study.plan import plan_runs
    from hpabench.study.spec import load_study

    (text,) = [b for b in _yaml_blocks() if b.startswith("name: my-review")]
    path = tmp_path / "my-review.yaml"
    path.write_text(text, encoding="utf-8")
    spec, _ = load_study(path)
    assert spec.variant_entries()[0].name == "baseline"
    assert len(plan_runs(spec)) == 4 * 3


def _console_commands() -> list[str]:
    """Every `$ hpabench …` line of the README's console blocks (continuations joined, comments cut)."""
    commands = []
    for block in re.findall(r"```console\n(.*?)```", README.read_text(), re.S):
        for command in re.split(r"\n(?=\$ )", block.replace("\\\n", " ")):
            line = command.split("\n")[0]
            if line.startswith("$ hpabench "):
                commands.append(re.sub(r"\s+#.*$", "", line[len("$ hpabench ") :]).strip())
    return commands


def test_every_hpabench_command_in_the_readme_parses() -> None:
    import shlex

    from hpabench.cli import build_parser

    commands = _console_commands()
    assert len(commands) >= 10, commands
    for command in commands:
        try:
            build_parser().parse_args(shlex.split(command))
        except SystemExit as exc:  # argparse's way of saying "bad command line"
            raise AssertionError(f"README command does not parse: hpabench {command}") from exc
