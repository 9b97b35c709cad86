"""Declarative thresholds for the CI gate: parsing, defaults and evaluation (pure).

File format (YAML; every entry is a string shorthand or a mapping):

```yaml
version: 1
thresholds:
  - "error_rate < 0.01"          # absolute: the run's value must satisfy it
  - "p95_ms <= +10%"             # relative: at most 10 % above the baseline (median of its runs)
  - "slo_violation_pct <= +5"    # delta: at most 5 units above the baseline
  - kpi: scale_up_ready_s        # mapping form, with options
    op: "<="
    value: "+20%"
    phase: spike                 # a phase KPI instead of the whole-run one
    on_missing: skip             # fail (default) | warn | skip — when the run/baseline has no value
    severity: fail               # fail (default) | warn — a warn threshold never fails the gate
    description: scale-up must not get slower
```

Values: a plain number is absolute; a signed number with `%` is relative to the baseline
(limit = baseline · (1 + pct/100)); a signed number without `%` is a delta (limit = baseline +
delta). Operators: `<`, `<=`, `>`, `>=`. Every problem is reported at once with file and path
(`SpecError`, exit 2).

`DEFAULT_THRESHOLDS` apply when no file is given (see `default_thresholds()`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from hpabench.analysis import catalogue
from hpabench.errors import SpecError, SpecIssue
from hpabench.specio import FormatVersion1, StrictModel, read_yaml, validate_data

Op = Literal["<", "<=", ">", ">="]
Mode = Literal["absolute", "relative", "delta"]
Outcome = Literal["pass", "fail", "warn", "skip"]

_SHORTHAND = re.compile(r"^\s*(?P<kpi>[a-z][a-z0-9_]*)\s*(?P<op><=|>=|<|>)\s*(?P<value>\S+)\s*$")
_VALUE = re.compile(r"^(?P<sign>[+-])?(?P<number>\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?P<pct>%)?$")

DEFAULT_THRESHOLDS: tuple[str | Mapping[str, Any], ...] = catalogue.default_threshold_specs()
"""Declared beside each KPI in the catalogue: latency and errors must not regress beyond
noise-tolerant margins; scaling speed, capacity shortfall, cost and pod crashes (no more than the
baseline's) are checked when measured; a generator that fell behind only warns (the measurement
is suspect, not the system)."""


class ThresholdSpec(StrictModel):
    """One threshold in mapping form (see the module docstring)."""

    kpi: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    op: Op
    value: float | str
    phase: str | None = None
    on_missing: Literal["fail", "warn", "skip"] = "fail"
    severity: Literal["fail", "warn"] = "fail"
    description: str = ""


class ThresholdFile(StrictModel):
    version: FormatVersion1 = 1
    # Entries are validated one by one in `parse_thresholds`, so errors name `thresholds.N.field`.
    thresholds: list[str | dict[str, Any]] = Field(min_length=1)


@dataclass(frozen=True)
class Threshold:
    """A parsed threshold: `mode` says how `amount` turns into a limit."""

    kpi: str
    op: Op
    mode: Mode
    amount: float
    text: str
    phase: str | None = None
    on_missing: Literal["fail", "warn", "skip"] = "fail"
    severity: Literal["fail", "warn"] = "fail"
    description: str = ""

    @property
    def name(self) -> str:
        """The human/JUnit name, e.g. `p95_ms <= +10%` or `spike: p95_ms <= +10%`."""
        return f"{self.phase}: {self.text}" if self.phase else self.text

    def limit(self, baseline: float | None) -> float | None:
        """The number the KPI is compared with (None when a relative one has no baseline)."""
        if self.mode == "absolute":
            return self.amount
        if baseline is None:
            return None
        if self.mode == "relative":
            return baseline + abs(baseline) * self.amount / 100.0
        return baseline + self.amount


@dataclass(frozen=True)
class Check:
    """The outcome of one threshold on one run (values in the KPI's unit)."""

    threshold: Threshold
    outcome: Outcome
    actual: float | None
    baseline: float | None
    limit: float | None
    unit: str
    message: str


def parse_value(raw: float | str) -> tuple[Mode, float]:
    """`0.01` → absolute; `"+10%"` → relative 10; `"-5"` → delta −5; `"10"` → absolute.
    Raises ValueError with the reason."""
    if isinstance(raw, bool):
        raise ValueError("must be a number or a signed number/percentage like +10%")
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise ValueError("must be finite")
        return "absolute", float(raw)
    text = raw.strip()
    match = _VALUE.match(text)
    if match is None:
        raise ValueError(f"{raw!r} is not a number, a delta like +5 or a percentage like +10%")
    number = float(text.rstrip("%").lstrip("+"))
    if not math.isfinite(number):
        raise ValueError(f"{raw!r} must be a finite number")
    if match.group("pct"):
        if not match.group("sign"):
            raise ValueError(f"{raw!r}: write relative thresholds with a sign (+10% or -10%)")
        return "relative", number
    return ("delta", number) if match.group("sign") else ("absolute", number)


def _from_spec(spec: ThresholdSpec, text: str | None = None) -> Threshold:
    mode, amount = parse_value(spec.value)
    shown = text or f"{spec.kpi} {spec.op} {spec.value}"
    return Threshold(
        spec.kpi, spec.op, mode, amount, shown, spec.phase, spec.on_missing, spec.severity, spec.description
    )


def parse_thresholds(entries: list[ThresholdSpec | str] | list[str | dict[str, Any]], file: str) -> list[Threshold]:
    """Parse validated entries (or the raw defaults) into Thresholds; SpecError lists every problem."""
    out: list[Threshold] = []
    issues: list[SpecIssue] = []
    for index, entry in enumerate(entries):
        where = f"thresholds.{index}"
        try:
            if isinstance(entry, str):
                match = _SHORTHAND.match(entry)
                if match is None:
                    raise ValueError(f"{entry!r} is not `<kpi> <op> <value>` (e.g. `p95_ms <= +10%`)")
                spec = ThresholdSpec(kpi=match["kpi"], op=match["op"], value=match["value"])  # type: ignore[arg-type]
                out.append(_from_spec(spec, " ".join(entry.split())))
            else:
                spec = entry if isinstance(entry, ThresholdSpec) else validate_data(ThresholdSpec, entry, file, where)
                out.append(_from_spec(spec))
        except ValueError as exc:
            issues.append(SpecIssue(file, where, str(exc)))
        except SpecError as exc:
            issues.extend(exc.issues)
    if issues:
        raise SpecError(issues, headline="invalid thresholds")
    return out


def default_thresholds() -> list[Threshold]:
    return parse_thresholds([t if isinstance(t, str) else dict(t) for t in DEFAULT_THRESHOLDS], "default thresholds")


def load_thresholds(path: Path | None) -> list[Threshold]:
    """The thresholds in `path`, or the defaults when `path` is None."""
    if path is None:
        return default_thresholds()
    model = validate_data(ThresholdFile, read_yaml(path), str(path))
    return parse_thresholds(model.thresholds, str(path))


def _holds(actual: float, op: Op, limit: float) -> bool:
    if op == "<":
        return actual < limit
    if op == "<=":
        return actual <= limit
    if op == ">":
        return actual > limit
    return actual >= limit


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4g}"


def evaluate(threshold: Threshold, actual: float | None, baseline: float | None, unit: str = "") -> Check:
    """Apply one threshold (see the module docstring). Never raises."""
    missing_outcome: Outcome = threshold.on_missing
    if actual is None:
        return Check(threshold, missing_outcome, None, baseline, None, unit, "the run has no value for this KPI")
    limit = threshold.limit(baseline)
    if limit is None:
        return Check(threshold, missing_outcome, actual, None, None, unit, "the baseline has no value for this KPI")
    ok = _holds(actual, threshold.op, limit)
    reference = f" (baseline {_fmt(baseline)})" if threshold.mode != "absolute" else ""
    message = (
        f"{_fmt(actual)} {unit} {'satisfies' if ok else 'breaks'} {threshold.op} {_fmt(limit)}{reference}".replace(
            "  ", " "
        )
    )
    outcome: Outcome = "pass" if ok else ("warn" if threshold.severity == "warn" else "fail")
    return Check(threshold, outcome, actual, baseline, limit, unit, message)
