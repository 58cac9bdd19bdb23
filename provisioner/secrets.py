"""A string that does not print itself.

Application-credential secrets pass through a few functions on their way to
the researcher's ``clouds.yaml``; wrapping them means a stray ``print``,
log line, ``repr`` or f-string shows ``***`` instead of the secret.
"""

from __future__ import annotations


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
