"""The dependency check: an imported third-party module must be a declared dependency."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_dependencies.py"


@pytest.fixture(scope="module")
def checker():
    spec = importlib.util.spec_from_file_location("check_dependencies", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


PROVIDERS = {"yaml": ["PyYAML"], "click": ["click"], "psycopg": ["psycopg"]}


def test_an_undeclared_import_is_reported_with_file_line_and_distribution(checker):
    sources = {"pkg/cli.py": "import os\nimport click\n"}
    problems = checker.undeclared(sources, ["PyYAML"], ["pkg"], PROVIDERS)
    assert [(p.path, p.line, p.module, p.distributions) for p in problems] == [
        ("pkg/cli.py", 2, "click", ("click",))
    ]
    assert "pkg/cli.py:2" in str(problems[0]) and "click" in str(problems[0])


def test_an_import_inside_a_function_counts(checker):
    sources = {"pkg/late.py": "def load():\n    from yaml import safe_load\n    return safe_load\n"}
    problems = checker.undeclared(sources, ["click"], ["pkg"], PROVIDERS)
    assert [(p.module, p.line) for p in problems] == [("yaml", 2)]


def test_a_module_nothing_installed_provides_is_reported(checker):
    problems = checker.undeclared({"pkg/a.py": "import notinstalled\n"}, [], ["pkg"], PROVIDERS)
    assert problems[0].distributions == () and "not installed" in str(problems[0])


def test_declared_names_match_in_any_spelling_and_with_extras(checker):
    declared = [checker.requirement_name(r) for r in ["pyyaml>=6,<7", "psycopg[binary]>=3.2"]]
    sources = {"pkg/a.py": "import yaml\nimport psycopg.rows\n"}
    assert checker.undeclared(sources, declared, ["pkg"], PROVIDERS) == []


def test_stdlib_first_party_and_relative_imports_are_not_dependencies(checker):
    source = "from __future__ import annotations\nimport json\nfrom pkg import x\nfrom . import y\n"
    assert checker.undeclared({"pkg/a.py": source}, [], ["pkg"], PROVIDERS) == []


def test_shipped_packages_come_from_the_setuptools_include_patterns(checker):
    pyproject = {"tool": {"setuptools": {"packages": {"find": {"include": ["a*", "b.c*"]}}}}}
    assert checker.shipped_packages(pyproject) == ["a", "b"]
