"""Window arithmetic of metering: alignment, backfill ranges, the recompute set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies import windows as W


def t(hh: int, mm: int = 0, ss: int = 0, day: int = 10) -> datetime:
    return datetime(2021, 5, day, hh, mm, ss, tzinfo=UTC)


def hourly(*hours: int) -> list[W.Window]:
    return [W.Window(t(h), t(h) + timedelta(hours=1)) for h in hours]


# ------------------------------------------------------------------- alignment


def test_floor_and_ceil_align_to_the_utc_grid_whatever_the_offset_of_the_input():
    cph = timezone(timedelta(hours=2))
    moment = datetime(2021, 5, 10, 12, 34, 56, 789, tzinfo=cph)  # 10:34:56 UTC
    assert W.floor(moment, 60) == t(10)
    assert W.ceil(moment, 60) == t(11)
    assert W.floor(moment, 15) == t(10, 30)
    assert W.floor(moment, 1440) == t(0)
    assert W.ceil(t(10), 60) == t(10)  # a boundary is its own ceiling


@pytest.mark.parametrize("minutes", [7, 45, 90, 0, 1441, 2880])
def test_a_length_off_the_hours_of_a_day_is_refused_with_the_allowed_values(minutes):
    with pytest.raises(W.WindowError, match="divisor of 60 .* dividing a day"):
        W.check_length(minutes)


@pytest.mark.parametrize("minutes", [1, 5, 15, 30, 60, 120, 360, 1440])
def test_lengths_on_the_hours_are_accepted(minutes):
    W.check_length(minutes)


def test_a_naive_timestamp_is_refused_not_guessed():
    with pytest.raises(W.WindowError, match="no time zone"):
        W.floor(datetime(2021, 5, 10, 10), 60)


@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    minutes=st.sampled_from([1, 5, 15, 30, 60, 120, 360, 1440]),
)
def test_floor_is_a_boundary_at_most_one_window_before(moment, minutes):
    start = W.floor(moment, minutes)
    assert start <= moment < start + timedelta(minutes=minutes)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    assert (start - midnight).total_seconds() % (minutes * 60) == 0


def test_grid_is_contiguous_and_half_open():
    windows = W.grid(t(10), t(13), 60)
    assert windows == hourly(10, 11, 12)
    assert W.grid(t(10), t(10, 59), 60) == []
    assert W.last_complete_end(t(13, 0, 1), 60) == t(13)


def test_window_hours_and_overlap_are_exact_decimals():
    assert W.Window(t(10), t(10, 1)).hours == Decimal(1) / Decimal(60)
    # a volume created at 10:20:30.5 and still there: 39 min 29.5 s of the 10:00 window
    created = datetime(2021, 5, 10, 10, 20, 30, 500000, tzinfo=UTC)
    assert W.overlap_hours(created, None, t(10), t(11)) == Decimal("2369.5") / 3600
    assert W.overlap_hours(created, t(10, 30), t(10), t(11)) == Decimal("569.5") / 3600
    assert W.overlap_hours(created, None, t(11), t(12)) == 1
    assert W.overlap_hours(t(12), None, t(10), t(11)) == 0  # created after the window
    assert W.overlap_hours(t(8), t(9), t(10), t(11)) == 0  # gone before it


# ------------------------------------------------------------------ cycle plans


def plan(now, **kw):
    args = dict(
        frontier=None,
        covered=(),
        newest=(),
        anchor=None,
        backfill_max=100,
        recompute=3,
    )
    args.update(kw)
    return W.plan_cycle(now, 60, **args)


def test_first_cycle_starts_at_the_window_of_the_earliest_tenant():
    p = plan(t(13, 5), anchor=t(10, 40))
    assert list(p.new) == hourly(10, 11, 12)
    assert p.backfilled == 2  # 10:00 and 11:00 should have been done before
    assert p.recompute == () and p.remaining == 0


def test_nothing_to_do_without_tenants_or_coverage():
    p = plan(t(13, 5))
    assert p.windows == () and p.remaining == 0


def test_a_steady_cycle_meters_the_window_that_just_ended_and_recomputes_the_last_three():
    covered = hourly(7, 8, 9, 10, 11)
    p = plan(t(12, 0, 30), frontier=t(12), newest=covered[-3:])
    assert p.new == ()  # 12:00 has not ended
    p = plan(t(13, 0, 30), frontier=t(12), newest=covered[-3:])
    assert list(p.new) == hourly(12)
    assert p.backfilled == 0
    assert list(p.recompute) == hourly(9, 10, 11)
    assert list(p.windows) == hourly(9, 10, 11, 12)


def test_after_downtime_every_missed_window_is_backfilled_oldest_first():
    p = plan(t(18, 10), frontier=t(12), newest=hourly(9, 10, 11))
    assert list(p.new) == hourly(12, 13, 14, 15, 16, 17)
    assert p.backfilled == 5 and p.remaining == 0


def test_the_backfill_cap_takes_the_oldest_and_leaves_the_rest_for_the_next_cycle():
    p = plan(t(18, 10), frontier=t(12), newest=hourly(11), backfill_max=4)
    assert list(p.new) == hourly(12, 13, 14, 15)
    assert p.remaining == 2 and p.backfilled == 4
    # the next cycle continues where this one stopped
    p = plan(t(18, 20), frontier=t(16), newest=hourly(15), backfill_max=4)
    assert list(p.new) == hourly(16, 17) and p.remaining == 0


def test_windows_covered_beyond_a_gap_are_not_metered_twice():
    # an explicit run covered 14:00 and 15:00 while 12:00-13:59 stayed missing
    p = plan(t(17, 1), frontier=t(12), covered=[t(14), t(15)], newest=hourly(14, 15))
    assert list(p.new) == hourly(12, 13, 16)


def test_recompute_zero_recomputes_nothing():
    p = plan(t(13, 1), frontier=t(12), newest=hourly(11), recompute=0)
    assert p.recompute == () and list(p.new) == hourly(12)


def test_a_frontier_off_the_grid_continues_at_the_next_boundary():
    # 15-minute windows were metered up to 12:15; hourly windows start at 13:00
    p = plan(t(14, 5), frontier=t(12, 15))
    assert list(p.new) == hourly(13)


# --------------------------------------------------------------- explicit spans


def test_explicit_span_takes_complete_windows_touching_it():
    windows = W.explicit(t(10, 30), t(12, 10), t(20), 60, limit=100)
    assert windows == hourly(10, 11, 12)


def test_explicit_span_never_includes_a_window_still_running():
    assert W.explicit(t(10), None, t(12, 30), 60, limit=100) == hourly(10, 11)
    assert W.explicit(t(10), t(23), t(12, 30), 60, limit=100) == hourly(10, 11)


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        (t(12), t(11), "not after the start"),
        (t(12, 40), None, "no complete window"),
        (t(0, day=1), None, "at most 24"),
    ],
)
def test_explicit_span_errors_say_what_is_allowed(since, until, message):
    with pytest.raises(W.WindowError, match=message):
        W.explicit(since, until, t(12, 50), 60, limit=24)
