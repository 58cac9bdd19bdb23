"""``ngc-pilot members`` refuses bad input with the field and value, exit 2, nothing written.

Input is checked before the cloud is reached, so no cloud is needed here;
the whole flow runs against devcloud in ``tests/integration``.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.member_models import Member

pytestmark = pytest.mark.migrated


def _nothing_written(url: str) -> None:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            assert session.exec(select(Member)).all() == []
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("add", "NOPE-1", "a@example.org"), "'NOPE-1'"),
        (("add", "NOPE-1", "not an email"), "'not an email'"),
        (("add", "NOPE-1", "a@example.org", "--role", "owner"), "'owner'"),
        (("add", "NOPE-1", "a@example.org", "--language", "de"), "'de'"),
        (("add", "NOPE-1", "a@example.org", "--age-recipient", "age1xyz"), "'age1xyz'"),
        (("remove", "NOPE-1", "a@example.org"), "'NOPE-1'"),
        (("remove", "NOPE-1", "a@@example"), "'a@@example'"),
        (("list", "NOPE-1"), "'NOPE-1'"),
    ],
)
def test_bad_member_input_exits_2_naming_the_value(cli, database, args, shown):
    assert cli("db", "upgrade").code == 0
    result = cli("members", *args)
    assert result.code == 2, result.err
    assert shown in result.err and "nothing was changed" in result.err
    _nothing_written(database.url)


def test_a_malformed_or_missing_ssh_key_file_is_refused(cli, database, tmp_path):
    assert cli("db", "upgrade").code == 0
    bad = tmp_path / "id.pub"
    bad.write_text("ssh-ed25519 bm90IGEga2V5 me@host\n")
    result = cli("members", "add", "NOPE-1", "a@example.org", "--ssh-key", str(bad))
    assert result.code == 2 and "ssh key" in result.err
    missing = cli("members", "add", "NOPE-1", "a@example.org", "--ssh-key", str(tmp_path / "no"))
    assert missing.code == 2 and "--ssh-key" in missing.err
    _nothing_written(database.url)


def test_every_members_command_has_help(cli):
    for sub in ("add", "remove", "list"):
        result = cli("members", sub, "--help")
        assert result.code == 0 and "Usage" in result.out
