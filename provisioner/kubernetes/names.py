"""Kubernetes names for a pilot's objects: DNS-1123 labels folded from pilot ids and e-mails.

Pilot ids and e-mail addresses may hold upper case, dots, ``@`` and ``_``;
Kubernetes object names may not.  Folding can map two ids to one name, so the
exact pilot id is kept in an annotation and ownership is decided on that, never
on the folded name.

What this module deliberately does not do: look anything up in a cluster.
"""

from __future__ import annotations

import hashlib
import re

NAMESPACE_PREFIX = "ngc-"
PILOT_LABEL = "ngc-pilot.org/pilot"  # folded id, for selectors
PILOT_ANNOTATION = "ngc-pilot.org/pilot-id"  # exact id: ownership is decided on this
MANAGED_LABEL = "app.kubernetes.io/managed-by"
MANAGED_VALUE = "ngc-pilot"
PI_SERVICE_ACCOUNT = "pi"

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def is_dns1123_label(name: str) -> bool:
    return len(name) <= 63 and bool(_LABEL.match(name))


def is_label_value(value: str) -> bool:
    return len(value) <= 63 and bool(_LABEL_VALUE.match(value))


def fold(text: str, *, limit: int = 63) -> str:
    """``text`` as a DNS-1123 label of at most ``limit`` characters.

    Lower case; every run of other characters becomes one ``-``.  When that
    loses information (or is too long) a short hash of the original is
    appended, so ``a.b`` and ``a_b`` stay apart.
    """
    folded = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"
    if folded == text and len(folded) <= limit:
        return folded
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    if folded == text.lower() and len(folded) <= limit:
        return folded  # only case differs: readable, and the annotation tells ids apart
    head = folded[: limit - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}" if head else digest


def namespace_name(pilot_id: str) -> str:
    """``ngc-<pilot id folded>``, a DNS-1123 label."""
    return NAMESPACE_PREFIX + fold(pilot_id, limit=63 - len(NAMESPACE_PREFIX))


def pilot_label_value(pilot_id: str) -> str:
    """The pilot id itself when it is a valid label value, else its fold."""
    return pilot_id if is_label_value(pilot_id) else fold(pilot_id)


def member_service_account(email: str) -> str:
    """The ServiceAccount name of a (non-PI) member: ``member-<e-mail folded>``."""
    return "member-" + fold(email, limit=63 - len("member-"))
