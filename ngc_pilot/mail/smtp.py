"""The SMTP connection, and how a failure to send reads.

Why this exists: the sender (:mod:`ngc_pilot.mail.sending`) needs a logged-in
connection and, for each failure, whether it is final (``5xx``) and why in
the server's words.  The password is handed to smtplib and nowhere else: no
message built here contains it.  It deliberately knows nothing of the outbox.
"""

from __future__ import annotations

import smtplib
import ssl

from ngc_pilot.settings import MailSettings


class ServerError(Exception):
    """Connecting, STARTTLS or logging in failed: no message was handed over."""


def describe_failure(exc: BaseException) -> tuple[bool, str]:
    """(final?, why) for a failure to send one message, in the server's words."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (0, b""))
        return 500 <= code < 600, f"{code} {text_of(text)}"[:500]
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return 500 <= code < 600, f"{code} {text_of(exc.smtp_error)}"[:500]
    return False, f"{type(exc).__name__}: {exc}"[:500]


def text_of(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def connect(mail: MailSettings) -> smtplib.SMTP:
    """An SMTP connection, upgraded and logged in as the settings say."""
    try:
        smtp = smtplib.SMTP(mail.smtp_host, mail.smtp_port, timeout=mail.timeout_seconds)
    except (OSError, smtplib.SMTPException) as exc:
        raise ServerError(
            f"cannot reach the SMTP server {mail.smtp_host}:{mail.smtp_port} ({type(exc).__name__}: {exc})"
        ) from None
    try:
        if mail.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if mail.username:
            smtp.login(mail.username, mail.password.get_secret_value())
    except (OSError, smtplib.SMTPException) as exc:
        smtp.close()
        final, why = describe_failure(exc)
        step = "logging in as " + mail.username if mail.username else "STARTTLS"
        # ``why`` is the server's reply or the exception's type: never the password.
        raise ServerError(
            f"SMTP server {mail.smtp_host}:{mail.smtp_port}: {step} failed ({why})"
        ) from None
    return smtp


def close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
