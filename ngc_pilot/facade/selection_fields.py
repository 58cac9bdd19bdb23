"""The selection's options and the names of its fields, for an interface to fill in and word.

Why this exists: an interface builds :class:`SelectOptions` and words the
selection's problems (``lock-in list``, ``decision maker``) as its own fields
(the CLI's ``--lock-in``, ``--by``), without importing the selection service
itself.  It deliberately holds nothing but these names: solving and
committing are :class:`ngc_pilot.facade.Services`' methods.
"""

from __future__ import annotations

from ngc_pilot.selection import (
    DECIDED_BY,
    DECISION,
    LOCK_BOTH,
    LOCK_IN,
    LOCK_OUT,
    MAXIMUM,
    MINIMUM,
    OPTIONS,
    REASON,
    SelectOptions,
)

__all__ = [
    "DECIDED_BY",
    "DECISION",
    "LOCK_BOTH",
    "LOCK_IN",
    "LOCK_OUT",
    "MAXIMUM",
    "MINIMUM",
    "OPTIONS",
    "REASON",
    "SelectOptions",
]
