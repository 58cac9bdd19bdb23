"""The ngc_pilot role documents every variable it has, in both places operators
look (``meta/argument_specs.yml``, checked by Ansible, and the role's README),
and every one carries the role's prefix."""

from __future__ import annotations

import re

import pytest
import yaml
from support.paths import REPO

ROLE = REPO / "ansible" / "roles" / "ngc_pilot"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
SPECS = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]
README = (ROLE / "README.md").read_text()
SPECIFIED = {name for entry in SPECS.values() for name in entry["options"]}
USED = set(
    re.findall(
        r"\bngc_pilot_[a-z_]+\b",
        "\n".join(p.read_text() for p in (ROLE / "tasks").glob("*.yml"))
        + "\n".join(p.read_text() for p in (ROLE / "templates").glob("*.j2")),
    )
)
REGISTERED = set(
    re.findall(
        r"register: (ngc_pilot_[a-z_]+)",
        "\n".join(p.read_text() for p in (ROLE / "tasks").glob("*.yml")),
    )
)


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_every_default_is_in_the_argument_specs(name):
    assert name in SPECIFIED


@pytest.mark.parametrize("name", sorted(SPECIFIED))
def test_every_variable_is_in_the_role_readme(name):
    assert f"`{name}`" in README


def test_every_variable_the_tasks_use_is_specified_or_registered():
    assert USED - SPECIFIED - REGISTERED - {"ngc_pilot_policy_"} == set()


def test_every_default_carries_the_role_prefix():
    assert [name for name in DEFAULTS if not name.startswith("ngc_pilot_")] == []
