"""Operator mistakes on the command line are one line and exit code 2, never a traceback.

Bad ``--db`` URLs, binary files where text is expected, out-of-range numbers,
a missing output folder, an unknown revision, and values PostgreSQL would
refuse but SQLite would store: both backends accept and refuse the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import exc
from support.records import record

from ngc_pilot.cli.main import run
from ngc_pilot.db import describe_database_error

pytestmark = pytest.mark.migrated

BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00"


def ngc(capsys, *args: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = run(list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip().splitlines()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("foo://x", "unknown database kind 'foo'"),
        ("mysql://u:secret@h/db", "driver for 'mysql' is not installed"),
        ("sqlite:///", "in-memory SQLite database"),
        ("sqlite://", "in-memory SQLite database"),
        ("sqlite:///:memory:", "in-memory SQLite database"),
        ("no url at all", "not a database URL"),
        ("postgresql+psycopg://u:secret@127.0.0.1:1/x", "cannot use the database"),
    ],
)
def test_a_bad_database_url_is_one_line_without_its_password(capsys, url, expected):
    code, lines = ngc(capsys, "--db", url, "intake", "list")
    assert code == 2
    assert expected in lines[-1] and "secret" not in "\n".join(lines)
    assert len(lines) <= 2


def test_a_folder_as_the_sqlite_file_is_refused(capsys, tmp_path):
    code, lines = ngc(capsys, "--db", f"sqlite:///{tmp_path}", "intake", "list")
    assert code == 2 and f"{tmp_path} is not a file" in lines[-1]


def test_a_sqlite_file_in_a_folder_that_cannot_be_created_is_refused(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    code, lines = ngc(capsys, "--db", f"sqlite:///{tmp_path / 'file' / 'x.db'}", "intake", "list")
    assert code == 2 and "cannot create" in lines[-1]


def test_a_missing_postgresql_database_is_one_line(capsys, pg_admin_url):
    url = pg_admin_url.rsplit("/", 1)[0] + "/ngc_no_such_database_x"
    code, lines = ngc(capsys, "--db", url, "intake", "list")
    assert code == 2 and "does not exist" in lines[-1] and len(lines) == 1


@pytest.mark.parametrize(
    "command",
    [
        ["policy", "check", "{f}"],
        ["prices", "{f}"],
        ["invoice", "--month", "2021-05", "--prices", "{f}"],
    ],
)
def test_a_binary_file_is_refused_as_not_text(cli, tmp_path, command):
    binary = tmp_path / "file.yaml"
    binary.write_bytes(BINARY)
    result = cli(*(part.format(f=binary) for part in command))
    assert result.code == 2 and "Traceback" not in result.err
    assert "not UTF-8 text" in result.err


def test_a_binary_settings_file_is_refused_as_not_text(capsys, tmp_path):
    config = tmp_path / "settings.toml"
    config.write_bytes(BINARY)
    code, lines = ngc(capsys, "--config", str(config), "intake", "list")
    assert code == 2 and "not UTF-8 text" in lines[-1]


@pytest.mark.parametrize("value", [str(2**31), str(2**63), "0"])
def test_select_max_outside_1_to_1000_is_refused(cli, value):
    result = cli("select", "--max", value)
    assert result.code == 2 and "--max" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "2021-13"])
def test_an_impossible_invoice_month_is_refused(cli, month):
    result = cli("invoice", "--month", month)
    assert result.code == 2 and f"--month = '{month}'" in result.err


def test_output_into_a_missing_folder_is_one_line(cli, tmp_path):
    target = tmp_path / "missing" / "x.csv"
    result = cli("invoice", "--month", "2021-05", "--format", "csv", "-o", str(target))
    assert result.code == 2
    assert result.err.strip() == f"error: {target}: No such file or directory"


def test_downgrading_to_an_unknown_revision_names_the_known_ones(cli):
    assert cli("db", "upgrade").code == 0
    result = cli("db", "downgrade", "zzz")
    assert result.code == 2 and "'zzz'" in result.err and "known: base, head, 0001" in result.err


def test_an_actor_over_200_characters_is_refused_on_every_backend(database, capsys):
    code, lines = ngc(capsys, "--db", database.url, "--actor", "a" * 201, "intake", "list")
    assert code == 2 and "at most 200 characters" in lines[-1]


def test_control_characters_on_the_command_line_are_refused(cli):
    result = cli("select", "--commit", "--by", "Ops\x1b]0;owned\x07", "--reason", "r")
    assert result.code == 2 and "U+001B" in result.err


def test_a_file_path_too_long_to_store_is_refused_on_every_backend(cli, tmp_path):
    folder = tmp_path / ("a" * 200) / ("b" * 200)
    folder.mkdir(parents=True)
    path = folder / ("c" * 100 + ".yaml")
    path.write_text(yaml.safe_dump({"applications": [record(id="LONG-1")]}))
    result = cli("intake", "import", str(path))
    assert result.code == 2, result.err
    assert "application.source" in result.err and "at most 500 characters" in result.err
    assert cli("intake", "list", "--json").json() == []


def test_a_database_error_message_never_carries_the_statements_parameters():
    error = exc.DataError(
        "INSERT INTO application (pi_email) VALUES (%(pi_email)s)",
        {"pi_email": "ada@example.org"},
        Exception("value too long for type character varying(254)"),
    )
    message, code = describe_database_error(error)
    assert code == 2 and "ada@example.org" not in message and "INSERT" not in message
    assert message.startswith("the database refused a value: value too long")


def test_a_sqlite_path_under_a_missing_folder_is_created(capsys, tmp_path: Path):
    code, _ = ngc(capsys, "--db", f"sqlite:///{tmp_path / 'new' / 'x.db'}", "intake", "list")
    assert code == 0 and (tmp_path / "new" / "x.db").is_file()


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("k_max", 2**31, "must be between -2147483648 and 2147483647"),
        ("decided_by", "x" * 201, "at most 200 characters are allowed"),
        ("reason", "a\x00b", "contains a NUL character"),
    ],
)
def test_values_postgresql_would_refuse_are_refused_on_every_backend(
    database, field, value, reason
):
    from ngc_pilot import migrate
    from ngc_pilot.db import make_engine, session_scope
    from ngc_pilot.errors import InputError
    from ngc_pilot.models import SelectionDecision

    engine = make_engine(database.url)
    migrate.upgrade(engine)
    fields = dict(
        decided_by="x", reason="r", policy_digest="d", k_min=1, k_max=1, objective=1.0, optimal=True
    )
    fields[field] = value
    with pytest.raises(InputError) as caught, session_scope(engine) as session:
        session.add(SelectionDecision(**fields))
    engine.dispose()
    [problem] = caught.value.problems
    assert problem.field == f"selection_decision.{field}" and problem.message == reason


def test_a_long_error_message_is_shortened_to_fit_on_every_backend(database):
    from datetime import UTC, datetime

    from ngc_pilot import migrate
    from ngc_pilot.db import make_engine, session_scope
    from ngc_pilot.models import JobRun

    engine = make_engine(database.url)
    migrate.upgrade(engine)
    with session_scope(engine) as session:
        row = JobRun(
            job_id="meter", started_at=datetime.now(UTC), status="failed", worker="w",
            error="Keystone said: " + "x" * 5000,
        )  # fmt: skip
        session.add(row)
        session.flush()
        row_id = row.id
    with session_scope(engine) as session:
        stored = session.get(JobRun, row_id).error
    engine.dispose()
    assert len(stored) == 2000 and stored.startswith("Keystone said: x") and stored.endswith("…")
