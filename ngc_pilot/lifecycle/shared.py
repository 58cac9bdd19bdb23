"""What every lifecycle rule shares: the day it runs for, and the tenants it runs on.

Why this exists: expiry and the data-access switch run "as of" a day that is
either today's UTC date or one an operator gave (audited as given), and the
reconcile, expiry and data-access jobs read the same tenant, pilot and
application rows and open at most one cloud connection per run.  It
deliberately decides nothing and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from ngc_pilot.db import utcnow
from ngc_pilot.models import Application, Pilot, Tenant
from ngc_pilot.provisioner_config import Provisioner
from provisioner.backend import CloudBackend


def as_of(today: date | None) -> tuple[date, bool]:
    """The day the rules run for, and whether it was given instead of read from the clock."""
    return (today, True) if today is not None else (utcnow().date(), False)


def when(day: date, given: bool) -> dict[str, Any]:
    return {"today": day.isoformat(), "today_given": given}


def reason(day: date, given: bool, why: str) -> str:
    return (
        f"{why} (rules run as of {day.isoformat()}, a date given by the operator)" if given else why
    )


def tenants_in(session: Session, states: Sequence[str]) -> list[tuple[Tenant, Pilot, Application]]:
    rows = session.exec(
        select(Tenant, Pilot, Application)
        .join(Pilot, col(Pilot.id) == col(Tenant.pilot_id))
        .join(Application, col(Application.id) == col(Pilot.application_id))
        .where(col(Tenant.state).in_(list(states)))
        .order_by(col(Tenant.pilot_id))
    ).all()
    return [(t, p, a) for t, p, a in rows]


def load(session: Session, pilot_id: str) -> tuple[Tenant, Pilot, Application]:
    tenant = session.get(Tenant, pilot_id)
    pilot = session.get(Pilot, pilot_id)
    return tenant, pilot, session.get(Application, pilot.application_id)


class LazyBackend:
    """One cloud connection per run, made only when a step needs the cloud."""

    def __init__(self, prov: Provisioner):
        self._prov = prov
        self._backend: CloudBackend | None = None

    def get(self) -> CloudBackend:
        if self._backend is None:
            self._backend = self._prov.backend_factory()
        return self._backend
