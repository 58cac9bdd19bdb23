"""Planned dates of a pilot from its readiness, months of access and the pilot period."""

from __future__ import annotations

import calendar
from datetime import date, timedelta


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def planned_dates(
    ready: date, access_months: int, period_start: date, period_end: date
) -> tuple[date, date]:
    """Start when both the project and the pilot are ready; end after the months asked
    for (the day before the same date ``access_months`` later) or at the pilot's end."""
    start = max(ready, period_start)
    end = min(add_months(start, access_months) - timedelta(days=1), period_end)
    return start, max(start, end)
