"""Parse and format data sizes as nominators write them ("120 TB", "1.5 PiB").

Decimal units (kB, MB, GB, TB, PB) are powers of 1000 and binary units (KiB …
PiB) powers of 1024, as IEC 80000-13 says; nothing here guesses that "TB"
"really" means TiB.  Sizes are whole bytes (``int``) so they compare and sum
exactly.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

UNITS: dict[str, int] = {
    "B": 1,
    "kB": 1000,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "PB": 1000**5,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
    "PiB": 1024**5,
}

ALLOWED_UNITS_TEXT = (
    "B, kB, MB, GB, TB, PB (powers of 1000) or KiB, MiB, GiB, TiB, PiB (powers of 1024)"
)

MAX_SIZE_DIGITS = 30
"""Longest number in a size ("1.5" is three): 30 covers every byte count a 64-bit column holds."""

_SIZE = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[A-Za-z]+)\s*$")


class SizeError(ValueError):
    """A size string that is not a non-negative number followed by a known unit."""


def parse_size(text: str | int) -> int:
    """Return the number of bytes in ``text``, e.g. ``parse_size("1.5 TB") == 1_500_000_000_000``.

    A bare integer is taken as bytes.  Fractions of a byte are rounded down.
    """
    if isinstance(text, bool):
        raise SizeError(f"expected a size such as '120 TB', got {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise SizeError(f"a size cannot be negative, got {text}")
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise SizeError(
            f"expected a number and a unit such as '120 TB'; units: {ALLOWED_UNITS_TEXT}"
        )
    if len(match["number"]) > MAX_SIZE_DIGITS:
        raise SizeError(
            f"a number of {len(match['number'])} characters; at most {MAX_SIZE_DIGITS} are allowed"
        )
    unit = match["unit"]
    if unit not in UNITS:
        raise SizeError(f"unknown unit {unit!r}; allowed: {ALLOWED_UNITS_TEXT}")
    try:
        number = Decimal(match["number"])
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise SizeError(f"not a number: {match['number']!r}") from exc
    return int(number * UNITS[unit])


def format_size(n_bytes: int) -> str:
    """Render bytes with the largest decimal unit that keeps the number >= 1 ("120 TB")."""
    for unit in ("PB", "TB", "GB", "MB", "kB"):
        factor = UNITS[unit]
        if n_bytes >= factor:
            value = Decimal(n_bytes) / factor
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    return f"{n_bytes} B"
