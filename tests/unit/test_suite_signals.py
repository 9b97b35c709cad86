"""The suite's children get Ctrl-C even when the suite itself was started with SIGINT ignored."""

from __future__ import annotations

import signal
import subprocess
import sys


def test_children_of_the_suite_see_sigint_as_keyboard_interrupt() -> None:
    code = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    # What a background shell does to its jobs: SIGINT ignored in the process that starts pytest.
    ignoring = [sys.executable, "-c", f"import signal, subprocess, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                f"sys.exit(subprocess.call([sys.executable, '-c', {code!r}]))"]  # fmt: skip
    ignored = subprocess.run(ignoring, capture_output=True, text=True, timeout=60, check=True)
    assert ignored.stdout.strip() == "False"  # the hazard is real: the grandchild ignores Ctrl-C
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # tests/conftest.py's fix
    ours = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert ours.stdout.strip() == "True"
