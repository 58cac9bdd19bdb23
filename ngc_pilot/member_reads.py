"""Reading members: the roster of a pilot, and proof that removed members' access is gone.

Why this exists: ``members list`` and ``tenants verify`` read what
:mod:`ngc_pilot.members` wrote — the member rows, and each removed member's
kept, revoked credential (Keystone must refuse it).  Split from the members
service, which adds and removes them.

What this module does not do: change a member, or try Kubernetes tokens
(``ngc_pilot.namespace_verify`` does).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from ngc_pilot.errors import NotFoundError
from ngc_pilot.member_models import Member
from ngc_pilot.members import member_cloud
from ngc_pilot.models import Pilot
from ngc_pilot.provisioner_config import Provisioner
from policies.problems import Problem
from provisioner import member_bundle
from provisioner.backend import Probe
from provisioner.members import MemberCloud


def list_members(
    session: Session, pilot_id: str, *, include_removed: bool = False
) -> list[dict[str, Any]]:
    if session.get(Pilot, pilot_id) is None:
        raise NotFoundError(
            [Problem("command line", "pilot", pilot_id, "no committed pilot with this id")]
        )
    query = select(Member).where(Member.pilot_id == pilot_id)
    if not include_removed:
        query = query.where(Member.state != "removed")
    return [
        {
            "pilot": m.pilot_id,
            "email": m.email,
            "name": m.name,
            "role": m.role,
            "language": m.language,
            "state": m.state,
            "encrypted_delivery": bool(m.age_recipient),
            "ssh_key": bool(m.ssh_public_key),
            "credential_id": m.credential_id,
            "kube_token_expires_at": (
                m.kube_token_expires_at.isoformat() if m.kube_token_expires_at else None
            ),
            "added_at": m.added_at.isoformat(),
            "removed_at": m.removed_at.isoformat() if m.removed_at else None,
        }
        for m in session.exec(query.order_by(col(Member.email), col(Member.id))).all()
    ]


def verify_removed(prov: Provisioner, pilot_ids: list[str]) -> list[Probe]:
    """For each removed member whose revoked credential is kept: Keystone must refuse it.

    Their revoked Kubernetes token is tried by ``namespace_verify.verify``.
    """
    probes: list[Probe] = []
    backend: MemberCloud | None = None
    for pilot_id in pilot_ids:
        for email, credential in member_bundle.removed_credentials(
            prov.environments_dir, pilot_id
        ).items():
            backend = backend or member_cloud(prov)
            works = backend.token_works(credential)
            probes.append(
                Probe(
                    pilot_id,
                    f"removed member {email}",
                    "revoked credential",
                    works,
                    "a token was issued: access NOT revoked" if works else "refused (revoked)",
                )
            )
    return probes
