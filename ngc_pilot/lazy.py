"""Modules imported on first use, so that ``ngc-pilot`` starts quickly.

The CLI registers every command at start-up; importing each command's
service modules (the ORM, the solver, the cloud SDK) eagerly cost about a
second before anything happened, which ``ngc-pilot tui`` and ``--help`` paid
for nothing.  A command module names its service modules with
:func:`lazy_module`; the module is loaded when an attribute is first read.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name`` as a module object that is executed on first attribute access."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:  # as the import system does: ``import a.b`` makes ``a.b`` an attribute
        setattr(sys.modules[parent], child, module)
    return module
