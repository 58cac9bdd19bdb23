"""The support log: each request a pilot makes, when it got its first response, when it was closed.

Why this exists: operations and support is one of the five things the pilot
tests, and the steering group asks how quickly pilots were answered and
helped.  Each item belongs to one pilot and one of the five evaluation areas;
:func:`stats` gives count, median and mean response and resolution times per
area, for a month or for all time.  Every change is audited; bad input (an
unknown pilot or area, a time before the item was opened, closing a closed
item) is one :class:`~ngc_pilot.errors.InputError` and nothing is written.

Conventions: times are UTC-aware (a time without a zone is refused, not
guessed); an item closed without a recorded first response counts the close
as its first response; a month's figures are those of the items opened in it.

Deliberately not here: tickets, assignment, messages — the log records times
for the evaluation, it is not a help desk.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NoReturn

from sqlmodel import Session, col, select

from ngc_pilot import audit
from ngc_pilot.db import utcnow
from ngc_pilot.errors import InputError, NotFoundError
from ngc_pilot.evaluation_models import SupportItem
from ngc_pilot.models import Pilot
from policies.evaluation import AREAS
from policies.problems import Problem
from policies.rating import Month

SOURCE = "support log"
MAX_TEXT = 2000
CENT = Decimal("0.01")


def _refuse(field: str, value: Any, message: str, error: type[InputError] = InputError) -> NoReturn:
    raise error([Problem(SOURCE, field, value, message)])


def parse_time(text: str, field: str) -> datetime:
    """An ISO 8601 time with a zone (``2021-05-10T09:00Z``, ``...+02:00``), as UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        _refuse(field, text, "not a time; write ISO 8601 with a zone, e.g. 2021-05-10T09:00Z")
    if value.tzinfo is None:
        _refuse(field, text, "give the time zone (e.g. 2021-05-10T09:00Z); times are UTC-aware")
    return value.astimezone(UTC)


def _text(field: str, value: str) -> str:
    value = value.strip()
    if not value:
        _refuse(field, value, "must not be empty")
    if len(value) > MAX_TEXT:
        _refuse(field, f"{len(value)} characters", f"at most {MAX_TEXT} characters")
    return value


def _not_future(field: str, at: datetime, now: datetime) -> None:
    if at > now:
        _refuse(field, at.isoformat(), f"is in the future (now is {now.isoformat()})")


def get_item(session: Session, item_id: int) -> SupportItem:
    item = session.get(SupportItem, item_id)
    if item is None:
        _refuse("id", item_id, "no such support item", NotFoundError)
    return item


def open_item(
    session: Session,
    pilot_id: str,
    area: str,
    summary: str,
    *,
    actor: str,
    opened_at: datetime | None = None,
    now: datetime | None = None,
) -> SupportItem:
    now = now or utcnow()
    if session.get(Pilot, pilot_id) is None:
        _refuse("pilot", pilot_id, "no such pilot", NotFoundError)
    if area not in AREAS:
        _refuse("area", area, f"not an evaluation area; allowed: {', '.join(AREAS)}")
    summary = _text("summary", summary)
    opened_at = opened_at or now
    _not_future("opened_at", opened_at, now)
    item = SupportItem(
        pilot_id=pilot_id, area=area, summary=summary, opened_at=opened_at, opened_by=actor
    )
    session.add(item)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="support.opened",
        subject=pilot_id,
        details={"item": item.id, "area": area, "opened_at": opened_at.isoformat()},
    )
    return item


def respond(
    session: Session,
    item_id: int,
    *,
    actor: str,
    at: datetime | None = None,
    now: datetime | None = None,
) -> SupportItem:
    """Record the item's first response."""
    now = now or utcnow()
    item = get_item(session, item_id)
    at = at or now
    if item.closed_at is not None:
        _refuse("id", item_id, f"the item was closed at {item.closed_at.isoformat()}")
    if item.responded_at is not None:
        _refuse("id", item_id, f"the first response was at {item.responded_at.isoformat()}")
    _after_opening("responded_at", at, item)
    _not_future("responded_at", at, now)
    item.responded_at = at
    session.add(item)
    audit.record(
        session,
        actor=actor,
        action="support.responded",
        subject=item.pilot_id,
        details={"item": item.id, "responded_at": at.isoformat()},
    )
    return item


def close(
    session: Session,
    item_id: int,
    resolution: str,
    *,
    actor: str,
    at: datetime | None = None,
    now: datetime | None = None,
) -> SupportItem:
    now = now or utcnow()
    item = get_item(session, item_id)
    resolution = _text("resolution", resolution)
    at = at or now
    if item.closed_at is not None:
        _refuse("id", item_id, f"the item is already closed (at {item.closed_at.isoformat()})")
    _after_opening("closed_at", at, item)
    if item.responded_at is not None and at < item.responded_at:
        _refuse(
            "closed_at",
            at.isoformat(),
            f"is before the first response ({item.responded_at.isoformat()})",
        )
    _not_future("closed_at", at, now)
    item.closed_at = at
    if item.responded_at is None:
        item.responded_at = at  # closing is the first response
    item.resolution = resolution
    session.add(item)
    audit.record(
        session,
        actor=actor,
        action="support.closed",
        subject=item.pilot_id,
        details={"item": item.id, "closed_at": at.isoformat()},
    )
    return item


def _after_opening(field: str, at: datetime, item: SupportItem) -> None:
    if at < item.opened_at:
        _refuse(
            field, at.isoformat(), f"is before the item was opened ({item.opened_at.isoformat()})"
        )


def _hours(span: timedelta) -> Decimal:
    return Decimal(int(span.total_seconds())) / Decimal(3600)


def _round(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def state(item: SupportItem) -> str:
    if item.closed_at is not None:
        return "closed"
    return "responded" if item.responded_at is not None else "open"


def as_dict(item: SupportItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "pilot": item.pilot_id,
        "area": item.area,
        "state": state(item),
        "summary": item.summary,
        "opened_at": item.opened_at.isoformat(),
        "opened_by": item.opened_by,
        "responded_at": item.responded_at.isoformat() if item.responded_at else None,
        "closed_at": item.closed_at.isoformat() if item.closed_at else None,
        "resolution": item.resolution,
        "response_hours": _round(_hours(item.responded_at - item.opened_at))
        if item.responded_at
        else None,
        "resolution_hours": _round(_hours(item.closed_at - item.opened_at))
        if item.closed_at
        else None,
    }


def items(
    session: Session, *, open_only: bool = False, pilot_id: str | None = None
) -> Sequence[SupportItem]:
    query = select(SupportItem).order_by(col(SupportItem.opened_at), col(SupportItem.id))
    if open_only:
        query = query.where(col(SupportItem.closed_at).is_(None))
    if pilot_id is not None:
        query = query.where(SupportItem.pilot_id == pilot_id)
    return session.exec(query).all()


def parse_month(text: str) -> Month:
    try:
        return Month.parse(text)
    except ValueError:
        _refuse("month", text, "not a month; write YYYY-MM, e.g. 2021-05")


def _figures(spans: list[Decimal]) -> dict[str, Any]:
    return {
        "count": len(spans),
        "median_hours": _round(Decimal(statistics.median(spans))) if spans else None,
        "mean_hours": _round(sum(spans, Decimal(0)) / len(spans)) if spans else None,
    }


def stats(session: Session, month: Month | None = None) -> dict[str, Any]:
    """Per area: items opened, still open, and response and resolution times (hours)."""
    query = select(SupportItem)
    if month is not None:
        start = datetime(month.year, month.month, 1, tzinfo=UTC)
        nxt = month.next()
        query = query.where(
            col(SupportItem.opened_at) >= start,
            col(SupportItem.opened_at) < datetime(nxt.year, nxt.month, 1, tzinfo=UTC),
        )
    rows = session.exec(query).all()
    areas = []
    for area in AREAS:
        mine = [r for r in rows if r.area == area]
        areas.append(
            {
                "area": area,
                "opened": len(mine),
                "open": sum(1 for r in mine if r.closed_at is None),
                "response": _figures(
                    [_hours(r.responded_at - r.opened_at) for r in mine if r.responded_at]
                ),
                "resolution": _figures(
                    [_hours(r.closed_at - r.opened_at) for r in mine if r.closed_at]
                ),
            }
        )
    return {"month": str(month) if month else None, "areas": areas}
