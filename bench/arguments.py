"""Command-line value checks shared by the benchmark scripts.

Why this exists: a benchmark given ``--rounds 0`` or a negative latency used
to run for minutes and then die in a traceback (an empty median, a negative
``sleep``); argparse refuses such a value at once, naming the option, the
value and what is allowed.  It deliberately holds no benchmark logic.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any


def at_least(minimum: float, convert: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    """An argparse type: ``convert(text)``, refused unless finite and at least ``minimum``."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: allowed is {what} of at least {minimum}")
        return value

    return parse


def count(minimum: int = 1) -> Callable[[str], Any]:
    """A whole number of at least ``minimum``."""
    return at_least(minimum, int, "a whole number")


def seconds() -> Callable[[str], Any]:
    """A finite, non-negative number of seconds."""
    return at_least(0, float, "a number of seconds")
