"""Pilots and tenants written straight into the database, for the metrics tests.

``/metrics`` reads tables; its tests need tenants in every state without
running the selection or provisioning first.  Used by
``tests/functional/test_metrics.py`` and ``tests/integration/test_prometheus.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import Session

from ngc_pilot.models import Application, Pilot, SelectionDecision, Tenant

T0 = datetime(2021, 5, 3, 8, 0, tzinfo=UTC)
"""Start of the first seeded usage window (long before any tenant a test creates)."""


def add_pilots(session: Session, tenants: dict[str, tuple[str, str, date]]) -> None:
    """A committed pilot with a tenant for each ``pilot: (tenant state, size, planned end)``."""
    decision = SelectionDecision(
        decided_by="tests",
        reason="metrics tests",
        policy_digest="0" * 64,
        k_min=1,
        k_max=len(tenants),
        objective=0.0,
        optimal=True,
        selected=list(tenants),
    )
    session.add(decision)
    session.flush()
    for n, (pilot_id, (state, size, end)) in enumerate(tenants.items()):
        session.add(
            Application(
                id=pilot_id,
                name=f"Project {pilot_id}",
                pi_name="PI",
                pi_email="pi@example.org",
                institution=f"Institution {n}",
                institution_type="university",
                nominated_by="tests",
                data_volume_bytes=10**12,
                maturity=3,
                ready_date=date(2021, 4, 15),
                commits_to_evaluation=True,
                data_processing_agreement="signed",
                document={},
                source="tests",
            )
        )
        session.flush()
        session.add(
            Pilot(
                id=pilot_id,
                application_id=pilot_id,
                decision_id=decision.id,
                state="selected",
                planned_start=date(2021, 4, 15),
                planned_end=end,
            )
        )
        session.flush()
        session.add(
            Tenant(
                pilot_id=pilot_id,
                cloud="test",
                size=size,
                project_name=f"ngc-{pilot_id.lower()}",
                cidr=f"10.240.{n}.0/24",
                state=state,
            )
        )
