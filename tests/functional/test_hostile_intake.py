"""Hostile nomination files through ``ngc-pilot intake``, on SQLite and PostgreSQL.

Every refusal is exit code 2 with one line per problem and leaves the
database as it was; what is accepted is accepted the same on both backends.
"""

from __future__ import annotations

import csv
import json
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.records import record

pytestmark = pytest.mark.migrated

FUNCTION_FIXTURES = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def write_yaml(path: Path, *records: dict) -> Path:
    path.write_text(yaml.safe_dump({"applications": list(records)}, sort_keys=False))
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]], bom: bool = False) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def flat(rec: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in rec.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in flat(value).items()})
        else:
            out[key] = ";".join(value) if isinstance(value, list) else str(value)
    return out


def refused(cli, *files: Path) -> list[str]:
    """Import ``files``, assert the refusal wrote nothing; return the problem lines."""
    before = cli("intake", "list", "--json").out
    result = cli("intake", "import", *map(str, files))
    assert result.code == 2, (result.out, result.err)
    assert "Traceback" not in result.err
    assert cli("intake", "list", "--json").out == before
    return [line.strip() for line in result.err.splitlines()[1:]]


FOLDS = [str.lower, str.upper, str.swapcase, lambda s: f" {s} ", lambda s: f"{s}\t"]


@pytest.mark.parametrize("fold", FOLDS)
def test_ids_that_fold_to_one_are_refused_in_one_file_naming_both_places(cli, tmp_path, fold):
    path = write_yaml(tmp_path / "n.yaml", record(id="Acc-Rh-01"), record(id=fold("Acc-Rh-01")))
    lines = refused(cli, path)
    assert len(lines) == 1 and "duplicate id" in lines[0]
    assert lines[0].startswith(f"{path}:") and f"first given at {path}:2" in lines[0]


@pytest.mark.parametrize("fold", [str.lower, str.swapcase, str.title])
def test_an_id_folding_to_a_stored_id_is_refused_naming_the_stored_one(cli, tmp_path, fold):
    first = write_yaml(tmp_path / "first.yaml", record(id="ACC-RH-01"))
    assert cli("intake", "import", str(first)).code == 0
    second = write_yaml(tmp_path / "second.yaml", record(id=fold("ACC-RH-01")))
    lines = refused(cli, second)
    assert len(lines) == 1
    assert lines[0].startswith(f"{second}:2") and f"'ACC-RH-01' (from {first}:2)" in lines[0]


def test_a_fullwidth_id_is_refused_not_a_new_nomination(cli, tmp_path):
    assert (
        cli("intake", "import", str(write_yaml(tmp_path / "a.yaml", record(id="ACC-1")))).code == 0
    )
    lines = refused(cli, write_yaml(tmp_path / "b.yaml", record(id="ＡＣＣ-１")))
    assert len(lines) == 1 and "id" in lines[0]


CONTROL = [c for c in map(chr, [*range(0x20), 0x7F, *range(0x80, 0xA0)]) if c not in "\n\t"]


@FUNCTION_FIXTURES
@given(
    st.sampled_from(["name", "institution", "nominated_by", "pitch"]),
    st.sampled_from(CONTROL),
    st.text(alphabet=string.printable, max_size=10),
)
def test_control_characters_are_refused_at_import(cli, tmp_path_factory, field, control, text):
    path = tmp_path_factory.mktemp("f") / "n.json"
    path.write_text(json.dumps({"applications": [record(**{field: f"a{control}{text}"})]}))
    lines = refused(cli, path)
    assert len(lines) == 1 and f"{field} = " in lines[0] and "control character" in lines[0]


BOMBS = {
    "alias.yaml": "applications: &a [*a]\n",
    "laughs.yaml": "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\napplications: []\n",
    "deep.yaml": "applications: " + "[" * 1000 + "]" * 1000 + "\n",
    "deep.json": '{"applications": ' + "[" * 1000 + "]" * 1000 + "}",
    "digits.json": '{"applications": [{"id": "X", "resources": {"vcpus": ' + "9" * 5000 + "}}]}",
    "digits.yaml": "applications:\n- id: X\n  ready_date: " + "9" * 5000 + "\n",
    "nan.json": '{"applications": [{"id": "X", "resources": {"storage_tb": NaN}}]}',
    "dupkey.json": '{"applications": [], "applications": []}',
    "dupkey.yaml": "applications: []\napplications: []\n",
}


@FUNCTION_FIXTURES
@given(st.sampled_from(sorted(BOMBS)))
def test_hostile_file_shapes_are_one_line_each_naming_the_limit(cli, tmp_path_factory, name):
    path = tmp_path_factory.mktemp("f") / name
    path.write_text(BOMBS[name])
    lines = refused(cli, path)
    assert len(lines) == 1, lines
    expected = {
        "alias": "aliases",
        "laughs": "aliases",
        "deep": "deeper than 32",
        "digits": "at most 40",
        "nan": "NaN",
        "dupkey": "given twice",
    }[name.split(".")[0]]
    assert expected in lines[0]


def test_a_huge_pitch_is_refused_naming_the_character_limit(cli, tmp_path):
    lines = refused(cli, write_yaml(tmp_path / "n.yaml", record(pitch="x" * 50_000)))
    assert len(lines) == 1 and "at most 3000" in lines[0]


def test_a_data_volume_beyond_the_column_is_refused_on_both_backends(cli, tmp_path):
    lines = refused(cli, write_yaml(tmp_path / "n.yaml", record(data__volume="9" * 25 + " PB")))
    assert len(lines) == 1 and "at most 1000 PB" in lines[0]


def test_a_boolean_cpu_count_is_refused(cli, tmp_path):
    lines = refused(cli, write_yaml(tmp_path / "n.yaml", record(resources__vcpus=True)))
    assert len(lines) == 1 and "resources.vcpus = True" in lines[0]


def test_a_repeated_csv_column_is_refused(cli, tmp_path):
    row = flat(record(id="CSV-1"))
    header = [*row, "name"]
    path = write_csv(tmp_path / "n.csv", header, [[*row.values(), "Other name"]])
    lines = refused(cli, path)
    assert lines == [f"{path}:1: (header) = 'name': this column is given twice"]


def test_a_byte_order_mark_is_accepted_in_csv_json_and_yaml(cli, tmp_path):
    row = flat(record(id="BOM-CSV"))
    write_csv(tmp_path / "n.csv", list(row), [list(row.values())], bom=True)
    (tmp_path / "n.json").write_text(
        "\ufeff" + json.dumps({"applications": [record(id="BOM-JSON")]}), encoding="utf-8"
    )
    (tmp_path / "n.yaml").write_text(
        "\ufeff" + yaml.safe_dump({"applications": [record(id="BOM-YAML")]}), encoding="utf-8"
    )
    result = cli(
        "intake", "import", *(str(tmp_path / f"n.{s}") for s in ("csv", "json", "yaml")), "--json"
    )
    assert result.code == 0, result.err
    assert sorted(result.json()["created"]) == ["BOM-CSV", "BOM-JSON", "BOM-YAML"]


def test_a_file_over_the_size_limit_is_refused_unread_naming_the_limit(cli, tmp_path, monkeypatch):
    from ngc_pilot import nomination_files

    monkeypatch.setattr(nomination_files, "MAX_FILE_BYTES", 1000)
    path = write_yaml(tmp_path / "n.yaml", record(id="BIG-1"), record(id="BIG-2"))
    size = path.stat().st_size
    assert size > 1000
    assert refused(cli, path) == [
        f"{path}: (file) = None: the file has {size} bytes; at most 1000 are allowed"
    ]
