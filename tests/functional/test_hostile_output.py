"""Text from files and the database is printed as text, never as terminal markup.

A nomination named ``Trio [/] analysis`` once made ``intake list``, ``intake
show`` and ``select`` fail for everyone, and ``select --commit`` exit 1 after
committing.  Every command here must succeed and show the text as written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.records import record

pytestmark = pytest.mark.migrated

MARKUP = [
    "Trio [/] analysis",
    "[bold red]URGENT[/]",
    "[link=http://x]y[/link]",
    "a [/b] [i]",
    "Study :warning: of :smile:",
]

# bracketed text that Rich would read as tags: "[", a tag-ish body, "]"
markup_like = (
    st.builds(
        lambda pre, body, post: f"{pre}[{body}]{post}",
        st.text(alphabet="abc /=#", max_size=6),
        st.text(alphabet="abcdefghij/ =#@", min_size=1, max_size=12),
        st.text(alphabet="abc [/]", max_size=6),
    )
    .map(str.strip)
    .filter(bool)
)


def _import(cli, path: Path, **fields: str) -> None:
    path.write_text(
        yaml.safe_dump(
            {"applications": [record(id="MARK-1", **fields), record(id="MARK-2")]},
            sort_keys=False,
        )
    )
    result = cli("intake", "import", str(path))
    assert result.code == 0, result.err


@pytest.mark.parametrize("name", MARKUP)
def test_listing_showing_and_selecting_print_markup_like_names_as_written(cli, tmp_path, name):
    _import(cli, tmp_path / "n.yaml", name=name, institution=name, pitch=f"Pitch {name}")
    for command in (["intake", "list"], ["intake", "show", "MARK-1"], ["select", "--min", "1"]):
        result = cli(*command)
        assert result.code == 0, (command, result.err)
        assert name[:30] in result.out, command
    assert f"Pitch {name}" in cli("intake", "show", "MARK-1").out


def test_select_commit_with_markup_in_the_reason_reports_success_truthfully(cli, tmp_path):
    _import(cli, tmp_path / "n.yaml", name="[bold red]URGENT[/]")
    result = cli("select", "--min", "1", "--commit", "--by", "[red]Ops[/]", "--reason", "[/]")
    assert result.code == 0, result.err
    assert "Committed as decision 1 by [red]Ops[/]: [/]" in result.out
    assert len(cli("select", "decisions", "--json").json()) == 1


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(markup_like)
def test_any_bracketed_name_is_shown_literally(cli, tmp_path_factory, name):
    _import(cli, tmp_path_factory.mktemp("m") / "n.yaml", name=name)
    shown = cli("intake", "show", "MARK-1")
    assert shown.code == 0, shown.err
    assert shown.out.splitlines()[0] == f"MARK-1  {name}"


def test_control_characters_stored_before_import_refused_them_never_reach_the_terminal(
    cli, database, tmp_path
):
    from ngc_pilot.db import make_engine, session_scope
    from ngc_pilot.models import Application

    _import(cli, tmp_path / "n.yaml")
    hostile = "Legacy \x1b]0;owned\x07 \x1b[31mred\x9b"
    engine = make_engine(database.url)
    with session_scope(engine) as session:
        app = session.get(Application, "MARK-1")
        app.document = {**app.document, "name": hostile}
        app.name = hostile
    engine.dispose()
    for command in (["intake", "list"], ["intake", "show", "MARK-1"]):
        result = cli(*command)
        assert result.code == 0, result.err
        assert not any(c in result.out for c in "\x1b\x07\x9b"), command
        assert "Legacy \\x1b]0;owned\\x07" in result.out
