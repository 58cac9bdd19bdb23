"""The names of the domain's fields, and the selection's options, for an interface to word.

Why this exists: the services' problems name domain fields (``lock-in
list``, ``decision maker``, ``month``, ``span start``); an interface words
them as its own (the CLI's ``--lock-in``, ``--by``, ``--month``, ``--since``)
and builds :class:`SelectOptions`, without importing the service modules
themselves.  It deliberately holds nothing but names: solving, rating and
metering are :class:`ngc_pilot.facade.Services`' methods.
"""

from __future__ import annotations

from ngc_pilot.invoice_docs import MONTH, TENANT
from ngc_pilot.metering import SINCE, UNTIL
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
    "MONTH",
    "OPTIONS",
    "REASON",
    "SINCE",
    "TENANT",
    "UNTIL",
    "SelectOptions",
]
