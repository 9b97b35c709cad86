"""CI runs the README's quick start, literally: the two lists of commands can never drift apart.

The last round's CI was green while the README's own `make bench SCENARIO=spike` failed on every
fresh clone, because CI ran other commands. These tests read both files and compare.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_quick_start() -> list[str]:
    """The `$ ` commands of the first console block under "## Quick start", comments stripped."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1]
    block = re.search(r"```console\n(.*?)```", section, re.S)
    assert block is not None, "the README's quick start has no ```console block"
    return [line[2:].split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.startswith("$ ")]


def ci_commands() -> list[str]:
    """What .ci/run executes, without the shell preamble (shebang, comments, `set`, `cd`)."""
    commands = []
    for raw in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith(("set ", "cd ")):
            continue
        commands.append(line)
    return commands


def test_ci_runs_exactly_the_readme_quick_start() -> None:
    quick_start = readme_quick_start()
    assert quick_start == ["make bench SCENARIO=spike", "make test"]
    assert ci_commands() == quick_start


def test_make_test_installs_what_the_tests_need() -> None:
    """`make test` itself (not only CI) installs Chromium, which the browser tests need."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    test_rule = re.search(r"^test:(.*)$", makefile, re.M)
    assert test_rule is not None and {"system-test", "tools"} <= set(test_rule.group(1).split())
    setup = (ROOT / "scripts" / "setup-system.sh").read_text(encoding="utf-8")
    assert re.search(r'"\$\{1:-\}" = "test".*?missing\+=\(chromium\)', setup, re.S)
