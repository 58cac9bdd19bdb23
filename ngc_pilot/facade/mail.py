"""The mail outbox for every interface: what is queued, sending it, statements.

The same functions the ``mail`` and ``statement`` jobs call
(:mod:`ngc_pilot.mail`), one transaction each, returning plain data: the
outbox's notices (status, attempts, last error; attachments only by name and
size), what a send did, what queueing a month's statements did.  Nothing here
shows the SMTP password or an attachment's contents, and no problem is worded
for a particular interface: they name ``status``, ``key``, ``reason`` and
``month``.
"""

from __future__ import annotations

from typing import Any

from ngc_pilot import mail
from ngc_pilot.db import session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.facade.base import FacadeBase
from ngc_pilot.settings import MailSettings, Settings
from policies.problems import Problem

OUTBOX_STATUSES: tuple[str, ...] = tuple(mail.STATUSES)


class MailArea(FacadeBase):
    def _mail_settings(self) -> MailSettings:
        settings = self.settings if self.settings is not None else Settings.model_validate({})
        return settings.mail

    def mail_outbox(
        self, *, pilot_id: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        """The notices in the outbox, oldest first, optionally of one pilot or in one status."""
        if status is not None and status not in OUTBOX_STATUSES:
            raise InputError(
                [Problem("outbox", "status", status, f"allowed: {', '.join(OUTBOX_STATUSES)}")]
            )
        with session_scope(self.engine) as session:
            return mail.outbox(session, pilot_id, status)

    def send_mail(self) -> dict[str, Any]:
        """Send every due notice now through the configured SMTP server; what it did."""
        return mail.send_due(self.engine, self._mail_settings(), actor=self.actor).as_dict()

    def requeue_mail(self, key: str, reason: str) -> None:
        """Queue a failed or in-doubt message again (same Message-ID; audited with the reason)."""
        with session_scope(self.engine) as session:
            mail.requeue(session, key, actor=self.actor, reason=reason)

    def queue_statements(self, month: str) -> dict[str, Any]:
        """Queue ``month``'s usage statement to each invoiced pilot's PI; what was queued."""
        return mail.queue_statements(self.engine, month, actor=self.actor).as_dict()
