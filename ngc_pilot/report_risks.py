"""The risks the steering group's report lists, from the month's pilots and usage.

Why this exists: the report names three risks, each a simple rule kept in one
place so that it can be read and tested on its own: a live tenant whose pilot
ends within :data:`EXPIRY_DAYS` after the month (or during it); a live tenant
that used under :data:`LOW_USE` of its size's vCPU or RAM quota over the
month; a pilot still waiting for a data processing agreement.  Pure: it takes
the rows :mod:`ngc_pilot.report_data` gathered.

Deliberately not here: reading the database, wording (the report's message
catalogue words each risk from its kind and values).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from policies.rating import Month
from policies.tenancy import TenantPolicy

if TYPE_CHECKING:
    from ngc_pilot.report_data import PilotRow, UsageLine

EXPIRY_DAYS = 30
LOW_USE = Decimal("0.10")
GONE = ("torn_down",)


@dataclass(frozen=True)
class Risk:
    kind: str  # expiring | low_use | dpa
    pilot_id: str
    values: dict[str, str] = field(default_factory=dict)


def risks(
    pilots: Sequence[PilotRow],
    usage: Sequence[UsageLine],
    sizes: dict[str, str],
    tenant_policy: TenantPolicy | None,
    month: Month,
) -> tuple[Risk, ...]:
    """Every risk of ``month``, pilot by pilot (withdrawn pilots have none)."""
    last_day = month.start + timedelta(days=month.days - 1)
    horizon = last_day + timedelta(days=EXPIRY_DAYS)
    used: dict[tuple[str, str], Decimal] = {(u.pilot_id, u.metric): u.quantity for u in usage}
    found: list[Risk] = []
    for p in pilots:
        if p.state == "withdrawn":
            continue
        live = p.tenant_state is not None and p.tenant_state not in GONE
        if live and month.start <= p.planned_end <= horizon:
            found.append(Risk("expiring", p.pilot_id, {"date": p.planned_end.isoformat()}))
        template = (
            tenant_policy.sizes.get(sizes.get(p.pilot_id, ""))
            if tenant_policy is not None and live
            else None
        )
        if template is not None:
            hours = Decimal(month.hours)
            quotas = (
                ("resource_cores", "vcpu_hours", Decimal(template.cores) * hours),
                ("resource_ram", "ram_gb_hours", Decimal(template.ram_mb) / 1024 * hours),
            )
            for resource, metric, quota in quotas:
                if quota <= 0:
                    continue
                share = used.get((p.pilot_id, metric), Decimal(0)) / quota
                if share < LOW_USE:
                    percent = (share * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
                    found.append(
                        Risk("low_use", p.pilot_id, {"percent": str(percent), "resource": resource})
                    )
        if p.dpa != "signed":
            found.append(Risk("dpa", p.pilot_id, {"state": p.dpa}))
    return tuple(found)
