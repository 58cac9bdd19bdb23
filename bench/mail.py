"""Benchmark of the mail sender (a script that prints numbers, not a test).

    python bench/mail.py [--messages 1000] [--database sqlite|postgresql]

Two runs against a real SMTP server on 127.0.0.1 (aiosmtpd,
``tests/support/smtpserver.py``), each on a fresh database:

1. **Throughput.**  ``--messages`` "tenant ready" notices are queued through
   :func:`ngc_pilot.mail.queue` (rendered from the templates), then one
   ``send_due`` sends them all.  Goal: 1,000 in <= 10 s.  Beside it, in the
   same run: the same messages by smtplib alone (no database), and sent with
   ``hand_over=1`` (one commit per message, the strict protocol).
2. **kill -9 mid-way.**  The same number are queued; a sender runs in a
   child process (``ngc-pilot outbox send``'s function) and is killed with
   SIGKILL the moment the server has received half of them — the worst
   moment, when the message just accepted is not yet recorded as sent.  A
   second sender then runs as if the in-doubt timeout had passed
   (``in_doubt_seconds=0``): it takes over the rows claimed and never handed
   over, and marks the group being handed over without a recorded reply (at
   most ``mail.hand_over`` messages, default 20) ``in_doubt`` instead of
   sending them again.  Counted at the server:
   messages received, distinct Message-IDs, duplicates (received twice),
   missing.  Goal: no duplicate.

PostgreSQL comes from ``tests/support/pgserver.py`` (a scratch database,
dropped after).  The machine's load average is printed: on a shared machine
the numbers move with whatever else runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from arguments import count  # noqa: E402

from ngc_pilot import mail  # noqa: E402
from ngc_pilot.db import make_engine, session_scope  # noqa: E402
from ngc_pilot.migrate import upgrade  # noqa: E402
from ngc_pilot.settings import MailSettings  # noqa: E402

CONTEXT = {
    "pi_name": "Ada Lovelace",
    "title": "Genomes",
    "project": "ngc-bench",
    "last_day": "2027-03-31",
    "support_contact": "support@example.org",
}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def queue_many(url: str, n: int, prefix: str) -> float:
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    with session_scope(engine) as session:
        for i in range(n):
            mail.queue(
                session,
                key=f"{prefix}:{i:05d}",
                kind="tenant_ready",
                recipient=f"pi{i}@example.org",
                language="da" if i % 2 else "en",
                context={**CONTEXT, "pilot": f"B-{i:05d}"},
            )
    engine.dispose()
    return time.perf_counter() - started


def settings(port: int, **more) -> MailSettings:
    return MailSettings(smtp_host="127.0.0.1", smtp_port=port, sender="ngc@example.org", **more)


class ServerProcess:
    """The SMTP server in a process of its own, as in production (it does not share
    the sender's interpreter lock); it appends each received Message-ID to a file."""

    def __init__(self, workdir: Path):
        self.ids_file = workdir / f"ids-{uuid.uuid4().hex[:6]}.txt"
        self.port_file = self.ids_file.with_suffix(".port")
        self.process = subprocess.Popen(
            [sys.executable, __file__, "_server", str(self.ids_file)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stderr=subprocess.DEVNULL,
        )
        while not self.port_file.exists():
            time.sleep(0.05)
        self.port = int(self.port_file.read_text())

    def ids(self) -> list[str]:
        text = self.ids_file.read_text() if self.ids_file.exists() else ""
        return [line for line in text.split("\n") if line]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def serve(ids_file: str) -> None:
    """The child that runs the SMTP server (see :class:`ServerProcess`)."""
    import logging

    logging.disable(logging.CRITICAL)
    out = open(ids_file, "a", buffering=1)  # noqa: SIM115 - open for the process's life

    class Writer:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            for line in bytes(envelope.content).split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    out.write(line.split(b":", 1)[1].strip().decode() + "\n")
                    break
            return "250 OK"

    from aiosmtpd.controller import Controller
    from support.smtpserver import free_port

    port = free_port()
    controller = Controller(Writer(), hostname="127.0.0.1", port=port)
    controller.start()
    ready = Path(ids_file).with_suffix(".port-tmp")
    ready.write_text(str(port))
    ready.rename(Path(ids_file).with_suffix(".port"))  # whole, never read half-written
    signal.sigwait({signal.SIGTERM})
    controller.stop()


def sender(url: str, port: int) -> None:
    """The child of the kill -9 run: send everything due (until it is killed)."""
    engine = make_engine(url)
    mail.send_due(engine, settings(port), actor="bench")


def baseline(server: ServerProcess, n: int) -> float:
    """The same messages over one smtplib connection, no database: what SMTP alone costs."""
    import smtplib

    from ngc_pilot.mail.message import build
    from ngc_pilot.mail.rendering import render

    subject, body = render("tenant_ready", "da", {**CONTEXT, "pilot": "B-0"})
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", server.port) as conn:
        for i in range(n):
            conn.send_message(
                build(
                    sender="ngc@example.org",
                    recipient=f"pi{i}@example.org",
                    subject=subject,
                    body=body,
                    message_id=f"<baseline-{i}@example.org>",
                    language="da",
                    attachments=None,
                    kind="tenant_ready",
                )
            )
    return time.perf_counter() - started


def throughput(url: str, n: int, workdir: Path) -> None:
    queued = queue_many(url, n, "tp")
    engine = make_engine(url)
    server = ServerProcess(workdir)
    try:
        report = mail.send_due(engine, settings(server.port), actor="bench")
        received = len(server.ids())
        smtp_only = baseline(server, n)
        queue_many(url, n, "k1")
        strict = mail.send_due(engine, settings(server.port, hand_over=1), actor="bench")
    finally:
        server.stop()
    engine.dispose()
    print(
        f"throughput: queued {n} in {queued:.2f} s; sent {report.sent} in {report.seconds:.2f} s "
        f"({report.sent / report.seconds:.0f}/s), server received {received}; goal <= 10 s: "
        f"{'met' if report.seconds <= 10 and received == n else 'NOT met'}"
    )
    print(f"baseline: the same {n} messages by smtplib alone, no database: {smtp_only:.2f} s")
    print(
        f"baseline: the same {n} with hand_over = 1 (a commit per message, as before): "
        f"sent {strict.sent} in {strict.seconds:.2f} s"
    )


def kill_midway(url: str, n: int, workdir: Path) -> None:
    queue_many(url, n, "k9")
    server = ServerProcess(workdir)
    try:
        child = subprocess.Popen(
            [sys.executable, __file__, "_sender", url, str(server.port)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        deadline = time.monotonic() + 120
        target = n // 2 + 7  # mid-batch
        while len(server.ids()) < target and time.monotonic() < deadline:
            if child.poll() is not None:
                break
            time.sleep(0.001)
        child.send_signal(signal.SIGKILL)
        child.wait()
        at_kill = len(server.ids())
        engine = make_engine(url)
        counts = mail.outbox_counts(engine)
        after = mail.send_due(engine, settings(server.port, in_doubt_seconds=0), actor="bench")
        left = mail.outbox_counts(engine)
        engine.dispose()
        ids = server.ids()
    finally:
        server.stop()
    distinct = len(set(ids))
    print(
        f"kill -9: killed after {at_kill} received; then {counts['sent']} recorded sent, "
        f"{counts['sending']} handed over without a recorded reply, {counts['claimed']} claimed "
        f"and never handed over, {counts['queued']} queued"
    )
    print(
        f"kill -9: the next sender took over {after.reclaimed} claimed, sent {after.sent}, "
        f"marked {after.in_doubt} in doubt (not re-sent); outbox now {left}"
    )
    print(
        f"kill -9: received {len(ids)}, distinct Message-IDs {distinct}, duplicates "
        f"{len(ids) - distinct}, missing {n - distinct} (of them in doubt: {left['in_doubt']}, "
        f"delivered before the kill: {left['in_doubt'] - (n - distinct)}); goal no duplicate: "
        f"{'met' if len(ids) == distinct else 'NOT met'}"
    )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "_sender":
        sender(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "_server":
        serve(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=count(), default=1000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="postgresql")
    args = parser.parse_args()
    print(load(), f"; mail.hand_over (k) = {MailSettings().hand_over}")
    with tempfile.TemporaryDirectory(prefix="bench-mail-") as scratch:
        workdir = Path(scratch)  # the SMTP server's files; removed at the end
        for run in (throughput, kill_midway):
            if args.database == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    run(f"sqlite:///{tmp}/bench.db", args.messages, workdir)
                continue
            from support.pgserver import create_database, drop_database, server_url

            admin, _ = server_url()
            name = f"ngc_bench_mail_{uuid.uuid4().hex[:8]}"
            url = create_database(admin, name)
            try:
                run(url, args.messages, workdir)
            finally:
                drop_database(admin, name)
    print(load())


if __name__ == "__main__":
    main()
