"""Kubernetes quantities as the HPA controller sees them: integer milli-units (pure).

The upstream controller compares every metric as `Quantity.MilliValue()`: an int64 of
thousandths of the base unit (millicores for CPU, milli-bytes for memory, thousandths of a
custom metric), rounded *up*. Doing the same here keeps the integer divisions of the replica
calculator (utilization percent, average usage) bit-for-bit identical.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_PATTERN = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<exp>[eE][+-]?[0-9]+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$"
)


@dataclass(frozen=True)
class Quantity:
    """A parsed quantity: `text` as written, `value` exact in base units."""

    text: str
    value: Decimal

    @property
    def milli(self) -> int:
        """Thousandths of the base unit, rounded up like `resource.Quantity.MilliValue()`."""
        return ceil_milli(self.value)

    def as_float(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        return self.text


def parse_quantity(raw: object) -> Quantity:
    """Parse "250m", "0.5", "128Mi", "1e3" or a YAML number; ValueError when malformed."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueError(f"not a quantity: {raw!r}")
    text = str(raw).strip()
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(f"not a quantity: {raw!r} (expected e.g. 250m, 0.5, 128Mi, 1e3)")
    try:
        number = Decimal(match.group("number"))
        if match.group("exp"):
            number = number.scaleb(int(match.group("exp")[1:]))
    except InvalidOperation:
        raise ValueError(f"not a quantity: {raw!r}") from None
    suffix = match.group("suffix") or ""
    value = number * _BINARY[suffix] if suffix in _BINARY else number * _DECIMAL[suffix]
    return Quantity(text=text, value=value)


def ceil_milli(value: Decimal | float | int) -> int:
    """`value` (base units) in milli-units, rounded up (MilliValue semantics)."""
    if isinstance(value, int):
        return value * 1000
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    return math.ceil(exact * 1000)


def trunc_milli(value: float) -> int:
    """`value` in milli-units truncated toward zero, as prometheus-adapter converts samples."""
    return int(value * 1000.0)


def format_milli(milli: int, unit: str = "") -> str:
    """A milli-value the way `kubectl describe` prints a Quantity: "250m", "3", "1500m"."""
    if milli % 1000 == 0:
        return f"{milli // 1000}{unit}"
    return f"{milli}m{unit}"


def trunc_div(numerator: int, denominator: int) -> int:
    """Integer division truncating toward zero, like Go's `/` on int64 (Python's `//` floors)."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator > 0) else -quotient
