"""The error tree of ngc-pilot: one root, permanent vs transient, input problems.

``InputError`` (bad input from a person: exit code 2, nothing written) carries
every :class:`policies.problems.Problem` found.  ``TransientError`` says when
to retry, so the scheduler (a later issue) can back off instead of failing.
SDK and database exceptions are translated at their adapter boundary; secrets
and payloads never go into a message.
"""

from __future__ import annotations

from collections.abc import Sequence

from policies.problems import Problem


class NgcPilotError(Exception):
    """Root of every error ngc-pilot raises on purpose."""

    exit_code = 1


class PermanentError(NgcPilotError):
    """Retrying will not help; a person must act."""


class TransientError(NgcPilotError):
    """Retrying later may help."""

    def __init__(self, message: str, retry_after: float = 30.0):
        super().__init__(message)
        self.retry_after = retry_after


class InputError(PermanentError):
    """Bad input: names the field, the value and what is allowed; exit code 2."""

    exit_code = 2

    def __init__(self, problems: Sequence[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(source="input", field="(input)", value=None, message=problems)]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class NotFoundError(InputError):
    """A named thing (application, pilot) does not exist."""
