"""Intake through the CLI: import, refuse, re-import, list, show, schema."""

import csv
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from support.paths import DEMO_DATA
from support.records import record

pytestmark = pytest.mark.migrated

DEMO = DEMO_DATA / "nominations.yaml"
BROKEN = DEMO_DATA / "broken.yaml"


def write_yaml(path: Path, *records) -> Path:
    path.write_text(yaml.safe_dump({"applications": list(records)}, sort_keys=False))
    return path


def test_import_stores_every_nomination_and_audits_it(cli):
    result = cli("intake", "import", str(DEMO), "--json")
    assert result.code == 0, result.err
    created = result.json()["created"]
    expected = len(yaml.safe_load(DEMO.read_text())["applications"])
    assert len(created) == expected >= 24
    listed = cli("intake", "list", "--json").json()
    assert len(listed) == expected
    assert sum(not r["eligible"] for r in listed) >= 3
    events = cli("audit", "--json", "--action", "application.created").json()
    assert {e["subject"] for e in events} == set(created)


def test_reimport_updates_never_duplicates(cli, tmp_path):
    path = write_yaml(tmp_path / "n.yaml", record(id="X-1"), record(id="X-2"))
    assert cli("intake", "import", str(path)).code == 0
    again = cli("intake", "import", str(path), "--json").json()
    assert again == {"created": [], "updated": [], "unchanged": ["X-1", "X-2"]}
    write_yaml(path, record(id="X-1", maturity=5), record(id="X-2"))
    changed = cli("intake", "import", str(path), "--json").json()
    assert changed["updated"] == ["X-1"]
    shown = cli("intake", "show", "X-1", "--json").json()
    assert shown["revision"] == 2 and shown["maturity"] == 5
    assert len(cli("intake", "list", "--json").json()) == 2
    update = cli("audit", "--json", "--action", "application.updated").json()
    assert update[0]["subject"] == "X-1" and update[0]["details"]["changed"] == ["maturity"]


def test_broken_file_exits_2_names_every_problem_and_writes_nothing(cli):
    assert cli("intake", "import", str(DEMO)).code == 0
    before_apps = cli("intake", "list", "--json").out
    before_audit = cli("audit", "--json").out
    result = cli("intake", "import", str(BROKEN))
    assert result.code == 2
    err = result.err
    for expected in [
        "[BROKEN-02]: pitch",
        "at most 200",
        "[BROKEN-03]: data.volume = '12 XB'",
        "[BROKEN-03]: data.types",
        "'exome'",
        "[BROKEN-04]: maturity = 7",
        "[BROKEN-04]: access_months = 0",
        "[BROKEN-05]: ready_date = '2021-13-01'",
        "[BROKEN-06]: principal_investigator.email = (missing)",
        "[BROKEN-07]: data.subjects = -120",
        "[BROKEN-08]: eligibility.data_processing_agreement = 'maybe'",
        "[BROKEN-08]: budget_dkk",
        "duplicate id",
    ]:
        assert expected in err, expected
    assert "broken.yaml:" in err  # problems carry file and line
    assert "BROKEN-OK-01" not in cli("intake", "list", "--json").out
    assert cli("intake", "list", "--json").out == before_apps
    assert cli("audit", "--json").out == before_audit


def test_one_bad_file_among_good_ones_refuses_all(cli, tmp_path):
    good = write_yaml(tmp_path / "good.yaml", record(id="G-1"))
    bad = write_yaml(tmp_path / "bad.yaml", record(id="B-1", maturity=0))
    result = cli("intake", "import", str(good), str(bad))
    assert result.code == 2
    assert "bad.yaml" in result.err and "maturity = 0" in result.err
    assert cli("intake", "list", "--json").json() == []


def test_duplicate_ids_across_files_are_refused(cli, tmp_path):
    a = write_yaml(tmp_path / "a.yaml", record(id="D-1"))
    b = write_yaml(tmp_path / "b.yaml", record(id="D-1"))
    result = cli("intake", "import", str(a), str(b))
    assert result.code == 2 and "duplicate id" in result.err


def test_csv_and_json_files_import_like_yaml(cli):
    result = cli(
        "intake",
        "import",
        str(DEMO_DATA / "nominations-sample.csv"),
        str(DEMO_DATA / "nominations-sample.json"),
        "--json",
    )
    assert result.code == 0, result.err
    ids = result.json()["created"]
    assert any(i.startswith("CSV-") for i in ids) and any(i.startswith("JSON-") for i in ids)
    shown = cli("intake", "show", next(i for i in ids if i.startswith("CSV-")), "--json").json()
    assert isinstance(shown["data_types"], list) and shown["data_types"]


def test_bad_csv_row_is_named_by_row_and_field(cli, tmp_path):
    with open(DEMO_DATA / "nominations-sample.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[1]["maturity"] = "9"
    rows[1]["data.types"] = "wgs;dna"
    path = tmp_path / "bad.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = cli("intake", "import", str(path))
    assert result.code == 2
    assert f"bad.csv:3 [{rows[1]['id']}]: maturity = '9'" in result.err
    assert "'dna'" in result.err
    assert cli("intake", "list", "--json").json() == []


def test_show_gives_the_score_breakdown(cli):
    cli("intake", "import", str(DEMO))
    app_id = yaml.safe_load(DEMO.read_text())["applications"][0]["id"]
    shown = cli("intake", "show", app_id, "--json").json()
    breakdown = shown["score_breakdown"]
    assert set(breakdown) == {"maturity", "readiness", "commitment", "data_volume"}
    assert round(sum(c["points"] for c in breakdown.values()), 2) == shown["score"]
    text = cli("intake", "show", app_id)
    assert text.code == 0 and "Score" in text.out


def test_unknown_id_is_a_clear_error(cli):
    result = cli("intake", "show", "NOPE-1")
    assert result.code == 2 and "'NOPE-1'" in result.err and "no application" in result.err


def test_schema_is_valid_json_schema_and_accepts_the_demo_file(cli):
    schema = cli("intake", "schema").json()
    jsonschema.Draft202012Validator.check_schema(schema)
    demo = json.loads(json.dumps(yaml.safe_load(DEMO.read_text()), default=str))
    jsonschema.validate(demo, schema)
    demo["applications"][0]["data"]["types"] = ["exome"]
    with pytest.raises(jsonschema.ValidationError, match="exome"):
        jsonschema.validate(demo, schema)


def test_validate_checks_without_writing(cli):
    assert cli("intake", "validate", str(BROKEN)).code == 2
    ok = cli("intake", "validate", str(DEMO))
    assert ok.code == 0 and "valid nomination" in ok.out
    assert cli("intake", "list", "--json").json() == []
