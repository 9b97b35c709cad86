"""Human-facing progress output on stderr: stage lines, and one live status line during load.

On a terminal the live line is redrawn in place; elsewhere (CI logs) it is printed at most every
`log_every_s` seconds so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Console:
    def __init__(self, stream: TextIO | None = None, log_every_s: float = 10.0, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.log_every_s = log_every_s
        self.quiet = quiet
        self._live_shown = False
        self._last_live_print = float("-inf")
        self._is_tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def _end_live(self) -> None:
        if self._live_shown:
            self.stream.write("\n")
            self._live_shown = False

    def info(self, message: str) -> None:
        """A line that stays in the log (stage changes, URLs, results)."""
        if self.quiet:
            return
        self._end_live()
        self.stream.write(message + "\n")
        self.stream.flush()

    def stage(self, name: str, detail: str = "") -> None:
        self.info(f"==> {name}" + (f": {detail}" if detail else ""))

    def warn(self, message: str) -> None:
        self._end_live()
        self.stream.write(f"WARNING: {message}\n")
        self.stream.flush()

    def live(self, line: str) -> None:
        """The one-line progress display; redrawn in place on a terminal, throttled elsewhere."""
        if self.quiet:
            return
        if self._is_tty:
            self.stream.write("\r\x1b[2K" + line)
            self.stream.flush()
            self._live_shown = True
            return
        now = time.monotonic()
        if now - self._last_live_print >= self.log_every_s:
            self._last_live_print = now
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        self._end_live()
