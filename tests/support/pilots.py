"""Seed a database with selected pilots (rows only, no cloud), for service and CLI tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Engine

from ngc_pilot import migrate
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.models import Application, Pilot, SelectionDecision


def seed_pilots(url: str, ids: Sequence[str], *, withdrawn: Sequence[str] = ()) -> Engine:
    """Migrate the database at ``url`` and add a selection of ``ids`` (``withdrawn`` withdrawn)."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    with session_scope(engine) as session:
        decision = SelectionDecision(
            decided_by="t",
            reason="t",
            policy_digest="x",
            k_min=1,
            k_max=len(ids),
            objective=1.0,
            optimal=True,
            selected=list(ids),
        )
        session.add(decision)
        session.flush()
        for pid in ids:
            session.add(
                Application(
                    id=pid,
                    name=f"Project {pid}",
                    pi_name=f"PI {pid}",
                    pi_email=f"{pid.lower()}@example.org",
                    institution=f"Institution {pid}",
                    institution_type="university",
                    nominated_by="t",
                    data_volume_bytes=1,
                    maturity=3,
                    ready_date=date(2021, 4, 15),
                    commits_to_evaluation=True,
                    data_processing_agreement="signed",
                    document={},
                    source="t",
                )
            )
            session.flush()
            session.add(
                Pilot(
                    id=pid,
                    application_id=pid,
                    decision_id=decision.id,
                    state="withdrawn" if pid in withdrawn else "selected",
                    planned_start=date(2021, 4, 15),
                    planned_end=date(2021, 8, 31),
                )
            )
    return engine
