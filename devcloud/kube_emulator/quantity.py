"""Kubernetes resource quantities ("500m", "2Gi", "1e3") as exact Decimals.

Only parsing and comparison, which is what admission needs; it does not
canonicalise quantities the way the API server re-serialises them.
"""

from __future__ import annotations

import re
from decimal import Decimal

QUANTITY_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?\d+)?$")
ALLOWED = "a number with an optional suffix (m, k, M, G, Ki, Mi, Gi, ..., or an exponent e3)"

_SUFFIX = {
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
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def is_quantity(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and QUANTITY_RE.match(value) is not None


def parse(value: object) -> Decimal:
    """The quantity's value in base units; raises ValueError if it is not one."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    if not isinstance(value, str) or not QUANTITY_RE.match(value):
        raise ValueError(f"not a quantity: {value!r}")
    match = re.match(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(.*)$", value)
    assert match is not None
    number, suffix = Decimal(match.group(1)), match.group(2)
    if suffix[:1] in ("e", "E"):
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _SUFFIX[suffix]


def fmt(value: Decimal) -> str:
    """A plain decimal string for messages and status fields."""
    text = format(value.normalize(), "f")
    return text
