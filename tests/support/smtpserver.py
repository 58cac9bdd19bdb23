"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives.

The mail tests and ``bench/mail.py`` send to it through smtplib exactly as to
a production server.  It can refuse the next messages with a given reply
(``451`` to test retries, ``550`` a final refusal) and require a login
(``AUTH PLAIN/LOGIN`` without TLS, loopback only) to test credentials.  It
can also hold its reply to every message after the first *n* (``hold_after``)
until ``release()``, so a test can kill a sender at a known point.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]


@dataclass
class Recorder:
    """The aiosmtpd handler: records each accepted message; refuses on request."""

    received: list[Received] = field(default_factory=list)
    refuse: list[str] = field(default_factory=list)  # replies for the next DATA commands
    lock: threading.Lock = field(default_factory=threading.Lock)
    hold_after: int | None = None  # keep the reply to messages beyond this many received

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        while True:
            with self.lock:
                if self.hold_after is None or len(self.received) < self.hold_after:
                    break
            await asyncio.sleep(0.01)
        with self.lock:
            if self.refuse:
                return self.refuse.pop(0)
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 OK"


class SmtpServer:
    """``with SmtpServer() as smtp:`` — a server on ``smtp.port`` until the block ends."""

    def __init__(self, *, username: str | None = None, password: str | None = None):
        self.recorder = Recorder()
        self.port = free_port()
        self.host = "127.0.0.1"
        self.logins: list[str] = []
        options = {}
        if username is not None:

            def authenticate(server, session, envelope, mechanism, auth_data):
                ok = (
                    isinstance(auth_data, LoginPassword)
                    and auth_data.login.decode() == username
                    and auth_data.password.decode() == password
                )
                self.logins.append(auth_data.login.decode() if ok else "refused")
                return AuthResult(success=ok, handled=False)

            options = {
                "authenticator": authenticate,
                "auth_require_tls": False,
                "auth_required": True,
            }
        self.controller = Controller(self.recorder, hostname=self.host, port=self.port, **options)

    @property
    def received(self) -> list[Received]:
        with self.recorder.lock:
            return list(self.recorder.received)

    def refuse_next(self, *replies: str) -> None:
        with self.recorder.lock:
            self.recorder.refuse.extend(replies)

    def hold_after(self, count: int | None) -> None:
        """Hold the reply to every message once ``count`` have been received
        (``None``: release them)."""
        with self.recorder.lock:
            self.recorder.hold_after = count

    def release(self) -> None:
        self.hold_after(None)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
