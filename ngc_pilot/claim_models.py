"""The ``work_cycle`` and ``work_claim`` tables: per-tenant work split between replicas.

A *cycle* is one run of a shared job (``meter``, ``reconcile``) for one fire
time: what was planned (``plan``), how many items it has and how many are
done.  An *item* (``work_claim``) is one piece of it — a shard of tenants, in
one metering window or for one reconcile — with its claim: the replica that
holds it (``owner``), until when (``lease_until``), and a ``token`` that every
new claim increments, so that a replica whose lease was taken over cannot
complete the item any more.  Deliberately no logic here
(:mod:`ngc_pilot.claims`); the migration is 0013.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from ngc_pilot.db import UTCDateTime, utcnow


class WorkCycle(SQLModel, table=True):
    """One run of a shared job for one fire time, split into items."""

    __tablename__ = "work_cycle"
    __table_args__ = (UniqueConstraint("job", "cycle_key", name="uq_work_cycle_job_key"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    cycle_key: str = Field(max_length=64)  # the fire time (ISO), "/2" etc. for a re-run
    planned_by: str = Field(max_length=200)  # host:pid
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    plan: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    items_total: int = 0
    items_done: int = 0
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class WorkClaim(SQLModel, table=True):
    """One item of a cycle and who holds it; done once, by exactly one replica."""

    __tablename__ = "work_claim"
    __table_args__ = (
        UniqueConstraint("cycle_id", "item", name="uq_work_claim_cycle_item"),
        Index("ix_work_claim_open", "done_at", "lease_until"),
    )

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="work_cycle.id", index=True)
    item: int  # 0.. within the cycle
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    owner: str | None = Field(default=None, max_length=200)  # host:pid of the holder
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    token: int = 0  # incremented by every claim: the fence
    attempts: int = 0
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    done_by: str | None = Field(default=None, max_length=200)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = Field(default=None, max_length=2000)
