"""The gates a pilot passes before any cloud call creates its tenant.

Why this exists: a refusal must come before the first cloud call that
changes anything (the first look, which only reads, runs beside the capacity
gate's Placement reads), or a tenant is left half-made (a project, group and user, then Keystone refusing an
application credential that would already be expired).  The gates:

* the pilot was not withdrawn by a later selection;
* its data processing agreement is ``signed``;
* its period has not ended (the tenant's credential expires at the end of the
  pilot's last day, so after it Keystone refuses to create one);
* the quotas of every tenant holding capacity (:mod:`ngc_pilot.tenant_quota`)
  plus the new ones fit Placement's capacity — the caller decides whether an
  operator's explicit over-commit lets it pass.

Problems are worded in the domain (pilot, dates, capacity); each interface
words the way out for its user.  This module deliberately changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlmodel import Session

from ngc_pilot.errors import InputError
from ngc_pilot.models import Application, Pilot, Tenant
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.tenant_quota import holding_tenants, promised, with_new
from policies import capacity as capacity_policy
from policies.problems import Problem
from provisioner.backend import CloudBackend


def period_ended(pilot: Pilot, today: date) -> bool:
    """Whether the pilot's last day is before ``today`` (its credential would be expired)."""
    return pilot.planned_end < today


def check_pilots(session: Session, pilots: Sequence[Pilot], today: date) -> None:
    """Refuse (every problem at once) pilots that must get no tenant."""
    problems = []
    for pilot in pilots:
        app = session.get(Application, pilot.application_id)
        if pilot.state == "withdrawn":
            problems.append(
                Problem(
                    "pilot",
                    "state",
                    pilot.state,
                    f"{pilot.id} was withdrawn by a later selection; it gets no tenant",
                )
            )
        elif app.data_processing_agreement != "signed":
            problems.append(
                Problem(
                    "application",
                    "eligibility.data_processing_agreement",
                    app.data_processing_agreement,
                    f"{pilot.id}: the data processing agreement must be 'signed' before a tenant is created",
                )
            )
        elif period_ended(pilot, today):
            problems.append(
                Problem(
                    "pilot",
                    "planned_end",
                    pilot.planned_end.isoformat(),
                    f"{pilot.id}: the pilot period {pilot.planned_start.isoformat()} to "
                    f"{pilot.planned_end.isoformat()} has ended (today is {today.isoformat()}); "
                    "it gets no tenant, as its credential would already be expired",
                )
            )
    if problems:
        raise InputError(problems)


def check_capacity(
    session: Session, prov: Provisioner, new: Sequence[Tenant], backend: CloudBackend
) -> list[capacity_policy.CapacityVerdict]:
    """One verdict per promised resource: held and new tenants' quotas against capacity."""
    wanted = promised(prov.tenant_policy, with_new(holding_tenants(session), new))
    available = {
        line.resource: line.total for line in backend.capacity() if line.resource in wanted
    }
    return capacity_policy.check(wanted, available)


def over_capacity(verdicts: Sequence[capacity_policy.CapacityVerdict]) -> InputError:
    """The refusal for the verdicts that are over capacity."""
    return InputError(
        [
            Problem(
                "capacity",
                v.resource,
                v.promised,
                v.message() + "; over-commit must be allowed explicitly to proceed",
            )
            for v in verdicts
        ]
    )
