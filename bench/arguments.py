"""Command-line value checks shared by the benchmark scripts.

Why this exists: a benchmark given ``--rounds 0`` or a negative latency used
to run for minutes and then die in a traceback (an empty median, a negative
``sleep``), and ``bench/metering.py --reuse-db`` would drop any database of
that name it found without benchmark data in it; argparse refuses such a
value at once, naming the option, the value and what is allowed.  It
deliberately holds no benchmark logic.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

# The prefix every benchmark's scratch database carries (``ngc_bench_...``).
BENCH_DATABASE_PREFIX = "ngc_bench_"


def within(
    minimum: float, convert: Callable[[str], Any], what: str, maximum: float | None = None
) -> Callable[[str], Any]:
    """An argparse type: ``convert(text)``, refused unless finite and within the bounds."""
    bounds = f"at least {minimum}" + ("" if maximum is None else f" and at most {maximum}")

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if (
            value is None
            or not math.isfinite(value)
            or value < minimum
            or (maximum is not None and value > maximum)
        ):
            raise argparse.ArgumentTypeError(f"{text!r}: allowed is {what} of {bounds}")
        return value

    return parse


def count(minimum: int = 1, maximum: int | None = None) -> Callable[[str], Any]:
    """A whole number of at least ``minimum`` (and at most ``maximum``)."""
    return within(minimum, int, "a whole number", maximum)


def seconds(minimum: float = 0, maximum: float | None = None) -> Callable[[str], Any]:
    """A finite number of seconds, at least ``minimum`` (and at most ``maximum``)."""
    return within(minimum, float, "a number of seconds", maximum)


def listing(item: Callable[[str], Any], *, ascending: bool = False) -> Callable[[str], Any]:
    """A comma-separated, non-empty list without repeats, each element checked by ``item``.

    ``ascending``: each element must be larger than the one before it.
    """

    def parse(text: str) -> list[Any]:
        parts = [p.strip() for p in text.split(",")]
        if not text.strip() or "" in parts:
            raise argparse.ArgumentTypeError(
                f"{text!r}: allowed is a comma-separated list without empty elements"
            )
        values = [item(p) for p in parts]
        if len(set(values)) < len(values):
            raise argparse.ArgumentTypeError(f"{text!r}: allowed is a list without repeats")
        if ascending and any(b <= a for a, b in zip(values, values[1:], strict=False)):
            raise argparse.ArgumentTypeError(f"{text!r}: allowed is a list in ascending order")
        return values

    return parse


def one_of(allowed: Sequence[str]) -> Callable[[str], str]:
    """One of the names ``allowed`` (for :func:`listing`; argparse's ``choices`` for one value)."""

    def parse(text: str) -> str:
        if text not in allowed:
            raise argparse.ArgumentTypeError(f"{text!r}: allowed is one of {', '.join(allowed)}")
        return text

    return parse


def bench_database(text: str) -> str:
    """A PostgreSQL database name a benchmark may create, reuse and drop.

    Only lower-case letters, digits and ``_`` (so it needs no quoting in a URL
    or in SQL), at most 63 characters, starting with :data:`BENCH_DATABASE_PREFIX`,
    so no other database can be named (a benchmark drops the one it names
    when that holds no benchmark data).
    """
    if not re.fullmatch(rf"{BENCH_DATABASE_PREFIX}[a-z0-9_]{{1,53}}", text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: allowed is a name starting with {BENCH_DATABASE_PREFIX} followed by "
            "1 to 53 lower-case letters, digits or _"
        )
    return text
