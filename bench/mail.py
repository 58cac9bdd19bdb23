"""Benchmark of the mail sender (a script that prints numbers, not a test).

    python bench/mail.py [--messages 1000] [--database sqlite|postgresql]

Two runs against a real SMTP server on 127.0.0.1 (aiosmtpd,
``tests/support/smtpserver.py``), each on a fresh database:

1. **Throughput.**  ``--messages`` "tenant ready" notices are queued through
   :func:`ngc_pilot.mail.queue` (rendered from the templates), then one
   ``send_due`` sends them all.  Goal: 1,000 in <= 10 s.
2. **kill -9 mid-way.**  The same number are queued; a sender runs in a
   child process (``ngc-pilot outbox send``'s function) and is killed with
   SIGKILL once the server has about half of them.  Its claimed but
   unconfirmed rows are then "in doubt"; a second sender runs as if the
   in-doubt timeout had passed (``in_doubt_seconds=0``).  Counted at the
   server: messages received, distinct Message-IDs, duplicates (received
   twice), missing.  Goal: no duplicate.  By the in-doubt rule a duplicate
   is possible only for the one message the killed sender had handed to the
   server and not yet confirmed, and it would carry the same Message-ID.

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

from support.smtpserver import SmtpServer  # noqa: E402

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


def sender(url: str, port: int) -> None:
    """The child of the kill -9 run: send everything due (until it is killed)."""
    engine = make_engine(url)
    mail.send_due(engine, settings(port), actor="bench")


def throughput(url: str, n: int) -> None:
    queued = queue_many(url, n, "tp")
    engine = make_engine(url)
    with SmtpServer() as server:
        report = mail.send_due(engine, settings(server.port), actor="bench")
        received = len(server.received)
    engine.dispose()
    print(
        f"throughput: queued {n} in {queued:.2f} s; sent {report.sent} in {report.seconds:.2f} s "
        f"({report.sent / report.seconds:.0f}/s), server received {received}; goal <= 10 s: "
        f"{'met' if report.seconds <= 10 and received == n else 'NOT met'}"
    )


def kill_midway(url: str, n: int) -> None:
    queue_many(url, n, "k9")
    with SmtpServer() as server:
        child = subprocess.Popen(
            [sys.executable, __file__, "_sender", url, str(server.port)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        deadline = time.monotonic() + 120
        while len(server.received) < n // 2 and time.monotonic() < deadline:
            if child.poll() is not None:
                break
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait()
        at_kill = len(server.received)
        engine = make_engine(url)
        counts = mail.outbox_counts(engine)
        after = mail.send_due(engine, settings(server.port, in_doubt_seconds=0), actor="bench")
        engine.dispose()
        ids = [r.message["Message-ID"] for r in server.received]
    distinct = len(set(ids))
    print(
        f"kill -9: killed after {at_kill} received ({counts['sending']} in doubt, "
        f"{counts['queued']} queued, {counts['sent']} confirmed); the next sender re-sent "
        f"{after.resent_in_doubt} in doubt and sent {after.sent}"
    )
    print(
        f"kill -9: received {len(ids)}, distinct Message-IDs {distinct}, duplicates "
        f"{len(ids) - distinct}, missing {n - distinct}; goal no duplicate: "
        f"{'met' if len(ids) == distinct == n else 'NOT met'}"
    )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "_sender":
        sender(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="postgresql")
    args = parser.parse_args()
    print(load())
    for run in (throughput, kill_midway):
        if args.database == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                run(f"sqlite:///{tmp}/bench.db", args.messages)
            continue
        from support.pgserver import create_database, drop_database, server_url

        admin, _ = server_url()
        name = f"ngc_bench_mail_{uuid.uuid4().hex[:8]}"
        url = create_database(admin, name)
        try:
            run(url, args.messages)
        finally:
            drop_database(admin, name)
    print(load())


if __name__ == "__main__":
    main()
