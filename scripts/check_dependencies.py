"""Check that every third-party module the shipped packages import is a declared dependency.

Why it exists: ``pip install .`` without the ``dev`` extra once gave a CLI
that died at start (``No module named 'click'``): the project imported a
module that only arrived as a dependency of a dependency, and the project's
own virtualenv (always ``.[dev]``) hid it.  This walks the syntax tree of
every module of the packages the wheel ships (``[tool.setuptools.packages.find]
include`` in ``pyproject.toml``), imports inside functions and under
``if TYPE_CHECKING:`` included, maps each imported top-level module to the
distributions that provide it in the running environment
(``importlib.metadata.packages_distributions``) and requires one of them to be
named in ``[project] dependencies`` — extras do not count, because a user's
``pip install ngc-pilot`` does not install them.

What it deliberately does not do: follow imports hidden in strings
(``importlib.import_module(name)``, the CLI's lazy modules — they name the
project's own modules), or check version ranges; the wheel check
(``scripts/check_wheel.py``) runs the installed CLI for that.

    python scripts/check_dependencies.py [--root DIR]

Exit code 0 when every import is declared, 1 with one line per undeclared
module (file:line, the module, the distribution that provides it here).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Undeclared:
    """A third-party import no declared dependency provides."""

    path: str
    line: int
    module: str
    distributions: tuple[str, ...]  # what provides it in this environment; () if nothing

    def __str__(self) -> str:
        where = (
            f"provided here by {', '.join(self.distributions)}"
            if self.distributions
            else "not installed here"
        )
        return f"{self.path}:{self.line}: imports {self.module!r}, which no declared dependency provides ({where})"


def normalise(name: str) -> str:
    """A distribution name in PEP 503 form (``PyYAML`` and ``pyyaml`` are one)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The distribution a PEP 508 requirement names (``psycopg[binary]>=3.2`` -> ``psycopg``)."""
    match = _NAME.match(requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return normalise(match.group(1))


def imported_modules(source: str, filename: str = "<source>") -> list[tuple[str, int]]:
    """Every absolute import's top-level module, with its line, anywhere in the module."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found.extend((alias.name.split(".")[0], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], node.lineno))
    return found


def undeclared(
    sources: Mapping[str, str],
    declared: Iterable[str],
    first_party: Iterable[str],
    providers: Mapping[str, list[str]],
) -> list[Undeclared]:
    """The third-party imports in ``sources`` (path -> text) that no declared distribution provides.

    ``providers`` maps a top-level module to the distributions providing it
    (``packages_distributions()``); ``declared`` holds distribution names.
    """
    wanted = {normalise(name) for name in declared}
    ours = set(first_party)
    problems = []
    for path in sorted(sources):
        for module, line in imported_modules(sources[path], path):
            if module in ours or module in sys.stdlib_module_names:
                continue
            found = tuple(providers.get(module, ()))
            if not any(normalise(dist) in wanted for dist in found):
                problems.append(Undeclared(path, line, module, found))
    return problems


def shipped_packages(pyproject: Mapping[str, Any]) -> list[str]:
    """The top-level packages the wheel ships, from ``[tool.setuptools.packages.find] include``."""
    find = pyproject.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {})
    return sorted({pattern.split(".")[0].rstrip("*") for pattern in find.get("include", [])})


def check(root: Path) -> list[Undeclared]:
    """Check the project at ``root`` against the distributions installed in this interpreter."""
    with open(root / "pyproject.toml", "rb") as handle:
        pyproject = tomllib.load(handle)
    declared = [requirement_name(r) for r in pyproject["project"].get("dependencies", [])]
    packages = shipped_packages(pyproject)
    sources = {
        str(path.relative_to(root)): path.read_text(encoding="utf-8")
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
    }
    return undeclared(sources, declared, packages, packages_distributions())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="the project (holding pyproject.toml); default: this repository",
    )
    args = parser.parse_args(argv)
    problems = check(args.root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            f"check-dependencies: {len(problems)} undeclared import(s); add the distribution to "
            "[project] dependencies in pyproject.toml",
            file=sys.stderr,
        )
        return 1
    print("check-dependencies: every third-party import is a declared dependency")
    return 0


if __name__ == "__main__":
    sys.exit(main())
