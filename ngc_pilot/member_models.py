"""The ``member`` table: a tenant's researchers besides its PI (SQLModel; Alembic 0010).

One row per time a person is added to a pilot: ``state`` is ``adding``
until their credential exists and their notice is queued (a crash in between
leaves ``adding``, and the next ``members add`` resumes it), then
``active``, then ``removing`` and ``removed`` (``removed_at`` set).  A person
re-added after removal gets a new row.  The credential's id is stored, never
its secret; of their own Kubernetes token (where the pilot has a namespace)
only the expiry is stored (Alembic 0013), never the token.  A module of its own to keep ``models.py`` short and merges easy;
deliberately no logic here (``ngc_pilot.members``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from ngc_pilot.db import UTCDateTime, utcnow


class Member(SQLModel, table=True):
    __tablename__ = "member"

    id: int | None = Field(default=None, primary_key=True)
    pilot_id: str = Field(foreign_key="pilot.id", max_length=64, index=True)
    email: str = Field(max_length=254, index=True)  # lower-cased
    name: str | None = Field(default=None, max_length=200)
    role: str = Field(default="member", max_length=16)  # member | reader
    language: str = Field(default="da", max_length=8)  # da | en
    age_recipient: str | None = Field(default=None, max_length=200)  # public key
    ssh_public_key: str | None = Field(default=None, max_length=4000)  # public key
    state: str = Field(default="adding", max_length=16)  # adding|active|removing|removed
    credential_id: str | None = Field(default=None, max_length=64)  # the id only
    added_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    removed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # when their own service account's token (in their bundle's kubeconfig) expires
    kube_token_expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
