"""A month of a pilot written straight into the database, for the report's tests and bench.

Pilots with tenants, hourly (or daily) usage in May 2021, capacity snapshots,
evaluation responses with free text, and support items — enough for every
section of the steering group's report to have something to show.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, insert

from ngc_pilot import migrate, support_log
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.evaluation_models import EvaluationAnswer, EvaluationResponse
from ngc_pilot.models import (
    Application,
    CapacitySnapshot,
    Pilot,
    SelectionDecision,
    Tenant,
    UsageRecord,
)
from ngc_pilot.request_models import ChangeRequest

MONTH = "2021-05"
START = datetime(2021, 5, 1, tzinfo=UTC)


def pilot_ids(count: int) -> list[str]:
    return [f"P-{n}" for n in range(1, count + 1)]


def seed_month(url: str, count: int = 3, *, step_hours: int = 24) -> Engine:
    """Migrate the database at ``url`` and add ``count`` pilots with a month of data.

    P-1 uses much of its quota; the others little (a low-use risk); P-2 ends on
    2021-06-10 (an expiry risk); P-3 waits for its data processing agreement; P-2 has its own data-access date
    (2021-05-20) and a pending extension, P-3 a pending resize (P-1's request
    is decided).
    """
    engine = make_engine(url)
    migrate.upgrade(engine)
    ids = pilot_ids(count)
    with session_scope(engine) as session:
        decision = SelectionDecision(
            decided_by="steering group",
            reason="the most heterogeneous set",
            policy_digest="a" * 64,
            k_min=1,
            k_max=count,
            objective=12.5,
            optimal=True,
            selected=ids,
            decided_at=datetime(2021, 4, 1, tzinfo=UTC),
        )
        session.add(decision)
        session.flush()
        for n, pid in enumerate(ids, start=1):
            session.add(
                Application(
                    id=pid,
                    name=f"Project {pid}",
                    pi_name=f"PI {pid}",
                    pi_email=f"{pid.lower()}@example.org",
                    institution=f"Institution {n}",
                    institution_type="university",
                    nominated_by="t",
                    data_volume_bytes=10**12,
                    maturity=3,
                    ready_date=date(2021, 4, 15),
                    commits_to_evaluation=True,
                    data_processing_agreement="in_progress" if n == 3 else "signed",
                    # P-3 names no national genome data, so it is never given access
                    document={} if n == 3 else {"data": {"sources": ["national_genome_center"]}},
                    source="t",
                )
            )
            session.flush()
            session.add(
                Pilot(
                    id=pid,
                    application_id=pid,
                    decision_id=decision.id,
                    state="selected",
                    planned_start=date(2021, 4, 15),
                    planned_end=date(2021, 6, 10) if n == 2 else date(2021, 8, 31),
                    data_access_date=date(2021, 5, 20) if n == 2 else None,
                )
            )
            session.flush()
            session.add(
                Tenant(
                    pilot_id=pid,
                    cloud="test",
                    size="small",
                    project_name=f"ngc-{pid.lower()}",
                    project_id=f"proj{n}",
                    cidr=f"10.240.{n}.0/24",
                    state="active",
                    created_at=datetime(2021, 4, 15, tzinfo=UTC),
                    data_access_granted_at=datetime(2021, 5, 2, tzinfo=UTC) if n == 1 else None,
                )
            )
        session.flush()
        rows = []
        hours = 31 * 24
        for n, pid in enumerate(ids, start=1):
            cores = Decimal(40 if n == 1 else 2) * step_hours
            for h in range(0, hours, step_hours):
                at = START + timedelta(hours=h)
                for metric, quantity in (
                    ("vcpu_hours", cores + Decimal(n) / 4),
                    ("ram_gb_hours", cores * 4),
                    ("volume_gb_hours", Decimal("100.125") * step_hours),
                ):
                    rows.append(
                        {
                            "pilot_id": pid,
                            "metric": metric,
                            "window_start": at,
                            "window_end": at + timedelta(hours=step_hours),
                            "quantity": quantity,
                            "source": "nova",
                            "collected_at": at + timedelta(hours=step_hours),
                        }
                    )
        session.execute(insert(UsageRecord), rows)
        for day in range(0, 31, 3):
            at = START + timedelta(days=day, hours=12)
            for rc, total, used, allocated in (
                ("VCPU", 512.0, 40.0 + day, 64.0 * count),
                ("MEMORY_MB", 4_194_304.0, 200_000.0 + day * 1000, 262_144.0 * count),
            ):
                session.add(
                    CapacitySnapshot(
                        taken_at=at, resource_class=rc, total=total, used=used, allocated=allocated
                    )
                )
        answers = [
            (
                "P-1",
                "ada",
                {"infra.compute": 4, "ops.response": 5, "infra.comments": "Mere GPU, tak"},
            ),
            ("P-1", "bo", {"infra.compute": 5, "ops.response": 3}),
            (ids[-1], "cy", {"infra.compute": 2, "infra.comments": "Slow <storage> & more"}),
        ]
        for pid, who, given in answers:
            response = EvaluationResponse(
                pilot_id=pid,
                respondent=who,
                questionnaire_version=1,
                questionnaire_digest="d" * 64,
                source="t",
            )
            session.add(response)
            session.flush()
            for qid, value in given.items():
                area = {"infra": "infrastructure", "ops": "operations"}[qid.split(".")[0]]
                session.add(
                    EvaluationAnswer(
                        response_id=response.id,
                        question_id=qid,
                        area=area,
                        score=value if isinstance(value, int) else None,
                        text=value if isinstance(value, str) else None,
                    )
                )
        now = datetime(2021, 6, 1, tzinfo=UTC)
        item = support_log.open_item(
            session,
            "P-1",
            "infrastructure",
            "VM will not boot",
            actor="t",
            opened_at=datetime(2021, 5, 3, 9, tzinfo=UTC),
            now=now,
        )
        support_log.respond(
            session, item.id, actor="t", at=datetime(2021, 5, 3, 11, tzinfo=UTC), now=now
        )
        support_log.close(
            session, item.id, "rebuilt", actor="t", at=datetime(2021, 5, 4, 9, tzinfo=UTC), now=now
        )
        support_log.open_item(
            session,
            ids[-1],
            "operations",
            "Quota question",
            actor="t",
            opened_at=datetime(2021, 5, 20, 9, tzinfo=UTC),
            now=now,
        )
        # Change requests: one pending per pilot after the first, one decided.
        for n, pid in enumerate(ids, start=1):
            kind, value = ("extend", "2021-09-30") if n % 2 == 0 else ("resize", "medium")
            session.add(
                ChangeRequest(
                    pilot_id=pid,
                    kind=kind,
                    value=value,
                    justification="more time for the analysis",
                    filed_by=pid.lower(),
                    filed_at=datetime(2021, 5, 20 + n % 8, 10, tzinfo=UTC),
                    status="approved" if n == 1 else "pending",
                    decided_by="ops" if n == 1 else None,
                    decided_at=datetime(2021, 5, 22, tzinfo=UTC) if n == 1 else None,
                    reason="fits" if n == 1 else None,
                )
            )
    return engine
