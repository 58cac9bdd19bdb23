"""The COPY text that ``ngc_pilot.bulk`` builds for PostgreSQL (spelled here, not by psycopg)."""

from __future__ import annotations

import enum
import json
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from ngc_pilot import bulk
from ngc_pilot.models import AuditEvent, InvoiceLine


class Kind(enum.StrEnum):
    GPU = "gpu_hours"


def test_each_type_is_spelled_as_postgresql_reads_it_and_text_is_escaped() -> None:
    rows = [
        {"invoice_id": 7, "item": "vcpu_hours", "description": "a\tb\nc\\d\re",
         "period_from": date(2021, 5, 1), "quantity": D("1234.500000"), "unit_price": D("0.30")},
        {"invoice_id": 8, "item": Kind.GPU, "description": "plain",
         "period_from": date(2021, 5, 16), "quantity": D("0E-6"), "unit_price": D("25")},
    ]  # fmt: skip
    text = bulk.copy_text(InvoiceLine.__table__, rows, list(rows[0]))
    assert text.split("\n") == [
        "7\tvcpu_hours\ta\\tb\\nc\\\\d\\re\t2021-05-01\t1234.500000\t0.30",
        "8\tgpu_hours\tplain\t2021-05-16\t0.000000\t25",
        "",
    ]


def test_nulls_booleans_times_and_json_columns() -> None:
    at = datetime(2026, 5, 1, 12, 0, 1, 500, tzinfo=UTC)
    shared = {"versions": {"v1": "ab\tc"}}
    rows = [
        {"at": at, "actor": "a", "reason": None, "details": shared, "final": True},
        {"at": at, "actor": "b", "reason": "r", "details": shared, "final": False},
    ]
    text = bulk.copy_text(AuditEvent.__table__, rows, list(rows[0]))
    assert text.split("\n")[:2] == [
        '2026-05-01T12:00:01.000500+00:00\ta\t\\N\t{"versions": {"v1": "ab\\\\tc"}}\tt',
        '2026-05-01T12:00:01.000500+00:00\tb\tr\t{"versions": {"v1": "ab\\\\tc"}}\tf',
    ]


def test_json_with_control_characters_backslashes_and_non_ascii_reads_back_as_dumped() -> None:
    details = {"k": 'a\\b\nc"d\u00e6\x01\x7f'}
    text = bulk.copy_text(AuditEvent.__table__, [{"details": details}], ["details"])
    # COPY's text format turns each doubled backslash back into one: json.dumps' text.
    assert text == '{"k": "a\\\\\\\\b\\\\nc\\\\"d\\\\u00e6\\\\u0001\\\\u007f"}\n'
    assert text[:-1].replace("\\\\", "\\") == json.dumps(details)


def test_times_repeated_and_distinct_are_each_spelled_in_their_row() -> None:
    first, second = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 2, 3, tzinfo=UTC)
    rows = [{"at": t, "period_from": t.date()} for t in (first, second, first, second, first)]
    text = bulk.copy_text(InvoiceLine.__table__, rows, ["at", "period_from"])
    assert text.split("\n")[:-1] == [
        f"{t.isoformat()}\t{t.date().isoformat()}" for t in (first, second, first, second, first)
    ]


def test_a_type_it_cannot_spell_is_refused_not_guessed() -> None:
    with pytest.raises(TypeError, match="cannot write a float"):
        bulk.copy_text(InvoiceLine.__table__, [{"quantity": 1.5}], ["quantity"])


def test_gc_paused_disables_the_collector_inside_and_restores_it_even_after_an_error() -> None:
    import gc

    assert gc.isenabled()
    with pytest.raises(RuntimeError), bulk.gc_paused():
        assert not gc.isenabled()
        with bulk.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block leaves it as the outer one set it
        raise RuntimeError
    assert gc.isenabled()
