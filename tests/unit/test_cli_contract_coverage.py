"""The contract that keeps the CLI on the facade names every service module.

import-linter's ``forbidden`` contract lists modules one by one; a service
module added later and not listed would let the CLI import it unnoticed.
"""

from __future__ import annotations

import tomllib

import pytest
from support.paths import REPO

pytestmark = pytest.mark.unit

# What the CLI may import besides the facade: the Click-free application
# context, settings, errors, the lazy-import helper and itself.
ALLOWED = {
    "ngc_pilot.__init__",
    "ngc_pilot.__main__",
    "ngc_pilot.application",
    "ngc_pilot.cli",
    "ngc_pilot.errors",
    "ngc_pilot.facade",
    "ngc_pilot.lazy",
    "ngc_pilot.migrations",
    "ngc_pilot.settings",
}


def test_every_service_module_is_forbidden_to_the_cli():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    [contract] = [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c["name"].startswith("ngc_pilot.cli imports the services only through")
    ]
    package = REPO / "ngc_pilot"
    modules = {f"ngc_pilot.{p.stem}" for p in package.glob("*.py")} | {
        f"ngc_pilot.{p.name}" for p in package.iterdir() if (p / "__init__.py").is_file()
    }
    assert sorted(modules - ALLOWED - set(contract["forbidden_modules"])) == []
