"""Cross-process locks: which ``serve`` process leads, and who runs a job now.

Two kinds, each on PostgreSQL (advisory locks) and on SQLite (``flock`` on
files beside ``settings.lock_file``):

* the **leader lock**: only its holder runs the scheduler; other ``serve``
  processes wait as standby and take over when the holder dies (the server
  ends a dead client's session, the kernel closes a dead process's file);
* a **job lock** per job id, held while a run (with its retries) is under way,
  so a manual ``jobs run`` and a scheduled run, or a leader that lost its lock
  and one that just took it, never run the same job at the same time.

PostgreSQL locks are session-level, each on a connection of its own in
autocommit mode (no transaction left open for hours).  The leader's connection
can drop without the process noticing; :meth:`LeaderLock.held` asks the
server whether this session still holds the lock, and any error counts as
"no".  ``flock`` locks belong to an open file, so two locks in one process
exclude each other too (the tests rely on that).

What this does not do: fence a leader that hangs (a stalled process keeps its
lock); the job lock and the run guard in :mod:`scheduler.runner` keep such a
leader from running a fire time twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

# Advisory lock keys: (namespace, key) pairs of int4; "ngc" in ASCII.
LEADER_NAMESPACE = 0x6E6763
JOB_NAMESPACE = LEADER_NAMESPACE + 1
LEADER_KEY = 1


def worker_name() -> str:
    """``host:pid`` of this process, as recorded in job runs and logs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def job_key(job_id: str) -> int:
    """A stable, non-negative int4 for ``job_id`` (pg_locks shows it as is)."""
    return zlib.crc32(job_id.encode()) & 0x7FFFFFFF


class LeaderLock(Protocol):
    def try_acquire(self) -> bool: ...
    def held(self) -> bool: ...
    def release(self) -> None: ...


def leader_lock(engine: Engine, lock_file: Path) -> LeaderLock:
    """The leader lock for this database: advisory on PostgreSQL, a file otherwise."""
    if engine.dialect.name == "postgresql":
        return PgAdvisoryLock(engine, LEADER_NAMESPACE, LEADER_KEY)
    return FileLock(lock_file)


@contextlib.contextmanager
def job_lock(engine: Engine, lock_file: Path, job_id: str) -> Iterator[bool]:
    """Try to take ``job_id``'s lock; yields whether it was taken, releases it after."""
    lock: LeaderLock
    if engine.dialect.name == "postgresql":
        lock = PgAdvisoryLock(engine, JOB_NAMESPACE, job_key(job_id))
    else:
        lock = FileLock(lock_file.with_name(f"{lock_file.name}.{job_id}"))
    got = lock.try_acquire()
    try:
        yield got
    finally:
        if got:
            lock.release()


class PgAdvisoryLock:
    """A session-level advisory lock on a dedicated connection."""

    def __init__(self, engine: Engine, namespace: int, key: int):
        self.engine = engine
        self.namespace = namespace
        self.key = key
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self._conn is not None:
            return self.held()
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:ns, :key)"),
                {"ns": self.namespace, "key": self.key},
            ).scalar_one()
        except Exception:
            _discard(conn)
            raise
        if got:
            self._conn = conn
        else:
            conn.close()
        return bool(got)

    def held(self) -> bool:
        """Whether the server says this session holds the lock (False if the connection broke)."""
        if self._conn is None:
            return False
        try:
            return bool(
                self._conn.execute(
                    text(
                        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
                        " AND pid = pg_backend_pid() AND granted AND objsubid = 2"
                        " AND classid::bigint = :ns AND objid::bigint = :key)"
                    ),
                    {"ns": self.namespace, "key": self.key},
                ).scalar_one()
            )
        except Exception as exc:  # a dropped connection, a server restart, ...
            log.warning("advisory lock connection failed: %s", type(exc).__name__)
            _discard(self._conn)
            self._conn = None
            return False

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(
                text("SELECT pg_advisory_unlock(:ns, :key)"),
                {"ns": self.namespace, "key": self.key},
            )
            conn.close()
        except Exception:
            _discard(conn)  # ending the session releases the lock too


def _discard(conn: Connection) -> None:
    """Close ``conn`` and keep it out of the pool: its session must end."""
    with contextlib.suppress(Exception):
        conn.invalidate()
    with contextlib.suppress(Exception):
        conn.close()


class FileLock:
    """An exclusive ``flock`` on a file; the file names its holder for people."""

    def __init__(self, path: Path):
        self.path = path
        self._file: IO[str] | None = None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(worker_name() + "\n")
        handle.flush()
        self._file = handle
        return True

    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
