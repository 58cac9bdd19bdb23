"""The support log through the CLI: open, respond, close, list, stats; bad input changes nothing."""

from __future__ import annotations

import pytest
from support.pilots import seed_pilots

pytestmark = pytest.mark.migrated


@pytest.fixture
def pilots(database):
    seed_pilots(database.url, ["P-1", "P-2"]).dispose()


def opened(cli, pilot: str, area: str, at: str, summary: str = "Cannot log in") -> int:
    result = cli(
        "support", "open", pilot, "--area", area, "--summary", summary, "--opened-at", at, "--json"
    )
    assert result.code == 0, result.err
    return result.json()["id"]


def test_an_item_is_opened_answered_and_closed_with_its_times_in_hours(cli, pilots):
    item = opened(cli, "P-1", "operations", "2021-05-10T09:00Z")
    assert cli("support", "respond", str(item), "--at", "2021-05-10T10:30Z").code == 0
    result = cli(
        "support", "close", str(item), "--resolution", "Reset", "--at", "2021-05-11T09:00+02:00"
    )
    assert result.code == 0, result.err
    (row,) = cli("support", "list", "--json").json()
    assert row["state"] == "closed" and row["resolution"] == "Reset"
    assert row["opened_at"] == "2021-05-10T09:00:00+00:00"
    assert row["closed_at"] == "2021-05-11T07:00:00+00:00"  # stored as UTC
    assert (row["response_hours"], row["resolution_hours"]) == ("1.50", "22.00")


def test_every_change_to_an_item_is_audited(cli, pilots):
    item = opened(cli, "P-1", "infrastructure", "2021-05-10T09:00Z")
    cli("support", "respond", str(item), "--at", "2021-05-10T09:05Z")
    cli("support", "close", str(item), "--resolution", "Done", "--at", "2021-05-10T10:00Z")
    events = cli("audit", "--json", "--action", "support.").json()
    assert [(e["action"], e["subject"], e["details"]["item"]) for e in events] == [
        ("support.opened", "P-1", item),
        ("support.responded", "P-1", item),
        ("support.closed", "P-1", item),
    ]


def test_closing_without_a_response_counts_the_close_as_the_first_response(cli, pilots):
    item = opened(cli, "P-2", "payment", "2021-06-01T08:00Z")
    cli("support", "close", str(item), "--resolution", "Explained", "--at", "2021-06-01T12:00Z")
    (row,) = cli("support", "list", "--json").json()
    assert row["response_hours"] == row["resolution_hours"] == "4.00"


def test_list_open_leaves_out_closed_items(cli, pilots):
    first = opened(cli, "P-1", "operations", "2021-05-10T09:00Z")
    second = opened(cli, "P-2", "governance", "2021-05-10T10:00Z")
    cli("support", "close", str(first), "--resolution", "x", "--at", "2021-05-10T11:00Z")
    assert [r["id"] for r in cli("support", "list", "--open", "--json").json()] == [second]


def test_stats_give_count_median_and_mean_per_area_for_a_month(cli, pilots):
    for opened_at, hours in (
        ("2021-05-03T08:00Z", 1),
        ("2021-05-04T08:00Z", 2),
        ("2021-05-05T08:00Z", 6),
    ):
        item = opened(cli, "P-1", "operations", opened_at)
        closed = opened_at.replace("08:00", f"{8 + hours:02d}:00")
        cli("support", "close", str(item), "--resolution", "ok", "--at", closed)
    opened(cli, "P-2", "operations", "2021-05-20T08:00Z")  # still open
    opened(cli, "P-2", "operations", "2021-06-01T08:00Z")  # another month
    stats = cli("support", "stats", "--month", "2021-05", "--json").json()
    assert stats["month"] == "2021-05"
    ops = next(a for a in stats["areas"] if a["area"] == "operations")
    assert (ops["opened"], ops["open"]) == (4, 1)
    assert ops["resolution"] == {"count": 3, "median_hours": "2.00", "mean_hours": "3.00"}
    assert ops["response"] == ops["resolution"]
    infra = next(a for a in stats["areas"] if a["area"] == "infrastructure")
    assert infra["opened"] == 0 and infra["resolution"]["median_hours"] is None
    assert cli("support", "stats", "--json").json()["areas"][1]["opened"] == 5
    assert "operations" in cli("support", "stats").out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("open", "NOPE", "--area", "operations", "--summary", "x"),
            "pilot = 'NOPE': no such pilot",
        ),
        (
            ("open", "P-1", "--area", "network", "--summary", "x"),
            "area = 'network': not an evaluation area; allowed: infrastructure, operations",
        ),
        (
            ("open", "P-1", "--area", "operations", "--summary", "  "),
            "summary = '': must not be empty",
        ),
        (
            (
                "open",
                "P-1",
                "--area",
                "operations",
                "--summary",
                "x",
                "--opened-at",
                "2021-05-10T09:00",
            ),
            "opened_at = '2021-05-10T09:00': give the time zone",
        ),
        (
            ("open", "P-1", "--area", "operations", "--summary", "x", "--opened-at", "tuesday"),
            "opened_at = 'tuesday': not a time",
        ),
        (
            (
                "open",
                "P-1",
                "--area",
                "operations",
                "--summary",
                "x",
                "--opened-at",
                "2999-01-01T00:00Z",
            ),
            "is in the future",
        ),
        (
            ("respond", "1", "--at", "2021-05-10T08:59Z"),
            "responded_at = '2021-05-10T08:59:00+00:00': is before the item was opened",
        ),
        (
            ("close", "1", "--resolution", "x", "--at", "2021-05-10T08:00Z"),
            "closed_at = '2021-05-10T08:00:00+00:00': is before the item was opened",
        ),
        (("close", "99", "--resolution", "x"), "id = 99: no such support item"),
        (("stats", "--month", "2021-13"), "month = '2021-13': not a month; write YYYY-MM"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(cli, pilots, args, message):
    opened(cli, "P-1", "operations", "2021-05-10T09:00Z")
    before = cli("support", "list", "--json").out, cli("audit", "--json").out
    result = cli("support", *args)
    assert result.code == 2
    assert message in result.err and result.err.count("\n") == 2, result.err
    assert (cli("support", "list", "--json").out, cli("audit", "--json").out) == before


def test_closing_a_closed_item_is_refused_and_keeps_the_first_close(cli, pilots):
    item = opened(cli, "P-1", "operations", "2021-05-10T09:00Z")
    cli("support", "close", str(item), "--resolution", "first", "--at", "2021-05-10T10:00Z")
    result = cli("support", "close", str(item), "--resolution", "second")
    assert result.code == 2 and "is already closed (at 2021-05-10T10:00:00+00:00)" in result.err
    (row,) = cli("support", "list", "--json").json()
    assert row["resolution"] == "first"
