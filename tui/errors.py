"""Turn any failure in a worker into a readable message for the operator.

Expected failures (:class:`ngc_pilot.errors.NgcPilotError`, e.g. bad input
with its problems) are shown as they are.  Anything else is a bug: its
traceback goes to a log file and the operator sees one line naming the file,
so the UI never dies or prints a traceback over the screen.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from textual.message_pump import MessagePump

from tui.messages import ServiceFailed

MAX_LINES = 8


class NotStarted(Exception):
    """The service layer could not be opened; that failure was already shown once."""


@contextmanager
def reported(target: MessagePump, action: str) -> Iterator[None]:
    """Run the block; on any exception post :class:`ServiceFailed` to ``target``."""
    try:
        yield
    except NotStarted:
        pass  # the app showed why when it failed to open the database
    except Exception as exc:  # noqa: BLE001 - the UI must survive every failure
        target.post_message(ServiceFailed(action, exc))


def describe(action: str, error: BaseException, log_file: Path | None) -> tuple[str, str]:
    """(title, message) of a notification for ``error``; unexpected ones are logged."""
    from ngc_pilot.errors import InputError, NgcPilotError  # loaded by the services by now

    if isinstance(error, InputError):
        lines = [_problem_line(p) for p in error.problems]
        if len(lines) > MAX_LINES:
            lines = lines[:MAX_LINES] + [f"… and {len(lines) - MAX_LINES} more"]
        return f"{action}: nothing was changed", "\n".join(lines)
    if isinstance(error, NgcPilotError):
        return f"{action} failed", str(error)
    where = _log(error, action, log_file)
    return (
        f"{action}: unexpected error",
        f"{type(error).__name__}: {error}" + (f"\n(details in {where})" if where else ""),
    )


def form_fields(source: str) -> dict[str, str]:
    """The domain fields of a problem from ``source`` as the screens label them (the
    Commit form's fields, the Selection screen's locks); empty for other sources."""
    from ngc_pilot import selection  # loaded by the services by now

    if source not in (selection.OPTIONS, selection.DECISION):
        return {}
    return {
        selection.DECIDED_BY: "Decided by",
        selection.REASON: "Reason",
        selection.LOCK_IN: "Locked in",
        selection.LOCK_OUT: "Locked out",
        selection.LOCK_BOTH: "Locked in and out",
        selection.MINIMUM: "Fewest pilots",
        selection.MAXIMUM: "Most pilots",
    }


def _problem_line(problem: object) -> str:
    field = getattr(problem, "field", "")
    field = form_fields(getattr(problem, "source", "")).get(field, field)
    message = getattr(problem, "message", str(problem))
    return f"{field}: {message}" if field and field != "(input)" else message


def _log(error: BaseException, action: str, log_file: Path | None) -> Path | None:
    if log_file is None:
        return None
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {datetime.now(UTC).isoformat()} {action}\n")
            handle.write("".join(traceback.format_exception(error)))
    except OSError:
        return None
    return log_file
