"""Modules imported on first use, so that ``ngc-pilot`` starts quickly.

The CLI registers every command at start-up; importing each command's
service modules (the ORM, the solver, the cloud SDK) eagerly cost about a
second before anything happened, which ``ngc-pilot tui`` and ``--help`` paid
for nothing.  A command module names its service modules with
:func:`lazy_module` and gets a stand-in whose attribute reads import the real
module through the ordinary import system.

The stand-in is deliberately not ``importlib.util.LazyLoader``: on Python
3.11 two threads touching the same lazily loaded module at once can see it
half-executed (CPython gh-114763), which the scheduler's worker threads did;
and two threads importing SQLAlchemy for the first time at once can meet its
circular imports half-done.  So first uses are imported one at a time under
one lock, and the real module stays the one in ``sys.modules`` (tests that
patch it patch what the commands use).
"""

from __future__ import annotations

import importlib
import threading
from types import ModuleType
from typing import Any

_first_imports = threading.RLock()


class _OnFirstUse(ModuleType):
    def __getattr__(self, attribute: str) -> Any:  # only for names not set on the stand-in
        target = self.__dict__.get("_target")
        if target is None:
            with _first_imports:
                target = importlib.import_module(self.__name__)
            self.__dict__["_target"] = target
        return getattr(target, attribute)


def lazy_module(name: str) -> Any:
    """A stand-in for module ``name``: reading an attribute imports the module."""
    return _OnFirstUse(name)
