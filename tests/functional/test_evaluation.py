"""Evaluation responses through the CLI: import (YAML, CSV), refuse, re-import, list, show."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from support.pilots import seed_pilots

pytestmark = pytest.mark.migrated


@pytest.fixture
def pilots(database):
    seed_pilots(database.url, ["P-1", "P-2", "P-W"], withdrawn=["P-W"]).dispose()


def write(path: Path, *responses: dict, questionnaire: int = 1) -> Path:
    path.write_text(
        yaml.safe_dump(
            {"questionnaire": questionnaire, "responses": list(responses)}, sort_keys=False
        )
    )
    return path


def answer(pilot: str, respondent: str, **answers: object) -> dict:
    return {"pilot": pilot, "respondent": respondent, "answers": answers}


def question(listing: dict, qid: str) -> dict:
    return next(q for a in listing["areas"] for q in a["questions"] if q["id"] == qid)


def test_import_stores_responses_and_list_gives_distribution_and_mean(cli, pilots, tmp_path):
    path = write(
        tmp_path / "r.yaml",
        answer("P-1", "ada", **{"infra.compute": 4, "infra.comments": "More GPUs"}),
        answer("P-1", "bo", **{"infra.compute": 5, "ops.response": 2}),
        answer("P-2", "cy", **{"infra.compute": 4}),
    )
    result = cli("evaluation", "import", str(path), "--json")
    assert result.code == 0, result.err
    assert result.json()["created"] == ["P-1/ada", "P-1/bo", "P-2/cy"]
    listing = cli("evaluation", "list", "--json").json()
    compute = question(listing, "infra.compute")
    assert compute["responses"] == 3
    assert compute["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 2, "5": 1}
    assert compute["mean"] == "4.33"  # 13 / 3, a Decimal rounded half-up to 2 places
    assert question(listing, "infra.comments")["responses"] == 1
    assert question(listing, "gov.clarity") | {"text": None} == {
        "id": "gov.clarity",
        "kind": "scale",
        "text": None,
        "responses": 0,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
        "mean": None,
    }
    assert [a["responses"] for a in listing["areas"]] == [3, 1, 0, 0, 0]


def test_list_for_one_pilot_counts_only_its_responses(cli, pilots, tmp_path):
    path = write(
        tmp_path / "r.yaml",
        answer("P-1", "ada", **{"infra.compute": 2}),
        answer("P-2", "cy", **{"infra.compute": 4}),
    )
    assert cli("evaluation", "import", str(path)).code == 0
    listing = cli("evaluation", "list", "--pilot", "P-2", "--json").json()
    assert listing["responses"] == 1 and question(listing, "infra.compute")["mean"] == "4.00"


def test_every_import_is_audited_per_response(cli, pilots, tmp_path):
    path = write(tmp_path / "r.yaml", answer("P-1", "ada", **{"pay.acceptable": 3}))
    assert cli("evaluation", "import", str(path)).code == 0
    (event,) = cli("audit", "--json", "--action", "evaluation.response_created").json()
    assert event["subject"] == "P-1" and event["actor"] == "tester"
    assert event["details"]["respondent"] == "ada"
    assert event["details"]["questions"] == ["pay.acceptable"]


def test_a_csv_with_one_row_per_respondent_imports_like_yaml(cli, pilots, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        "questionnaire,pilot,respondent,infra.compute,app.clarity,app.comments\n"
        "1,P-1,ada,3,,Too many forms\n"
        "1,P-2,cy,5,4,\n"
    )
    result = cli("evaluation", "import", str(path), "--json")
    assert result.code == 0, result.err
    listing = cli("evaluation", "list", "--json").json()
    assert question(listing, "infra.compute")["mean"] == "4.00"
    assert question(listing, "app.clarity")["responses"] == 1
    shown = cli("evaluation", "show", "P-1", "--json").json()
    assert shown["comments"]["application"] == [
        {"respondent": "ada", "question": "app.comments", "text": "Too many forms"}
    ]


def test_a_csv_saved_by_a_spreadsheet_with_a_byte_order_mark_imports(cli, pilots, tmp_path):
    """'CSV UTF-8' from a spreadsheet starts with a BOM; it reads as the same file without."""
    path = tmp_path / "r.csv"
    path.write_text("\ufeffquestionnaire,pilot,respondent,infra.compute\n1,P-1,ada,3\n")
    result = cli("evaluation", "import", str(path), "--json")
    assert result.code == 0, result.err
    assert question(cli("evaluation", "list", "--json").json(), "infra.compute")["mean"] == "3.00"


def test_reimport_of_a_respondent_updates_never_duplicates(cli, pilots, tmp_path):
    path = write(tmp_path / "r.yaml", answer("P-1", "ada", **{"infra.compute": 2}))
    assert cli("evaluation", "import", str(path)).code == 0
    again = cli("evaluation", "import", str(path), "--json").json()
    assert again == {"created": [], "updated": [], "unchanged": ["P-1/ada"]}
    write(tmp_path / "r.yaml", answer("P-1", "ada", **{"infra.compute": 5, "gov.dialogue": 4}))
    changed = cli("evaluation", "import", str(path), "--json").json()
    assert changed["updated"] == ["P-1/ada"]
    listing = cli("evaluation", "list", "--json").json()
    assert listing["responses"] == 1
    assert question(listing, "infra.compute")["distribution"]["5"] == 1
    assert question(listing, "infra.compute")["distribution"]["2"] == 0
    (respondent,) = cli("evaluation", "show", "P-1", "--json").json()["respondents"]
    assert respondent["revision"] == 2
    (event,) = cli("audit", "--json", "--action", "evaluation.response_updated").json()
    assert event["details"]["questions"] == ["gov.dialogue", "infra.compute"]


def test_a_bad_file_exits_2_names_every_problem_with_its_line_and_writes_nothing(
    cli, pilots, tmp_path
):
    good = write(tmp_path / "good.yaml", answer("P-1", "ada", **{"infra.compute": 3}))
    assert cli("evaluation", "import", str(good)).code == 0
    before = cli("evaluation", "list", "--json").out, cli("audit", "--json").out
    bad = tmp_path / "bad.yaml"
    write(
        bad,
        answer("P-1", "ada", **{"infra.compute": 5}),  # fine on its own
        answer("P-1", "bo", **{"infra.compute": 7}),
        answer("P-2", "cy", **{"infra.speed": 3}),
        answer("P-9", "dy", **{"infra.compute": 3}),
        answer("P-W", "ed", **{"infra.compute": 3}),
    )
    result = cli("evaluation", "import", str(bad))
    assert result.code == 2
    for expected in [
        "bad.yaml:10 [P-1/bo]: answers.infra.compute = 7: a scale answer is a whole number 1 to 5",
        "bad.yaml:14 [P-2/cy]: answers.infra.speed = 3: unknown question",
        "bad.yaml:15 [P-9/dy]: pilot = 'P-9': not a selected pilot; selected: P-1, P-2",
        "[P-W/ed]: pilot = 'P-W': not a selected pilot",
        "4 problems; nothing was changed",
    ]:
        assert expected in result.err, (expected, result.err)
    assert (cli("evaluation", "list", "--json").out, cli("audit", "--json").out) == before


def test_a_response_to_another_questionnaire_version_is_refused(cli, pilots, tmp_path):
    path = write(tmp_path / "r.yaml", answer("P-1", "ada", **{"infra.compute": 3}), questionnaire=2)
    result = cli("evaluation", "import", str(path))
    assert result.code == 2
    assert "questionnaire = 2: answers another version of the questionnaire" in result.err
    assert cli("evaluation", "list", "--json").json()["responses"] == 0


def test_one_bad_file_among_good_ones_refuses_all(cli, pilots, tmp_path):
    good = write(tmp_path / "good.yaml", answer("P-1", "ada", **{"infra.compute": 3}))
    bad = tmp_path / "bad.csv"
    bad.write_text("questionnaire,pilot,respondent,infra.compute\n1,P-2,cy,0\n")
    result = cli("evaluation", "import", str(good), str(bad))
    assert result.code == 2 and "bad.csv:2 [P-2/cy]: answers.infra.compute = '0'" in result.err
    assert cli("evaluation", "list", "--json").json()["responses"] == 0


def test_show_gives_a_pilots_answers_and_comments_and_refuses_an_unknown_pilot(
    cli, pilots, tmp_path
):
    path = write(
        tmp_path / "r.yaml",
        answer("P-1", "ada", **{"gov.clarity": 2, "gov.comments": "Who decides?"}),
    )
    assert cli("evaluation", "import", str(path)).code == 0
    shown = cli("evaluation", "show", "P-1", "--json").json()
    assert shown["respondents"][0]["answers"] == {"gov.clarity": 2, "gov.comments": "Who decides?"}
    assert shown["comments"]["governance"][0]["text"] == "Who decides?"
    text = cli("evaluation", "show", "P-1")
    assert "Who decides?" in text.out and "gov.clarity=2" in text.out
    missing = cli("evaluation", "show", "NOPE")
    assert missing.code == 2 and "pilot = 'NOPE': no such pilot" in missing.err


def test_schema_describes_a_valid_response_file(cli, tmp_path):
    schema = cli("evaluation", "schema").json()
    ok = {"questionnaire": 1, "responses": [answer("P-1", "ada", **{"ops.response": 4})]}
    jsonschema.validate(ok, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**ok, "questionnaire": 2}, schema)


def test_the_mean_is_rounded_half_up_to_two_places():
    from decimal import Decimal

    from ngc_pilot.evaluation_results import mean

    assert mean([1, 1, 1, 1, 1, 1, 1, 2]) == Decimal("1.13")  # 9 / 8 = 1.125
    assert mean([]) is None


def test_list_prints_a_table_per_area_and_question(cli, pilots, tmp_path):
    path = write(tmp_path / "r.yaml", answer("P-1", "ada", **{"pay.acceptable": 2}))
    assert cli("evaluation", "import", str(path)).code == 0
    out = cli("evaluation", "list").out
    assert "pay.acceptable" in out and "2.00" in out and "1 response(s)" in out


def test_a_yaml_file_must_name_its_questionnaire_version_once_at_the_top(cli, pilots, tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"responses": [answer("P-1", "ada", **{"infra.compute": 3})]}))
    result = cli("evaluation", "import", str(path))
    assert result.code == 2 and "r.yaml:1: questionnaire = None: give the version" in result.err
    path.write_text(
        yaml.safe_dump(
            {"questionnaire": 1, "responses": [{**answer("P-1", "ada"), "questionnaire": 1}]}
        )
    )
    result = cli("evaluation", "import", str(path))
    assert result.code == 2 and "the version is given once, at the top of the file" in result.err


@pytest.mark.parametrize(
    ("given", "line"),
    [
        (
            answer("P-1", "ada", **{"infra.compute": 6}),
            "r.yaml:6 [P-1/ada]: answers.infra.compute = 6: a scale answer is a whole number 1 to 5",
        ),
        (
            answer("P-1", "ada", **{"infra.compute": 0}),
            "answers.infra.compute = 0: a scale answer is a whole number 1 to 5",
        ),
        (
            answer("P-1", "ada", **{"infra.compute": 2.5}),
            "answers.infra.compute = 2.5: a scale answer is a whole number 1 to 5",
        ),
        (answer("P-1", "ada", **{"infra.speed": 3}), "answers.infra.speed = 3: unknown question"),
        (
            answer("P-9", "ada", **{"infra.compute": 3}),
            "pilot = 'P-9': not a selected pilot; selected: P-1, P-2",
        ),
    ],
    ids=["above-scale", "below-scale", "not-whole", "unknown-question", "unknown-pilot"],
)
def test_one_bad_answer_is_one_clear_line_exit_2_and_changes_nothing(
    cli, pilots, tmp_path, given, line
):
    good = write(tmp_path / "good.yaml", answer("P-2", "bo", **{"infra.compute": 4}))
    assert cli("evaluation", "import", str(good)).code == 0
    before = cli("evaluation", "list", "--json").out, cli("audit", "--json").out
    result = cli("evaluation", "import", str(write(tmp_path / "r.yaml", given)))
    assert result.code == 2
    problems = [p for p in result.err.splitlines() if "r.yaml" in p and "nothing" not in p]
    assert len(problems) == 1 and line in problems[0], result.err
    assert (cli("evaluation", "list", "--json").out, cli("audit", "--json").out) == before


def test_list_for_an_unknown_pilot_is_one_clear_line_exit_2(cli, pilots):
    result = cli("evaluation", "list", "--pilot", "P-9", "--json")
    assert result.code == 2 and "P-9" in result.err and not result.out.strip()
