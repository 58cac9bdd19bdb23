"""The change-request table (SQLModel; Alembic 0008).

* ``ChangeRequest`` — a pilot's request to change its tenant: an extension
  (a new end date), a resize (another size template), a member to add, or
  data access; filed with a justification, then decided (approved or
  rejected, with a reason) and, where the cloud is involved, applied or
  failed.  A member request also carries the member's name, role and
  language (Alembic 0013), used when it is approved.

A module of its own so that ``models.py`` stays the core tables and merges
stay easy; ``models.py`` imports it.  Deliberately no logic here: filing,
deciding and applying are in
:mod:`ngc_pilot.change_requests` and :mod:`ngc_pilot.request_decisions`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from ngc_pilot.db import UTCDateTime, utcnow

KINDS = ("extend", "resize", "add_member", "data_access")
STATUSES = ("pending", "approved", "rejected", "applied", "failed")


class ChangeRequest(SQLModel, table=True):
    """One change request; ``value`` is the wanted end date (ISO), size, e-mail or empty."""

    __tablename__ = "change_request"

    id: int | None = Field(default=None, primary_key=True)
    pilot_id: str = Field(foreign_key="pilot.id", max_length=64, index=True)
    kind: str = Field(max_length=32)  # extend | resize | add_member | data_access
    value: str = Field(default="", max_length=254)
    justification: str = Field(max_length=2000)
    filed_by: str = Field(max_length=200)
    filed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    status: str = Field(default="pending", max_length=16, index=True)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    reason: str | None = Field(default=None, max_length=2000)
    note: str | None = Field(default=None, max_length=2000)  # what approval did or left to do
    error: str | None = Field(default=None, max_length=2000)
    # add_member only: who the member is, as `members add --name/--role/--language`
    member_name: str | None = Field(default=None, max_length=200)
    member_role: str | None = Field(default=None, max_length=16)  # member | reader
    member_language: str | None = Field(default=None, max_length=8)  # da | en
