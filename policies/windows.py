"""Usage windows: which spans of time a metering cycle measures (pure arithmetic).

Windows are half-open ``[start, end)`` spans of ``minutes`` length on a UTC
grid that starts at midnight and lines up with the hours (60 gives the hours,
1440 the days, 15 quarter hours; 45 is refused).  A cycle meters every complete window it has not
covered yet — oldest first, at most ``backfill_max`` of them, so catching up
after downtime never leaves a hole behind — and recomputes the newest
``recompute`` windows it already covered, because a cloud can record usage a
little after the fact.

What this module deliberately does not do: read a clock, a database or a
cloud.  The caller passes ``now`` and what is already covered.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

DAY_MINUTES = 24 * 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class WindowError(ValueError):
    """A window length or a time span that cannot be metered; the message says why.

    ``bound`` is the end of the span the message is about (``"start"``, ``"end"``),
    None when it is about neither (the window length, the span's size).
    """

    def __init__(self, message: str, *, bound: str | None = None):
        super().__init__(message)
        self.bound = bound


@dataclass(frozen=True, order=True)
class Window:
    """One metering window, ``[start, end)``, both UTC-aware."""

    start: datetime
    end: datetime

    @property
    def hours(self) -> Decimal:
        return hours(self.end - self.start)

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class CyclePlan:
    """What one metering cycle does.

    ``new`` are windows never metered before (oldest first); ``backfilled`` is
    how many of them an earlier cycle should have done (all but the window
    that just ended); ``remaining`` counts missed windows left for later
    cycles by the cap; ``recompute`` are already-metered windows read again.
    """

    new: tuple[Window, ...]
    recompute: tuple[Window, ...]
    backfilled: int
    remaining: int

    @property
    def windows(self) -> tuple[Window, ...]:
        return tuple(sorted((*self.recompute, *self.new)))


def check_length(minutes: int) -> None:
    """Refuse window lengths whose windows would not line up with the hours of a UTC day."""
    tiles_hour = minutes >= 1 and 60 % minutes == 0
    tiles_day = minutes >= 60 and minutes % 60 == 0 and DAY_MINUTES % minutes == 0
    if not (tiles_hour or tiles_day):
        raise WindowError(
            f"windows of {minutes} minutes do not line up with the hours of a UTC day; use a "
            "divisor of 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60) or whole hours dividing "
            "a day (120, 180, 240, 360, 480, 720, 1440)"
        )


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive timestamp is refused rather than guessed."""
    if moment.tzinfo is None:
        raise WindowError(f"{moment.isoformat()} has no time zone; give UTC times")
    return moment.astimezone(UTC)


def floor(moment: datetime, minutes: int) -> datetime:
    """The start of the window containing ``moment``."""
    step = minutes * 60
    delta = utc(moment) - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    return _EPOCH + timedelta(seconds=seconds - seconds % step)


def ceil(moment: datetime, minutes: int) -> datetime:
    """The first window boundary at or after ``moment``."""
    start = floor(moment, minutes)
    return start if start == utc(moment) else start + timedelta(minutes=minutes)


def grid(start: datetime, end: datetime, minutes: int) -> list[Window]:
    """The windows from boundary ``start`` up to boundary ``end`` (empty if ``end <= start``)."""
    out = []
    step = timedelta(minutes=minutes)
    cursor = start
    while cursor + step <= end:
        out.append(Window(cursor, cursor + step))
        cursor += step
    return out


def last_complete_end(now: datetime, minutes: int) -> datetime:
    """The end of the newest window that has completely passed at ``now``."""
    return floor(now, minutes)


def plan_cycle(
    now: datetime,
    minutes: int,
    *,
    frontier: datetime | None,
    covered: Collection[datetime],
    newest: Sequence[Window],
    anchor: datetime | None,
    backfill_max: int,
    recompute: int,
) -> CyclePlan:
    """The windows one automatic cycle meters.

    ``frontier`` is where continuous coverage ends (the end of the first
    covered window that no covered window follows), ``None`` before the
    first cycle; then ``anchor`` (the earliest tenant's creation) is where
    metering begins.  ``covered`` are the starts of covered windows at or
    after the frontier (an explicit span's run may have covered some
    already), ``newest`` the newest covered windows, oldest first.
    """
    check_length(minutes)
    if backfill_max < 1 or recompute < 0:
        raise WindowError("backfill_max must be at least 1 and recompute at least 0")
    end = last_complete_end(now, minutes)
    begin = ceil(frontier, minutes) if frontier is not None else None
    if begin is None and anchor is not None:
        begin = floor(anchor, minutes)
    missing: list[Window] = []
    if begin is not None:
        starts = {utc(s) for s in covered}
        missing = [w for w in grid(begin, end, minutes) if w.start not in starts]
    new = tuple(missing[:backfill_max])
    backfilled = sum(1 for w in new if w.end != end)
    again = tuple(newest[-recompute:]) if recompute else ()
    return CyclePlan(
        new=new, recompute=again, backfilled=backfilled, remaining=len(missing) - len(new)
    )


def explicit(
    since: datetime, until: datetime | None, now: datetime, minutes: int, *, limit: int
) -> list[Window]:
    """The complete windows touching ``[since, until)``; ``until`` defaults to now.

    A window that has not ended yet is never metered: its usage is still growing.
    """
    check_length(minutes)
    since = utc(since)
    end = last_complete_end(now, minutes)
    stop = end if until is None else min(ceil(until, minutes), end)
    if until is not None and utc(until) <= since:
        raise WindowError(
            f"the end {until.isoformat()} is not after the start {since.isoformat()}",
            bound="end",
        )
    if floor(since, minutes) >= end:
        raise WindowError(
            f"the start {since.isoformat()}: no complete window starts before {end.isoformat()}",
            bound="start",
        )
    windows = grid(floor(since, minutes), stop, minutes)
    if len(windows) > limit:
        raise WindowError(
            f"{len(windows)} windows from {since.isoformat()}: at most {limit} in one run "
            "(metering.backfill_max_windows); meter the span in parts"
        )
    return windows


def hours(span: timedelta) -> Decimal:
    """``span`` in hours, exactly (microseconds included, no float on the way)."""
    micro = (span.days * 86400 + span.seconds) * 1_000_000 + span.microseconds
    return Decimal(micro) / Decimal(3_600_000_000)


def overlap_hours(
    start: datetime, end: datetime | None, window_start: datetime, window_end: datetime
) -> Decimal:
    """Hours of ``[start, end)`` inside ``[window_start, window_end)``; ``end=None``: still there."""
    lower = max(utc(start), window_start)
    upper = window_end if end is None else min(utc(end), window_end)
    return hours(upper - lower) if upper > lower else Decimal(0)
