"""A selection policy that passes ``policy check`` is safe for ``select``, on both backends.

Hypothesis edits the shipped policy's numbers (weights, size bounds, credits,
capacity) with hostile values; whenever ``policy check`` accepts the file,
``select --json`` must answer with standard JSON (no Infinity/NaN) and a
commit must store it.  Whatever the check refuses is refused in one line per
problem, exit code 2.
"""

from __future__ import annotations

import json
import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.paths import DEMO_DATA

from policies.selection_policy import default_policy_path

pytestmark = pytest.mark.migrated

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 0.0, 1e-300, 1e308, 1e400, -1, 10**30, 1000, 1000.5]),
)
sizes = st.sampled_from(
    ["0 B", "1 B", "0.5 B", "1 GB", "1 PB", "1000 PB", "1001 PB", "9" * 40 + " B"]
)

edits = st.one_of(
    st.tuples(
        st.just("scoring.weights"),
        st.sampled_from(["maturity", "readiness", "commitment", "data_volume"]),
        numbers,
    ),
    st.tuples(
        st.just("scoring"), st.sampled_from(["data_volume_floor", "data_volume_ceiling"]), sizes
    ),
    st.tuples(
        st.just("heterogeneity.attributes"),
        st.sampled_from(["data_types", "task_types", "readiness"]),
        numbers,
    ),
    st.tuples(st.just("capacity"), st.sampled_from(["vcpus", "storage_tb", "gpus"]), numbers),
)


def _apply(policy: dict, edit: tuple[str, str, object]) -> None:
    section, key, value = edit
    cursor = policy
    for part in section.split("."):
        cursor = cursor[part]
    if section == "heterogeneity.attributes":
        cursor[key]["weight"] = value
    else:
        cursor[key] = value


@pytest.fixture
def loaded(cli):
    assert cli("intake", "import", str(DEMO_DATA / "nominations.yaml")).code == 0
    return cli


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(edits, min_size=1, max_size=3))
def test_a_policy_that_passes_its_check_selects_with_finite_standard_json(
    loaded, tmp_path_factory, edit_list
):
    policy = yaml.safe_load(default_policy_path().read_text())
    for edit in edit_list:
        _apply(policy, edit)
    path = tmp_path_factory.mktemp("policy") / "selection.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    check = loaded("policy", "check", str(path))
    assert check.code in (0, 2) and "Traceback" not in check.err
    if check.code == 2:
        assert check.err.startswith("error: ")
        return
    result = loaded("--policy", str(path), "select", "--json")
    assert result.code in (0, 3), result.err
    data = json.loads(result.out, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    if data["status"] != "infeasible":
        assert math.isfinite(data["objective"])
