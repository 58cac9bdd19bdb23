"""The tenancy policy's platform choice: from task types, with an operator override."""

from __future__ import annotations

import pytest

from policies.platforms import PlatformRules, choose_platforms
from policies.problems import InputProblems
from policies.tenancy import default_tenant_policy_path, load_tenant_policy, parse_tenant_policy


@pytest.fixture(scope="module")
def rules() -> PlatformRules:
    return load_tenant_policy().platforms


def test_notebooks_and_services_get_a_namespace(rules):
    assert choose_platforms(rules, ["interactive_analysis", "web_application"]) == ("kubernetes",)


def test_a_gpu_pilot_gets_openstack(rules):
    assert choose_platforms(rules, ["gpu_machine_learning"]) == ("openstack",)


def test_mixed_task_types_get_both_in_canonical_order(rules):
    assert choose_platforms(rules, ["interactive_analysis", "database_service"]) == (
        "openstack",
        "kubernetes",
    )


def test_no_listed_task_type_gets_the_default(rules):
    assert choose_platforms(rules, []) == ("openstack",)
    assert choose_platforms(rules, ["something_new"]) == ("openstack",)


def test_the_operator_override_wins(rules):
    assert choose_platforms(rules, ["interactive_analysis"], override="openstack") == ("openstack",)


def test_an_unknown_override_names_the_value_and_what_is_allowed(rules):
    with pytest.raises(
        ValueError, match="unknown platform 'docker'; allowed: openstack, kubernetes"
    ):
        choose_platforms(rules, [], override="docker")


def test_the_shipped_file_states_the_same_rules_as_the_defaults(rules):
    assert rules == PlatformRules()


def test_a_file_naming_an_unknown_platform_is_refused_with_its_line():
    text = (
        default_tenant_policy_path()
        .read_text()
        .replace("web_application: [kubernetes]", "web_application: [nomad]")
    )
    with pytest.raises(InputProblems) as problems:
        parse_tenant_policy(text)
    assert "tenant_sizes.yaml:" in str(problems.value)
    assert "platforms.by_task_type.web_application.0 = 'nomad'" in str(problems.value)
