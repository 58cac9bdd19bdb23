"""The bastion's allow-list: every active member's SSH public key, one line each.

``var/bastion/authorized_keys`` is regenerated from the ``member`` table on
every member change (added, removed, tenant torn down) and written
atomically (temp file + rename), so the copy operations deploy to the bastion
is never half-written and never holds a removed member's key.  Each line is
``restrict,port-forwarding <key> ngc-pilot:<pilot>:<email>``: a member may
only jump through the bastion (``ssh -J``), never get a shell on it; the
tenants' security groups keep admitting SSH from the bastion alone.

What this module deliberately does not do: deploy the file, or limit which
tenant a member may jump to (the tenant's own servers hold the member's key
through their keypair).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import col, select

from ngc_pilot.db import session_scope
from ngc_pilot.member_models import Member

OPTIONS = "restrict,port-forwarding"
HEADER = "# ngc-pilot: members allowed through the bastion; regenerated on every change\n"


def lines(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(Member)
            .where(Member.state == "active", col(Member.ssh_public_key).is_not(None))
            .order_by(col(Member.pilot_id), col(Member.email))
        ).all()
        return [
            f"{OPTIONS} {' '.join(m.ssh_public_key.split()[:2])} ngc-pilot:{m.pilot_id}:{m.email}"
            for m in rows
        ]


def regenerate(engine: Engine, path: Path) -> int:
    """Rewrite ``path`` from the table; the number of keys in it."""
    found = lines(engine)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o644)  # public keys only; sshd wants it readable, not writable
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(HEADER + "".join(f"{line}\n" for line in found))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(found)
