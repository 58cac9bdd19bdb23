"""MariaDB and RabbitMQ for devcloud: the machine's own if they answer, else private ones.

The machine's servers outlive any checkout, so everything devcloud puts there is
named after the checkout (``dc_<suffix>_*`` databases, user ``dc_<suffix>``,
vhost ``devcloud-<suffix>``) and recreated when ``.devcloud/`` is fresh.

A private server is installed from Debian's packages when missing (with
``policy-rc.d`` keeping Debian's own service from starting) and run as
devcloud's own daemon on a free loopback port with its data in
``.devcloud/``; ``down`` stops it again. ``DEVCLOUD_PRIVATE_BACKENDS=1``
forces private servers even when the machine has its own.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from .console import Console, DevcloudError
from .layout import Layout
from .processes import Processes
from .state import State

SYSTEM_MARIADB_PORT = 3306
SYSTEM_RABBITMQ_PORT = 5672
SYSTEM_SOCKETS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock", "/tmp/mysql.sock")
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def port_answers(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def apt_install(console: Console, packages: list[str]) -> None:
    """Install Debian packages without letting their services start."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise DevcloudError(f"need {' '.join(packages)}: install them (apt-get) or run as root")
    console.say(f"installing {' '.join(packages)} with apt-get (services kept from starting)")
    created = False
    if not POLICY_RC_D.exists():
        POLICY_RC_D.write_text(
            "#!/bin/sh\n# written by devcloud for the duration of an install\nexit 101\n"
        )
        POLICY_RC_D.chmod(0o755)
        created = True
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    try:
        if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise DevcloudError(
                    f"apt-get install {' '.join(packages)} failed:\n{done.stderr[-2000:]}"
                )
    finally:
        if created:
            POLICY_RC_D.unlink(missing_ok=True)


class Backends:
    def __init__(self, layout: Layout, state: State, procs: Processes, console: Console) -> None:
        self.layout = layout
        self.state = state
        self.procs = procs
        self.console = console
        self.force_private = os.environ.get("DEVCLOUD_PRIVATE_BACKENDS") == "1"

    # -- helpers ---------------------------------------------------------------------------

    def venv_tool(self, module: str, action: str, request: dict) -> dict:
        done = subprocess.run(
            [str(self.layout.bin / "python"), "-m", module, action],
            input=json.dumps(request),
            capture_output=True,
            text=True,
        )
        lines = done.stdout.strip().splitlines()
        try:
            result = json.loads(lines[-1]) if lines else {}
        except json.JSONDecodeError:
            result = {}
        if done.returncode != 0 or not result.get("ok"):
            detail = (done.stdout + done.stderr)[-2500:]
            raise DevcloudError(f"{module} {action} failed:\n{detail}")
        return result

    def _private_socket(self) -> str:
        path = self.layout.run / "mysqld.sock"
        if len(str(path)) < 100:
            return str(path)
        return f"/tmp/devcloud-{self.state.suffix}-mysqld.sock"

    def mariadb_admin(self) -> list[dict]:
        db = self.state.backends["mariadb"]
        if db["mode"] == "private":
            return [{"socket": db["socket"], "user": "root", "password": ""}]
        return [db["admin"]]

    # -- MariaDB ---------------------------------------------------------------------------

    def ensure_mariadb(self) -> None:
        db = self.state.backends.get("mariadb")
        if db is None:
            db = self._choose_mariadb()
            self.state.backends["mariadb"] = db
            self.state.save()
        if db["mode"] == "private":
            self._run_private_mariadb(db)
        elif not port_answers(db["port"]):
            raise DevcloudError(f"the machine's MariaDB on 127.0.0.1:{db['port']} does not answer")

    def _choose_mariadb(self) -> dict:
        if not self.force_private and port_answers(SYSTEM_MARIADB_PORT):
            candidates = [
                {"host": "127.0.0.1", "port": SYSTEM_MARIADB_PORT, "user": "root", "password": ""}
            ]
            candidates += [
                {"socket": s, "user": "root", "password": ""}
                for s in SYSTEM_SOCKETS
                if Path(s).exists()
            ]
            try:
                probe = self.venv_tool("devcloud_shims.dbadmin", "probe", {"admin": candidates})
            except DevcloudError as e:
                self.console.warn(
                    f"MariaDB on 127.0.0.1:3306 refuses root: {e}; starting a private one"
                )
            else:
                self.console.say(
                    f"using the machine's MariaDB {probe['version']} on 127.0.0.1:3306"
                )
                return {"mode": "system", "port": SYSTEM_MARIADB_PORT, "admin": probe["admin"]}
        return {
            "mode": "private",
            "port": self.state.ports["mariadb"],
            "socket": self._private_socket(),
        }

    def _mariadb_binaries(self) -> tuple[str, str]:
        def find() -> tuple[str | None, str | None]:
            server = shutil.which("mariadbd") or shutil.which(
                "mariadbd", path="/usr/sbin:/usr/libexec"
            )
            init = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
            return server, init

        server, init = find()
        if not server or not init:
            apt_install(self.console, ["mariadb-server"])
            server, init = find()
        if not server or not init:
            raise DevcloudError(
                "mariadb-server is installed but mariadbd/mariadb-install-db were not found"
            )
        return server, init

    def _run_private_mariadb(self, db: dict) -> None:
        if self.procs.running("mariadb"):
            return
        server, init = self._mariadb_binaries()
        datadir = self.layout.data / "mariadb"
        user = ["--user=root"] if os.geteuid() == 0 else []
        if not (datadir / "mysql").exists():
            self.console.say("initialising a private MariaDB data directory")
            datadir.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                [
                    init,
                    "--no-defaults",
                    f"--datadir={datadir}",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    *user,
                ],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise DevcloudError(
                    f"mariadb-install-db failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}"
                )
        self.console.say(f"starting a private MariaDB on 127.0.0.1:{db['port']}")
        argv = [
            server,
            "--no-defaults",
            f"--datadir={datadir}",
            f"--socket={db['socket']}",
            f"--port={db['port']}",
            "--bind-address=127.0.0.1",
            "--skip-log-bin",
            "--max-connections=500",
            "--innodb-buffer-pool-size=256M",
            "--character-set-server=utf8mb3",
            *user,
        ]
        self.procs.start("mariadb", argv, dict(os.environ), cwd=self.layout.home)
        self._wait_port("mariadb", db["port"], 60)

    # -- RabbitMQ --------------------------------------------------------------------------

    def ensure_rabbitmq(self) -> None:
        mq = self.state.backends.get("rabbitmq")
        if mq is None:
            mq = self._choose_rabbitmq()
            self.state.backends["rabbitmq"] = mq
            self.state.save()
        if mq["mode"] == "private":
            self._run_private_rabbitmq(mq)
        elif not port_answers(mq["port"]):
            raise DevcloudError(f"the machine's RabbitMQ on 127.0.0.1:{mq['port']} does not answer")

    def _amqp_login(self, port: int, vhost: str = "/") -> bool:
        code = (
            "import amqp,sys\n"
            f"c=amqp.Connection(host='127.0.0.1:{port}',userid='guest',password='guest',"
            f"virtual_host={vhost!r},connect_timeout=3)\n"
            "c.connect();c.close()\n"
        )
        done = subprocess.run([str(self.layout.bin / "python"), "-c", code], capture_output=True)
        return done.returncode == 0

    def _choose_rabbitmq(self) -> dict:
        if not self.force_private and port_answers(SYSTEM_RABBITMQ_PORT):
            if self._amqp_login(SYSTEM_RABBITMQ_PORT):
                self.console.say("using the machine's RabbitMQ on 127.0.0.1:5672")
                return {"mode": "system", "port": SYSTEM_RABBITMQ_PORT, "vhost": ""}
            self.console.warn(
                "RabbitMQ on 127.0.0.1:5672 refuses guest/guest; starting a private one"
            )
        return {"mode": "private", "port": self.state.ports["rabbitmq"], "vhost": ""}

    def _rabbitmqctl(self, *args: str) -> subprocess.CompletedProcess:
        ctl = shutil.which("rabbitmqctl") or shutil.which("rabbitmqctl", path="/usr/sbin")
        if not ctl:
            raise FileNotFoundError("rabbitmqctl")
        return subprocess.run([ctl, *args], capture_output=True, text=True, timeout=60)

    def ensure_vhost(self, recreate: bool) -> None:
        """On the machine's broker, give this checkout a vhost of its own (fresh on a fresh state)."""
        mq = self.state.backends["rabbitmq"]
        if mq["mode"] != "system":
            return
        vhost = self.state.vhost
        if mq.get("vhost") == vhost and not recreate:
            return
        try:
            if recreate:
                self._rabbitmqctl("delete_vhost", vhost)
            added = self._rabbitmqctl("add_vhost", vhost)
            if added.returncode != 0 and "already" not in (added.stdout + added.stderr):
                raise RuntimeError(added.stderr.strip())
            perms = self._rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
            if perms.returncode != 0:
                raise RuntimeError(perms.stderr.strip())
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
            self.console.warn(f"cannot create RabbitMQ vhost {vhost} ({e}); sharing vhost '/'")
            mq["vhost"] = ""
        else:
            mq["vhost"] = vhost
            self.console.say(f"RabbitMQ vhost {vhost} ready")
        self.state.save()

    def drop_vhost(self) -> None:
        mq = self.state.backends.get("rabbitmq") or {}
        if mq.get("mode") == "system" and mq.get("vhost"):
            try:
                self._rabbitmqctl("delete_vhost", mq["vhost"])
            except (OSError, subprocess.TimeoutExpired) as e:
                self.console.warn(f"could not delete vhost {mq['vhost']}: {e}")

    def _rabbitmq_server(self) -> str:
        def find() -> str | None:
            for candidate in ("/usr/lib/rabbitmq/bin/rabbitmq-server",):
                if Path(candidate).exists():
                    return candidate
            return shutil.which("rabbitmq-server")

        server = find()
        if not server:
            apt_install(self.console, ["rabbitmq-server"])
            server = find()
        if not server:
            raise DevcloudError("rabbitmq-server is installed but its start script was not found")
        return server

    def _run_private_rabbitmq(self, mq: dict) -> None:
        if self.procs.running("rabbitmq"):
            return
        server = self._rabbitmq_server()
        base = self.layout.data / "rabbitmq"
        (base / "home").mkdir(parents=True, exist_ok=True)
        conf = base / "rabbitmq.conf"
        conf.write_text(
            f"listeners.tcp.1 = 127.0.0.1:{mq['port']}\n"
            "loopback_users.guest = true\n"
            "log.console = true\n"
            "log.file = false\n"
        )
        (base / "enabled_plugins").write_text("[].\n")
        env = dict(os.environ)
        env.update(
            HOME=str(base / "home"),
            RABBITMQ_NODENAME=f"devcloud-{self.state.suffix}@localhost",
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(mq["port"]),
            RABBITMQ_DIST_PORT=str(self.state.ports["rabbitmq_dist"]),
            RABBITMQ_CONFIG_FILE=str(conf.with_suffix("")),
            RABBITMQ_CONF_ENV_FILE=str(base / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
            RABBITMQ_LOG_BASE=str(base / "log"),
            RABBITMQ_PID_FILE=str(base / "rabbitmq.pid"),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        (base / "rabbitmq-env.conf").write_text("# devcloud: no settings from /etc here\n")
        self.console.say(f"starting a private RabbitMQ on 127.0.0.1:{mq['port']}")
        self.procs.start("rabbitmq", [server], env, cwd=base)
        self._wait_port("rabbitmq", mq["port"], 90)
        deadline = time.monotonic() + 30
        while not self._amqp_login(mq["port"]):
            if time.monotonic() > deadline:
                raise DevcloudError(
                    f"private RabbitMQ refuses guest/guest; see {self.procs.log_file('rabbitmq')}"
                )
            time.sleep(1)

    # -- shared ----------------------------------------------------------------------------

    def _wait_port(self, name: str, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not port_answers(port):
            if not self.procs.running(name):
                raise DevcloudError(f"{name} exited:\n{self.procs.tail(name)}")
            if time.monotonic() > deadline:
                raise DevcloudError(f"{name} did not listen on {port} within {timeout:.0f}s")
            time.sleep(0.3)

    def stop_private(self) -> list[str]:
        stopped = []
        for name in ("rabbitmq", "mariadb"):
            if self.procs.stop(name, timeout=30):
                stopped.append(name)
        return stopped
