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
from hpabench.inputfile import MAX_TRACE_BYTES, read_input_text
from hpabench.scenarios.spec import MAX_RPS  # a rate the spec refuses is blamed on its CSV line

MAX_ROWS = 100_000


def parse_trace(text: str, file: str, column: str = "rps") -> list[float]:
    """Parse CSV `text` (see module docstring); `file` is only used in error messages."""
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1)]
    lines = [(n, line) for n, line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise SpecError(SpecIssue(file, "", "trace is empty (expected a header line and rows)"))
    if len(lines) - 1 > MAX_ROWS:
        raise SpecError(SpecIssue(file, "", f"trace has {len(lines) - 1} rows, more than the limit of {MAX_ROWS}"))
    header_number, header_line = lines[0]
    try:
        header = [cell.strip() for cell in next(csv.reader(io.StringIO(header_line)))]
    except csv.Error as exc:
        raise SpecError(SpecIssue(file, f"line {header_number}", f"not a CSV header: {exc}")) from None
    if column not in header:
        raise SpecError(
            SpecIssue(file, f"line {header_number}", f"no {column!r} column in header {','.join(header)!r}")
        )
    index = header.index(column)
    rates: list[float] = []
    issues: list[SpecIssue] = []
    for number, line in lines[1:]:
        try:
            cells = next(csv.reader(io.StringIO(line)))
        except csv.Error as exc:
            issues.append(SpecIssue(file, f"line {number}", f"not a CSV row: {exc}"))
            continue
        if len(cells) <= index:
            issues.append(SpecIssue(file, f"line {number}", f"missing the {column!r} value"))
            continue
        raw = cells[index].strip()
        try:
            value = float(raw)
        except ValueError:
            issues.append(SpecIssue(file, f"line {number}", f"{column} {raw!r} is not a number"))
            continue
        if not math.isfinite(value) or not 0 <= value <= MAX_RPS:
            issues.append(
                SpecIssue(file, f"line {number}", f"{column} must be a finite number from 0 to {MAX_RPS:g}, got {raw}")
            )
            continue
        rates.append(value)
    if issues:
        raise SpecError(issues)
    if not rates:
        raise SpecError(SpecIssue(file, "", "trace has a header but no rows"))
    return rates


def read_trace(path: Path, column: str = "rps") -> list[float]:
    """Read and parse the trace file at `path` (see module docstring)."""
    text = read_input_text(path, what="trace file", max_bytes=MAX_TRACE_BYTES)
    return parse_trace(text, str(path), column)
