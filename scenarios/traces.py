"""Request-rate traces for the `replay` shape: CSV files with a header and an `rps` column.

Contract: `read_trace(path, column="rps")` returns the rates (requests/s, floats ≥ 0) in file
order, one per row; blank lines and lines starting with `#` are ignored; any other columns
(e.g. `minute`) are ignored too. Every problem raises `SpecError` naming the file and the line.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from hpabench.errors import SpecError, SpecIssue

MAX_ROWS = 100_000


def parse_trace(text: str, file: str, column: str = "rps") -> list[float]:
    """Parse CSV `text` (see module docstring); `file` is only used in error messages."""
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1)]
    lines = [(n, line) for n, line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise SpecError(SpecIssue(file, "", "trace is empty (expected a header line and rows)"))
    header_number, header_line = lines[0]
    header = [cell.strip() for cell in next(csv.reader(io.StringIO(header_line)))]
    if column not in header:
        raise SpecError(
            SpecIssue(file, f"line {header_number}", f"no {column!r} column in header {','.join(header)!r}")
        )
    index = header.index(column)
    rates: list[float] = []
    issues: list[SpecIssue] = []
    for number, line in lines[1:]:
        cells = next(csv.reader(io.StringIO(line)))
        if len(cells) <= index:
            issues.append(SpecIssue(file, f"line {number}", f"missing the {column!r} value"))
            continue
        raw = cells[index].strip()
        try:
            value = float(raw)
        except ValueError:
            issues.append(SpecIssue(file, f"line {number}", f"{column} {raw!r} is not a number"))
            continue
        if not math.isfinite(value) or value < 0:
            issues.append(SpecIssue(file, f"line {number}", f"{column} must be a finite number >= 0, got {raw}"))
            continue
        rates.append(value)
    if len(lines) - 1 > MAX_ROWS:
        issues.append(SpecIssue(file, "", f"more than {MAX_ROWS} rows"))
    if issues:
        raise SpecError(issues)
    if not rates:
        raise SpecError(SpecIssue(file, "", "trace has a header but no rows"))
    return rates


def read_trace(path: Path, column: str = "rps") -> list[float]:
    """Read and parse the trace file at `path` (see module docstring)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(SpecIssue(str(path), "", "trace file not found")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(SpecIssue(str(path), "", f"trace file cannot be read: {exc}")) from None
    return parse_trace(text, str(path), column)
