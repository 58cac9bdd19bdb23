"""Onboarding milestones derived from the audit log, usage and tenant rows, once each."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import select
from support.pilots import seed_pilots

from ngc_pilot import milestones
from ngc_pilot.db import session_scope
from ngc_pilot.evaluation_models import Milestone
from ngc_pilot.models import AuditEvent, Tenant, UsageRecord

pytestmark = pytest.mark.migrated

NOW = datetime(2021, 6, 1, tzinfo=UTC)


def t(day: int, hour: int = 0) -> datetime:
    return datetime(2021, 5, day, hour, tzinfo=UTC)


def usage(pilot: str, metric: str, start: datetime, quantity: str, source: str = "nova"):
    return UsageRecord(
        pilot_id=pilot,
        metric=metric,
        window_start=start,
        window_end=start.replace(hour=start.hour + 1),
        quantity=Decimal(quantity),
        source=source,
    )


def tenant(pilot: str, state: str, updated: datetime, data_access: datetime | None = None):
    return Tenant(
        pilot_id=pilot,
        cloud="test",
        size="small",
        project_name=f"ngc-{pilot}",
        cidr="10.0.0.0/24",
        state=state,
        updated_at=updated,
        data_access_granted_at=data_access,
    )


@pytest.fixture
def engine(database):
    engine = seed_pilots(database.url, ["P-1", "P-2", "P-3"])
    with session_scope(engine) as session:
        session.add(tenant("P-1", "suspended", t(20), data_access=t(25, 12)))
        session.add(tenant("P-2", "active", t(7)))
        session.add(tenant("P-3", "provisioning", t(3)))
        session.flush()
        for at in (t(2, 9), t(4, 9)):
            session.add(AuditEvent(at=at, actor="t", action="tenant.active", subject="P-1"))
        session.add(
            AuditEvent(at=t(26), actor="t", action="tenant.data_access_granted", subject="P-1")
        )
        session.add_all(
            [
                usage("P-1", "vcpu_hours", t(3, 9), "0"),  # nothing ran: no evidence
                usage("P-1", "ram_gb_hours", t(3, 10), "4"),
                usage("P-1", "vcpu_hours", t(3, 11), "2"),
                usage("P-3", "vcpu_hours", t(5, 8), "1", source="kubernetes"),
            ]
        )
    yield engine
    engine.dispose()


def recorded(engine) -> dict[tuple[str, str], tuple[datetime, str]]:
    with session_scope(engine) as session:
        rows = session.exec(select(Milestone)).all()
        return {(m.pilot_id, m.kind): (m.reached_at, m.evidence) for m in rows}


def test_each_milestone_is_recorded_with_its_earliest_evidence(engine):
    with session_scope(engine) as session:
        milestones.record_milestones(session, NOW, actor="tester")
    got = recorded(engine)
    assert got[("P-1", "tenant_active")] == (t(2, 9), "audit: tenant.active")
    assert got[("P-1", "first_metered_use")][0] == t(3, 10)
    assert got[("P-1", "first_server")] == (t(3, 11), "usage: first vCPU-hours (server, nova)")
    assert got[("P-1", "data_access_granted")] == (t(25, 12), "tenant: data_access_granted_at")
    assert got[("P-2", "tenant_active")] == (t(7), "tenant state active")
    assert got[("P-3", "first_server")][1] == "usage: first vCPU-hours (pod, kubernetes)"
    assert ("P-3", "tenant_active") not in got
    assert len(got) == 7


def test_a_second_run_records_nothing_new(engine):
    with session_scope(engine) as session:
        first = milestones.record_milestones(session, NOW)
    with session_scope(engine) as session:
        again = milestones.record_milestones(session, NOW)
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "milestone.reached"))
        assert len(events.all()) == len(first) == 7
    assert again == []


def test_earlier_evidence_found_later_moves_the_milestone_back_audited(engine):
    with session_scope(engine) as session:
        milestones.record_milestones(session, NOW)
    with session_scope(engine) as session:
        session.add(usage("P-1", "volume_gb_hours", t(1, 5), "10", source="cinder"))
    with session_scope(engine) as session:
        (changed,) = milestones.record_milestones(session, NOW)
        assert changed.kind == "first_metered_use"
        (event,) = session.exec(
            select(AuditEvent).where(AuditEvent.action == "milestone.corrected")
        ).all()
        assert event.details["was"] == t(3, 10).isoformat()
    assert recorded(engine)[("P-1", "first_metered_use")][0] == t(1, 5)


def test_evidence_after_now_is_not_recorded_yet(engine):
    with session_scope(engine) as session:
        milestones.record_milestones(session, t(3, 10))
    got = recorded(engine)
    assert ("P-1", "first_metered_use") in got and ("P-1", "first_server") not in got


def test_cli_records_and_lists_one_pilots_milestones_in_order(cli, engine):
    result = cli("milestones", "--pilot", "P-1", "--json")
    assert result.code == 0, result.err
    assert [r["kind"] for r in result.json()] == list(milestones.KINDS)
    assert len(cli("audit", "--json", "--action", "milestone.reached").json()) == 7
    missing = cli("milestones", "--pilot", "NOPE")
    assert missing.code == 2 and "pilot = 'NOPE': no such pilot" in missing.err
