"""Text from users and run directories made safe to print on a terminal.

`escape_controls(text)` returns `text` with every control character except newline and tab
written as a visible escape (`\\x1b`, `\\r`, `\\u009b`), so a scenario name, a description or a
run id read from a file cannot move the cursor, recolour or clear the user's terminal, or forge
lines of output. Printable text, including non-ASCII letters, is unchanged.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """`text` with control characters escaped (see the module docstring)."""
    return _CONTROL.sub(_escape, text)
