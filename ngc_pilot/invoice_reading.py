"""Reading invoices back, and the what-if comparison of two price lists.

Why this exists: the CLI, the PDF, the TUI and the steering group's reports
read the latest revision of each tenant's invoice (or all revisions of one),
with the project, title and principal investigator filled in by one query for
all tenants; and operations compare what the same usage would cost under
another price list.  It deliberately writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from ngc_pilot.invoice_docs import (
    InvoiceDoc,
    WhatIf,
    check_pilots,
    doc_from_row,
    line_from_row,
    parse_month,
)
from ngc_pilot.invoice_revisions import latest_revisions
from ngc_pilot.kube_tenant_models import KubeTenant
from ngc_pilot.models import Application, Invoice, InvoiceLine, Pilot, Tenant
from ngc_pilot.usage_aggregation import rate_plan, segments_for
from policies.prices import PriceList
from policies.rating import Rated


def invoices(session: Session, month: str, pilot_ids: Sequence[str] = ()) -> list[InvoiceDoc]:
    """The latest revision of each tenant's invoice for ``month``, with lines."""
    label = str(parse_month(month))
    pilots = check_pilots(session, pilot_ids)
    docs = sorted(latest_revisions(session, [label], pilots).values(), key=lambda d: d.pilot_id)
    return attach_people(session, docs)


def revisions(session: Session, month: str, pilot_id: str) -> list[InvoiceDoc]:
    """Every revision of one tenant's invoice for ``month``, oldest first."""
    label = str(parse_month(month))
    rows = (
        session.execute(
            select(Invoice)
            .where(Invoice.month == label, Invoice.pilot_id == pilot_id)
            .order_by(col(Invoice.revision))
        )
        .scalars()
        .all()
    )
    out = []
    for inv in rows:
        lines = session.execute(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == inv.id)
            .order_by(col(InvoiceLine.position))
        ).scalars()
        out.append(doc_from_row(inv, [line_from_row(x) for x in lines]))
    return out


def attach_people(session: Session, docs: list[InvoiceDoc]) -> list[InvoiceDoc]:
    """Fill in project, title, PI and institution (one query for all tenants)."""
    info = people(session, {d.pilot_id for d in docs})
    return [replace(d, **info.get(d.pilot_id, NOBODY)) for d in docs]


NOBODY: dict[str, str] = {
    "project": "",
    "title": "",
    "pi_name": "",
    "pi_email": "",
    "institution": "",
}


def people(session: Session, pilot_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """Each pilot's project, title, PI and institution: :class:`InvoiceDoc`'s fields."""
    pilots = sorted(set(pilot_ids))
    info: dict[str, dict[str, str]] = {}
    # Many pilots (a month of every tenant): every pilot's row, picked here, is
    # cheaper than a statement with thousands of bound values.
    every = len(pilots) > _FEW_PILOTS
    for chunk in range(0, 1 if every else len(pilots), 5000):
        query = (
            select(
                Pilot.id,
                # the OpenStack project, else (a pilot with only a namespace) the namespace
                func.coalesce(Tenant.project_name, KubeTenant.namespace),
                Application.name,
                Application.pi_name,
                Application.pi_email,
                Application.institution,
            )
            .join(Application, col(Application.id) == col(Pilot.application_id))
            .outerjoin(Tenant, col(Tenant.pilot_id) == col(Pilot.id))
            .outerjoin(KubeTenant, col(KubeTenant.pilot_id) == col(Pilot.id))
        )
        if not every:
            query = query.where(col(Pilot.id).in_(pilots[chunk : chunk + 5000]))
        for pid, project, title, pi, email, institution in session.execute(query):
            info[pid] = {
                "project": project or "",
                "title": title,
                "pi_name": pi,
                "pi_email": email,
                "institution": institution,
            }
    if every:
        wanted = set(pilots)
        info = {p: v for p, v in info.items() if p in wanted}
    return info


_FEW_PILOTS = 200  # above this many, people() reads every pilot rather than a list


def what_if(
    engine: Engine,
    month: str,
    prices_a: PriceList,
    prices_b: PriceList,
    pilot_ids: Sequence[str] = (),
) -> list[WhatIf]:
    """Rate the same usage with ``prices_a`` (current) and ``prices_b``; write nothing."""
    m = parse_month(month)
    with Session(engine) as session:
        pilots = check_pilots(session, pilot_ids)
        a = rate_plan(session, prices_a, [(m, segments_for(prices_a, m))], pilots)
        b = rate_plan(session, prices_b, [(m, segments_for(prices_b, m))], pilots)
    empty_a = Rated(str(m), prices_a.currency, ())
    empty_b = Rated(str(m), prices_b.currency, ())
    return [
        WhatIf(pilot_id, a.get((pilot_id, str(m)), empty_a), b.get((pilot_id, str(m)), empty_b))
        for pilot_id in sorted({p for p, _ in a} | {p for p, _ in b})
    ]
