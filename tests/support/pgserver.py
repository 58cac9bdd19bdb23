"""A PostgreSQL server for the test suite, wherever the suite runs.

Why this exists
---------------
The functional tests run every database test twice: on SQLite and on PostgreSQL.
SQLite needs nothing, but PostgreSQL needs a running server, and the machines the
suite runs on differ.  The project's own machines (developers' and CI's) usually
have a PostgreSQL answering on 127.0.0.1:5432 with trust auth for user
``postgres``; a plain Debian 12 machine has nothing at all, not even the server
binaries.  This module hides that difference so that the fixtures only ever see a
SQLAlchemy URL:

* :func:`server_url` picks the server: ``NGC_PILOT_TEST_PG_URL`` if set, else the
  one on 127.0.0.1:5432 if it answers (unless ``NGC_PILOT_TEST_PG_PRIVATE=1``),
  else a private, throw-away server started by :class:`PrivatePostgres` on a free
  loopback port.
* :func:`create_database` / :func:`drop_database` give a test session (or an
  xdist worker) a database of its own on that server.

How the private server is made
------------------------------
:class:`PrivatePostgres` uses Debian's server binaries
(``/usr/lib/postgresql/<version>/bin``, highest version; ``initdb`` on ``PATH`` is
accepted too).  When there are none and we are root it installs Debian's
``postgresql`` package with apt-get.  Installing that package normally creates
a system cluster "main" on port 5432 and starts it, which we do not want (it
would outlive the tests, start again at boot, and then be picked by
:func:`server_url` on the next run).  So for the duration of the install we put
two files in place, each only if it is not already there, and remove them
again afterwards:

* ``/etc/postgresql-common/createcluster.d/zz-ngc-pilot-tests.conf`` with
  ``create_main_cluster = false``: postgresql-common then creates no cluster at
  all, so nothing can listen on 5432 now or after a reboot;
* ``/usr/sbin/policy-rc.d`` exiting 101: invoke-rc.d / deb-systemd-invoke start
  no service during the install (belt and braces; with no cluster the
  ``postgresql`` service would have nothing to start anyway).

The server itself is made with ``initdb`` in a fresh temporary directory (trust
auth, superuser ``postgres``, UTF8, C locale, no fsync) and started with
``pg_ctl`` on a free port of 127.0.0.1 with durability switched off, since its
data is thrown away.  :meth:`PrivatePostgres.stop` stops it (``pg_ctl stop -m
fast``) and removes the directory; it is also registered with :mod:`atexit` as a
safety net.  A process killed outright (SIGKILL) cannot clean up: its server is
left running in ``$TMPDIR/ngc-pilot-pg-*``.

Root
----
``initdb`` and ``postgres`` refuse to run as root.  When we are root they are
run as the ``postgres`` system user (created by Debian's package) through
``runuser -u postgres --`` (or ``su postgres -s /bin/sh -c`` where runuser is
missing), and the temporary directory is handed to that user.  When we are not
root they run as the current user, and a missing server cannot be installed: set
``NGC_PILOT_TEST_PG_URL`` or install ``postgresql`` first.

Only the standard library is imported at module level; psycopg (version 3) is
imported by :func:`create_database` and :func:`drop_database` only, so the
module can be imported where just the SQLite tests run.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

__all__ = [
    "DEFAULT_URL",
    "ENV_PRIVATE",
    "ENV_URL",
    "PrivatePostgres",
    "answers",
    "create_database",
    "drop_database",
    "server_url",
]

ENV_URL = "NGC_PILOT_TEST_PG_URL"
"""Environment variable: use this SQLAlchemy URL (an admin database) as is."""

ENV_PRIVATE = "NGC_PILOT_TEST_PG_PRIVATE"
"""Environment variable: "1" skips the shared server and always starts a private one."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5432
DEFAULT_URL = f"postgresql+psycopg://postgres@{DEFAULT_HOST}:{DEFAULT_PORT}/postgres"

SERVER_OS_USER = "postgres"
"""The system user that runs initdb/postgres when we are root (Debian's package creates it)."""

_DEBIAN_LIB = Path("/usr/lib/postgresql")
_POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
_CREATECLUSTER_DROPIN = Path("/etc/postgresql-common/createcluster.d/zz-ngc-pilot-tests.conf")
_INSTALL_LOCK = Path("/tmp/ngc-pilot-pg-install.lock")

_POLICY_RC_D_TEXT = """#!/bin/sh
# Written by ngc-pilot's tests/support/pgserver.py while it installs PostgreSQL,
# so that the install starts no service; removed again right after.
exit 101
"""
_CREATECLUSTER_DROPIN_TEXT = """\
# Written by ngc-pilot's tests/support/pgserver.py while it installs PostgreSQL,
# so that the install creates no system cluster on port 5432; removed right after.
create_main_cluster = false
"""

_DB_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


# --------------------------------------------------------------------------- probing


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if something accepts a TCP connection on ``host:port`` within ``timeout`` s."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _free_port(host: str) -> int:
    """A port on ``host`` that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------- binaries


def _version_key(bindir: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); 9.6 -> (9, 6)
    return tuple(int(n) for n in re.findall(r"\d+", bindir.parent.name))


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_binaries() -> tuple[Path, Path] | None:
    """``(initdb, pg_ctl)``: Debian's highest version, else the ones on PATH, else None."""
    debian = [
        d
        for d in _DEBIAN_LIB.glob("*/bin")
        if _executable(d / "initdb") and _executable(d / "pg_ctl")
    ]
    if debian:
        bindir = max(debian, key=_version_key)
        return bindir / "initdb", bindir / "pg_ctl"
    initdb = shutil.which("initdb")
    if initdb is None:
        return None
    # Prefer the pg_ctl beside the real initdb (PATH may hold symlinks or wrappers).
    real = Path(initdb).resolve()
    if _executable(real.parent / "pg_ctl"):
        return real, real.parent / "pg_ctl"
    pg_ctl = shutil.which("pg_ctl")
    return (Path(initdb), Path(pg_ctl)) if pg_ctl else None


def install_postgresql() -> None:
    """Install Debian's ``postgresql`` package without creating or starting a system cluster.

    Needs root and apt-get.  Serialised with a file lock so that parallel test
    workers do not fight over apt's locks; does nothing if another worker
    installed the binaries meanwhile.
    """
    if os.geteuid() != 0:
        raise RuntimeError(
            "PostgreSQL server binaries (initdb, pg_ctl) not found and we are not root, "
            "so they cannot be installed: install Debian's 'postgresql' package, or set "
            f"{ENV_URL} to a server to use."
        )
    if shutil.which("apt-get") is None:
        raise RuntimeError(
            "PostgreSQL server binaries (initdb, pg_ctl) not found and there is no apt-get "
            f"to install them with: install PostgreSQL, or set {ENV_URL}."
        )
    with open(_INSTALL_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if find_binaries() is not None:
                return
            _apt_install_postgresql()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _apt_install_postgresql() -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    created: list[Path] = []
    try:
        for path, text in (
            (_CREATECLUSTER_DROPIN, _CREATECLUSTER_DROPIN_TEXT),
            (_POLICY_RC_D, _POLICY_RC_D_TEXT),
        ):
            if path.exists() or path.is_symlink():
                continue  # someone else's: leave it exactly as it is
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            path.chmod(0o755 if path == _POLICY_RC_D else 0o644)
            created.append(path)
        _run(["apt-get", "update"], env=env, timeout=1800)
        _run(
            ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
            env=env,
            timeout=1800,
        )
    finally:
        for path in reversed(created):
            path.unlink(missing_ok=True)


# ---------------------------------------------------------------------- subprocesses


def _run(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; raise RuntimeError with its output if it fails."""
    try:
        proc = subprocess.run(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"timed out after {timeout}s: {shlex.join(argv)}") from exc
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip()[-4000:]
        raise RuntimeError(f"exit {proc.returncode}: {shlex.join(argv)}\n{out}")
    return proc


def _as_user(argv: list[str], user: str | None) -> list[str]:
    """``argv`` run as ``user`` (None: as ourselves)."""
    if user is None:
        return argv
    runuser = shutil.which("runuser") or next(
        (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.access(p, os.X_OK)), None
    )
    if runuser:
        return [runuser, "-u", user, "--", *argv]
    return ["su", user, "-s", "/bin/sh", "-c", shlex.join(argv)]


# ------------------------------------------------------------------- private server


class PrivatePostgres:
    """A throw-away PostgreSQL server on a free port of 127.0.0.1.

    Use ``with PrivatePostgres() as pg: ...`` or ``pg = PrivatePostgres().start()``
    ... ``pg.stop()``.  After :meth:`start`:

    * ``url``: ``postgresql+psycopg://postgres@127.0.0.1:PORT/postgres`` (trust auth);
    * ``port``, ``pid`` (the postmaster's), ``base_dir`` (holds ``data/``,
      ``sock/`` and the server log ``server-PORT.log``), ``log_path``,
      ``os_user`` (who runs the server: "postgres" when we are root, else None
      for ourselves) and ``start_seconds`` (wall time :meth:`start` took,
      including any apt-get install).
    """

    def __init__(
        self, *, host: str = DEFAULT_HOST, install: bool = True, timeout: float = 60
    ) -> None:
        self.host = host
        self.install = install
        self.timeout = timeout
        self.url: str | None = None
        self.port: int | None = None
        self.pid: int | None = None
        self.base_dir: Path | None = None
        self.log_path: Path | None = None
        self.os_user: str | None = None
        self.start_seconds: float | None = None
        self._pg_ctl: Path | None = None

    # -- context manager

    def __enter__(self) -> PrivatePostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"url={self.url!r} pid={self.pid}" if self.url else "stopped"
        return f"<PrivatePostgres {state}>"

    @property
    def data_dir(self) -> Path | None:
        return self.base_dir / "data" if self.base_dir else None

    # -- lifecycle

    def start(self) -> PrivatePostgres:
        """Install if needed, initdb, start; returns self.  A no-op if already started."""
        if self.url is not None:
            return self
        t0 = time.monotonic()
        binaries = find_binaries()
        if binaries is None:
            if not self.install:
                raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
            install_postgresql()
            binaries = find_binaries()
            if binaries is None:
                raise RuntimeError("installed 'postgresql' but still found no initdb/pg_ctl")
        initdb, self._pg_ctl = binaries
        self.os_user = SERVER_OS_USER if os.geteuid() == 0 else None
        atexit.register(self.stop)
        try:
            self.base_dir = self._make_base_dir()
            _run(
                self._cmd(
                    str(initdb),
                    "-D", str(self.data_dir),
                    "--auth=trust",
                    "-U", "postgres",
                    "-E", "UTF8",
                    "--locale=C",
                    "--no-sync",
                ),
                env=self._env(),
                cwd=self.base_dir,
                timeout=self.timeout * 2,
            )  # fmt: skip
            self._start_server()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``) and remove its directory.  Idempotent."""
        atexit.unregister(self.stop)
        base, data = self.base_dir, self.data_dir
        if data is not None and self._pg_ctl is not None and (data / "postmaster.pid").exists():
            for mode in ("fast", "immediate"):
                try:
                    _run(
                        self._cmd(
                            str(self._pg_ctl), "-D", str(data), "-m", mode,
                            "-w", "-t", str(int(self.timeout)), "stop",
                        ),
                        env=self._env(),
                        cwd=base,
                        timeout=self.timeout + 30,
                    )  # fmt: skip
                    break
                except RuntimeError:
                    continue
            else:
                self._kill_postmaster()
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)
        self.url = self.port = self.pid = self.base_dir = self.log_path = None

    # -- helpers

    def _cmd(self, *argv: str) -> list[str]:
        return _as_user(list(argv), self.os_user)

    @staticmethod
    def _env() -> dict[str, str]:
        # C messages and locale whatever the caller's LANG (which may name a locale
        # that is not generated on this machine).
        return dict(os.environ, LC_ALL="C", LANG="C")

    def _make_base_dir(self) -> Path:
        base = Path(tempfile.mkdtemp(prefix="ngc-pilot-pg-"))
        if self.os_user is None:
            return base
        try:
            pw = pwd.getpwnam(self.os_user)
        except KeyError:
            shutil.rmtree(base, ignore_errors=True)
            raise RuntimeError(
                f"running as root, but there is no {self.os_user!r} system user to run "
                "the server as (Debian's postgresql package creates it)"
            ) from None
        for attempt in (base, None):
            if attempt is None:  # $TMPDIR is not reachable for that user: use /tmp
                shutil.rmtree(base, ignore_errors=True)
                base = Path(tempfile.mkdtemp(prefix="ngc-pilot-pg-", dir="/tmp"))
            os.chown(base, pw.pw_uid, pw.pw_gid)
            check = subprocess.run(
                self._cmd("test", "-w", str(base), "-a", "-x", str(base)),
                cwd="/",
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
            if check.returncode == 0:
                return base
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"user {self.os_user!r} cannot write to a directory under /tmp")

    def _start_server(self) -> None:
        assert self.base_dir is not None and self._pg_ctl is not None
        sock = self.base_dir / "sock"
        sock.mkdir()
        if self.os_user is not None:
            pw = pwd.getpwnam(self.os_user)
            os.chown(sock, pw.pw_uid, pw.pw_gid)
        last_error: Exception | None = None
        for _ in range(5):
            port = _free_port(self.host)
            log = self.base_dir / f"server-{port}.log"
            opts = (
                f"-c listen_addresses={self.host} -p {port} -k {shlex.quote(str(sock))}"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                _run(
                    self._cmd(
                        str(self._pg_ctl), "-D", str(self.data_dir), "-o", opts,
                        "-l", str(log), "-w", "-t", str(int(self.timeout)), "start",
                    ),
                    env=self._env(),
                    cwd=self.base_dir,
                    timeout=self.timeout + 30,
                )  # fmt: skip
            except RuntimeError as exc:
                text = log.read_text(errors="replace") if log.exists() else ""
                last_error = RuntimeError(f"{exc}\n--- {log} ---\n{text[-4000:]}")
                if "already in use" in text:  # lost a race for the port: try another
                    continue
                raise last_error from exc
            self.port, self.log_path = port, log
            self.pid = self._read_pid()
            self.url = f"postgresql+psycopg://postgres@{self.host}:{port}/postgres"
            return
        assert last_error is not None
        raise last_error

    def _read_pid(self) -> int | None:
        assert self.data_dir is not None
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def _kill_postmaster(self) -> None:
        """Last resort when pg_ctl cannot stop the server: signal the postmaster."""
        pid = self.pid or (self._read_pid() if self.data_dir else None)
        if pid is None:
            return
        # Only if that PID is still our postmaster (it runs with its data dir as cwd),
        # never a stranger that reused a stale PID.
        try:
            if Path(os.readlink(f"/proc/{pid}/cwd")) != self.data_dir:
                return
        except OSError:
            return
        for sig, wait in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                except PermissionError:
                    break
                time.sleep(0.1)


# --------------------------------------------------------------------- entry points


def server_url() -> tuple[str, PrivatePostgres | None]:
    """The SQLAlchemy URL of an admin database to test against, and the private server.

    1. ``NGC_PILOT_TEST_PG_URL`` if set (returned as is);
    2. else, unless ``NGC_PILOT_TEST_PG_PRIVATE=1``, the server on 127.0.0.1:5432 if
       it answers (``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``);
    3. else a started :class:`PrivatePostgres`; the caller should ``stop()`` it
       (atexit does, if the caller does not).

    The second item is None unless a private server was started.
    """
    url = os.environ.get(ENV_URL)
    if url:
        return url, None
    if os.environ.get(ENV_PRIVATE) != "1" and answers(DEFAULT_HOST, DEFAULT_PORT):
        return DEFAULT_URL, None
    pg = PrivatePostgres().start()
    assert pg.url is not None
    return pg.url, pg


def _conninfo(url: str) -> str:
    """libpq conninfo for a SQLAlchemy-style URL ``postgresql[+driver]://user:pw@host:port/db?k=v``."""
    from psycopg.conninfo import make_conninfo

    parts = urlsplit(url)
    if parts.scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    params: dict[str, Any] = {"connect_timeout": "10"}
    if parts.hostname:
        params["host"] = unquote(parts.hostname)
    if parts.port is not None:
        params["port"] = str(parts.port)
    if parts.username:
        params["user"] = unquote(parts.username)
    if parts.password is not None:
        params["password"] = unquote(parts.password)
    dbname = unquote(parts.path.lstrip("/"))
    if dbname:
        params["dbname"] = dbname
    params.update(parse_qsl(parts.query))  # e.g. ?sslmode=disable or ?host=/run/postgresql
    return make_conninfo("", **params)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(name, safe="")))


def _check_name(name: str) -> None:
    if not _DB_NAME_RE.fullmatch(name):
        raise ValueError(f"database name must match {_DB_NAME_RE.pattern}: {name!r}")


def create_database(admin_url: str, name: str, template: str | None = None) -> str:
    """Create database ``name`` on the server of ``admin_url``; return its SQLAlchemy URL.

    The database is made from ``template0`` with UTF8 encoding and the C collation,
    whatever the server's defaults: that sorts text by code point like SQLite does,
    and the same on the shared and the private server.  Fails if it already exists.
    With ``template`` (a database made here, no session on it) it is a copy of that.
    """
    _check_name(name)
    import psycopg
    from psycopg import sql

    query = "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
    names = [sql.Identifier(name)]
    if template is not None:
        _check_name(template)
        query, names = "CREATE DATABASE {} TEMPLATE {}", [*names, sql.Identifier(template)]
    with psycopg.connect(_conninfo(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL(query).format(*names))
    return _with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting its sessions (``WITH (FORCE)``)."""
    _check_name(name)
    import psycopg
    from psycopg import sql

    with psycopg.connect(_conninfo(admin_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
