"""Generated hostile files and command lines: every outcome is success or one-line refusal.

Hypothesis writes arbitrary text and arbitrarily corrupted nomination
records in every accepted format and feeds arbitrary ids to the commands
that take one.  ``run`` must return 0 or 2 (1 where the command's own
answer is "not found"/"not provisioned"), print no traceback, and a refused
import must leave the database as it was.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.records import record

pytestmark = pytest.mark.migrated

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

FIELDS = [
    "id", "name", "pitch", "institution", "institution_type", "nominated_by",
    "principal_investigator__name", "principal_investigator__email", "data__volume",
    "data__types", "data__subjects", "resources__vcpus", "resources__storage_tb",
    "task_types", "access_months", "maturity", "ready_date", "commits_to_evaluation",
    "eligibility__data_processing_agreement",
]  # fmt: skip

scalars = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _csv(records: list[dict]) -> str:
    def flat(rec: dict, prefix: str = "") -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in rec.items():
            if isinstance(value, dict):
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[f"{prefix}{key}"] = (
                    ";".join(map(str, value)) if isinstance(value, list) else str(value)
                )
        return out

    rows = [flat(r) for r in records]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=sorted({k for r in rows for k in r}))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _write(path, records: list[dict]) -> None:
    document = {"applications": records}
    if path.suffix == ".json":
        path.write_text(json.dumps(document, default=str))
    elif path.suffix == ".csv":
        path.write_text(_csv(records))
    else:
        path.write_text(yaml.safe_dump(document, allow_unicode=True))


def _import_is_success_or_clean_refusal(cli, path) -> None:
    before = cli("intake", "list", "--json").out
    result = cli("intake", "import", str(path))
    assert result.code in (0, 2), result.err
    assert "Traceback" not in result.err
    if result.code == 2:
        assert result.err.startswith("error: ")
        assert cli("intake", "list", "--json").out == before


@FUZZ
@given(
    st.sampled_from([".yaml", ".json", ".csv"]),
    st.lists(st.tuples(st.sampled_from(FIELDS), values), min_size=1, max_size=4),
)
def test_corrupted_records_are_stored_or_refused_in_one_line_each(
    cli, tmp_path_factory, suffix, corruptions
):
    rec = record(id="FUZZ-1")
    for field, value in corruptions:
        cursor = rec
        *parents, last = field.split("__")
        for part in parents:
            cursor = cursor[part]
        cursor[last] = value
    path = tmp_path_factory.mktemp("fuzz") / f"n{suffix}"
    _write(path, [rec])
    _import_is_success_or_clean_refusal(cli, path)


@FUZZ
@given(st.sampled_from([".yaml", ".json", ".csv"]), st.text(max_size=300))
def test_arbitrary_text_in_a_nomination_file_never_crashes_the_import(
    cli, tmp_path_factory, suffix, text
):
    path = tmp_path_factory.mktemp("fuzz") / f"n{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _import_is_success_or_clean_refusal(cli, path)


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes_in_a_nomination_file_never_crash_the_import(cli, tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "n.yaml"
    path.write_bytes(data)
    _import_is_success_or_clean_refusal(cli, path)


ids = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=80
)


@FUZZ
@given(
    st.sampled_from([["intake", "show"], ["select", "why-not"], ["env"], ["select", "--lock-out"]]),
    ids,
)
def test_arbitrary_ids_on_the_command_line_are_answered_or_refused(cli, command, pilot_id):
    result = cli(*command, pilot_id)
    assert result.code in (0, 1, 2), result.err
    assert "Traceback" not in result.err
