"""Kubernetes resource quantities ("500m", "2Gi", "1e3") as exact Decimals, and back.

Quotas, node allocatable and pod requests are all quantities; the capacity
gate and the usage reader add them up, so they are parsed exactly (Decimal),
never through float.

What this module deliberately does not do: canonicalise a quantity the way
the API server re-serialises it (``1000m`` -> ``1``); callers compare numbers.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

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
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
GIB = Decimal(2**30)


def is_quantity(text: str) -> bool:
    return bool(_QUANTITY.match(text))


def parse(value: str | int | float) -> Decimal:
    """The quantity's value in base units (cores, bytes, GPUs); ValueError names a bad one."""
    if isinstance(value, int):
        return Decimal(value)
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    suffix = match.group("suffix") or ""
    try:
        number = Decimal(match.group("number"))
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise ValueError(f"not a Kubernetes quantity: {value!r}") from exc
    if suffix[:1] in ("e", "E"):
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _SUFFIX[suffix]


def mebibytes(mb: int) -> str:
    """``mb`` MiB as a quantity (OpenStack's ``ram_mb`` is MiB)."""
    return f"{mb}Mi"


def gibibytes(gb: int) -> str:
    """``gb`` GiB as a quantity (OpenStack's volume GB are GiB)."""
    return f"{gb}Gi"
