"""``devcloud up | down | status | reset``: the verbs, in the order things must happen."""

from __future__ import annotations

import fcntl
import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from . import configs, install, kube
from .api import AdminSession, http_status, service_states
from .backends import Backends, port_answers
from .console import Console, DevcloudError
from .layout import Layout
from .processes import Processes
from .services import BY_NAME, SERVICES, Service, argv, environment
from .state import State

USAGE = """usage: devcloud/devcloud up | down | status | reset

  up      bring devcloud up (installs and initialises on first use; a no-op when already up),
          with the Kubernetes API emulator and .devcloud/kubeconfig
  down    stop every process devcloud started
  status  show each service, its pid and whether it answers; exit 0 only if all are up
  reset   down, drop this checkout's databases and vhost, remove .devcloud/ except the venv
"""

API_TIMEOUT = 120.0  # seconds for one API to answer after start (cold imports on 2 cores)
HEARTBEAT_TIMEOUT = 120.0
# Schema migrations at once: they wait on MariaDB's DDL about as much as on the 2 CPUs.
SCHEMA_WORKERS = 3
FIRST_WAVE = ("keystone", "placement")
# Started with the first wave when it can, so nova-compute (which waits for it) starts sooner.
EARLY_CONDUCTOR = ("nova-conductor",)
COMPUTE = "nova-compute"


def _api_url(state: State, service: Service) -> str:
    return f"http://127.0.0.1:{state.ports[service.api_port_key]}{service.probe_path}"


def _api_answers(state: State, service: Service) -> bool:
    code = http_status(_api_url(state, service))
    return code is not None and code < 500


class Devcloud:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.console = Console()
        self.procs = Processes(layout.run, layout.log)
        self.secrets: list[str] = []  # masked wherever a command line is logged

    # -- plumbing --------------------------------------------------------------------------

    @contextmanager
    def locked(self):
        # 0700: configs, logs and clouds.yaml hold this checkout's passwords
        self.layout.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.layout.lock_file, "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.console.say("another devcloud command is running here; waiting for it")
                fcntl.flock(f, fcntl.LOCK_EX)
            yield

    def base_env(self) -> dict[str, str]:
        env = {
            "PATH": f"{self.layout.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "DEVCLOUD_HOME": str(self.layout.home),
        }
        if "TZ" in os.environ:
            env["TZ"] = os.environ["TZ"]
        return env

    def run_tool(
        self, cmd: list[str], log_name: str, what: str, env: dict[str, str] | None = None
    ) -> None:
        log_path = self.layout.log / log_name
        shown = " ".join(cmd)
        for secret in self.secrets:
            shown = shown.replace(secret, "***")
        with open(log_path, "ab") as log:
            log.write(f"\n==== {time.strftime('%H:%M:%S')} {shown}\n".encode())
            log.flush()
            done = subprocess.run(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**self.base_env(), **(env or {})},
                cwd=self.layout.home,
            )
        if done.returncode != 0:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
            raise DevcloudError(f"{what} failed (exit {done.returncode}); {log_path}:\n{tail}")

    def venv_json(self, module: str, action: str, request: dict) -> dict:
        done = subprocess.run(
            [str(self.layout.bin / "python"), "-m", module, action],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            env=self.base_env(),
            cwd=self.layout.home,
        )
        with open(self.layout.log / f"{module.split('.')[-1]}.log", "a") as log:
            log.write(
                f"\n==== {time.strftime('%H:%M:%S')} {module} {action}\n{done.stdout}{done.stderr}"
            )
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            raise DevcloudError(f"{module} {action} failed:\n{(done.stdout + done.stderr)[-2500:]}")
        return json.loads(lines[-1])

    # -- health ----------------------------------------------------------------------------

    def backends_answer(self, state: State) -> bool:
        for name in ("mariadb", "rabbitmq"):
            b = state.backends.get(name)
            if b is None or not port_answers(b["port"]):
                return False
            if b["mode"] == "private" and not self.procs.running(name):
                return False
        return True

    def all_up_quick(self, state: State) -> bool:
        """Every daemon is the one we started and every API answers (no token needed)."""
        if not all(
            state.done(p) for p in ("databases", "schemas", "identity", "hosts", "resources")
        ):
            return False
        if not self.layout.clouds_yaml.exists() or not install.installed(self.layout):
            return False
        if state.data.get("config_fingerprint") != configs.fingerprint(self.layout):
            return False
        if not self.backends_answer(state):
            return False
        for svc in SERVICES:
            if not self.procs.running(svc.name):
                return False
            if svc.is_api and not _api_answers(state, svc):
                return False
        return True

    # -- up --------------------------------------------------------------------------------

    def up(self) -> int:
        with self.locked():
            state = State.load(self.layout)
            self.secrets = list(state.data["secrets"].values())
            if not state.fresh and self.all_up_quick(state):
                # OpenStack is up: the emulator is independent of it, so only it may need work
                if not kube.up_quick(self.layout, state, self.procs):
                    self.ensure_kube_emulator(state)
                self.console.say(
                    f"already up (clouds.yaml: {self.layout.clouds_yaml}, "
                    f"kubeconfig: {kube.kubeconfig_path(self.layout)})"
                )
                return 0
            self.console.say(f"bringing devcloud up for {self.layout.repo}")
            for sub in (self.layout.log, self.layout.run, self.layout.etc, self.layout.data):
                sub.mkdir(parents=True, exist_ok=True)
            reinstalled = install.ensure_venv(self.layout, self.console)
            state.save()
            backends = Backends(self.layout, state, self.procs, self.console)
            backends.ensure_mariadb()
            backends.ensure_rabbitmq()
            self.ensure_databases(state, backends)
            changed = configs.render_all(state)
            self.restart_stale(changed, everything=reinstalled)
            with ThreadPoolExecutor(max_workers=SCHEMA_WORKERS) as pool:
                schemas = {} if state.done("schemas") else self.submit_schemas(state, pool)
                creating_schemas = bool(schemas)
                # Keystone and Placement start as soon as their own schemas exist, while
                # Nova's and Neutron's longer migrations still run.
                self.await_schemas(schemas, FIRST_WAVE)
                # The conductor needs no API but does log in as nova: early only once nova exists.
                first = FIRST_WAVE + (EARLY_CONDUCTOR if state.done("identity") else ())
                self.start_services(state, first)
                self.wait_apis(state, first)
                if not state.done("identity"):
                    self.console.say("seeding Keystone: service users, roles, catalog")
                    self.venv_json("devcloud_shims.seed", "identity", self.seed_request(state))
                    state.mark("identity")
                if creating_schemas:
                    self.await_schemas(schemas, list(schemas))
                    state.mark("schemas")
            rest = [s.name for s in SERVICES if s.name not in first and s.name != COMPUTE]
            self.start_services(state, rest)
            self.wait_apis(state, rest)
            session = AdminSession(state.keystone_url(), state.secret("admin"))
            self.wait_heartbeats(state, session, ["nova-conductor"])
            self.start_services(state, [COMPUTE])
            self.wait_heartbeats(
                state, session, ["nova-scheduler", "cinder-scheduler", "cinder-volume", COMPUTE]
            )
            if not state.done("hosts"):
                self.console.say("mapping the compute host into cell1")
                nova_conf = str(self.layout.etc / "nova/nova.conf")
                self.run_tool(
                    [
                        str(self.layout.bin / "nova-manage"),
                        "--config-file",
                        nova_conf,
                        "cell_v2",
                        "discover_hosts",
                        "--verbose",
                    ],
                    "setup-nova.log",
                    "discover_hosts",
                )
                state.mark("hosts")
            self.wait_compute_inventory(state, session)
            if not state.done("resources"):
                self.console.say("seeding flavors, the public image and the external network")
                self.venv_json("devcloud_shims.seed", "resources", self.seed_request(state))
                state.mark("resources")
            kube.ensure_settings(state)  # its port belongs in the ports file too
            self.write_client_files(state)
            state.data["config_fingerprint"] = configs.fingerprint(self.layout)
            state.save()
            self.ensure_kube_emulator(state)
            self.console.say(
                f"devcloud is up: export OS_CLIENT_CONFIG_FILE={self.layout.clouds_yaml} "
                "OS_CLOUD=devcloud"
            )
            return 0

    def ensure_kube_emulator(self, state: State) -> None:
        kube.ensure(self.layout, state, self.procs, self.console, self.base_env())
        self.console.say(
            f"{kube.TITLE}: export KUBECONFIG={kube.kubeconfig_path(self.layout)} "
            "(an emulator for tests and the demo, not a cluster)"
        )

    def restart_stale(self, changed_projects: set[str], everything: bool) -> None:
        """Stop running daemons whose config (or code) changed; the start steps bring them back."""
        stale = [
            s.name
            for s in SERVICES
            if (everything or s.project in changed_projects) and self.procs.running(s.name)
        ]
        if stale:
            why = "code" if everything else "config"
            self.console.say(f"restarting {', '.join(stale)}: their {why} changed")
            self.procs.stop_many(stale)

    def seed_request(self, state: State) -> dict:
        return {
            "auth_url": state.keystone_url(),
            "admin_password": state.secret("admin"),
            "service_password": state.secret("service"),
            "ports": state.ports,
            "region": "RegionOne",
        }

    def ensure_databases(self, state: State, backends: Backends) -> None:
        names = configs.database_names(state)
        admin = backends.mariadb_admin()
        # Schemas not yet complete means a half-done first run: start those databases over.
        if state.done("databases") and state.done("schemas"):
            missing = self.venv_json(
                "devcloud_shims.dbadmin", "exists", {"admin": admin, "databases": names}
            )["missing"]
            if not missing:
                return
            self.console.warn(f"databases {', '.join(missing)} are gone: initialising from scratch")
            self.procs.stop_many([s.name for s in SERVICES])
            state.forget_phases()
        self.console.say(
            f"creating databases dc_{state.suffix}_* (dropping any left by an earlier checkout)"
        )
        self.venv_json(
            "devcloud_shims.dbadmin",
            "ensure",
            {
                "admin": admin,
                "databases": names,
                "recreate": True,
                "user": state.db_user,
                "password": state.secret("database"),
                "grant_prefix": f"dc_{state.suffix}_",
            },
        )
        backends.ensure_vhost(recreate=True)
        state.mark("databases")

    def submit_schemas(self, state: State, pool: ThreadPoolExecutor) -> dict:
        """Start creating every service's schema; independent services migrate in parallel."""
        b, etc = self.layout.bin, self.layout.etc
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
        keystone = str(etc / "keystone/keystone.conf")
        nova = str(etc / "nova/nova.conf")
        cell0 = configs.values(state)["db_url"] + "/" + state.db_name("nova_cell0")
        ks_url = f"http://127.0.0.1:{state.ports['keystone']}/v3"
        for sub in ("fernet-keys", "credential-keys"):
            (etc / "keystone" / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
            (etc / "keystone" / sub).chmod(0o700)
        chains = {
            "keystone": [
                [f"{b}/keystone-manage", "--config-file", keystone, "db_sync"],
                [
                    f"{b}/keystone-manage",
                    "--config-file",
                    keystone,
                    "fernet_setup",
                    "--keystone-user",
                    user,
                    "--keystone-group",
                    group,
                ],
                [
                    f"{b}/keystone-manage",
                    "--config-file",
                    keystone,
                    "credential_setup",
                    "--keystone-user",
                    user,
                    "--keystone-group",
                    group,
                ],
                [
                    f"{b}/keystone-manage",
                    "--config-file",
                    keystone,
                    "bootstrap",
                    "--bootstrap-username",
                    "admin",
                    "--bootstrap-project-name",
                    "admin",
                    "--bootstrap-role-name",
                    "admin",
                    "--bootstrap-service-name",
                    "keystone",
                    "--bootstrap-region-id",
                    "RegionOne",
                    "--bootstrap-admin-url",
                    ks_url,
                    "--bootstrap-public-url",
                    ks_url,
                    "--bootstrap-internal-url",
                    ks_url,
                ],
            ],
            "nova": [
                [f"{b}/nova-manage", "--config-file", nova, "api_db", "sync"],
                [
                    f"{b}/nova-manage",
                    "--config-file",
                    nova,
                    "cell_v2",
                    "map_cell0",
                    "--database_connection",
                    cell0,
                ],
                [
                    f"{b}/nova-manage",
                    "--config-file",
                    nova,
                    "cell_v2",
                    "create_cell",
                    "--name",
                    "cell1",
                    "--verbose",
                ],
                [f"{b}/nova-manage", "--config-file", nova, "db", "sync"],
            ],
            "neutron": [
                [
                    f"{b}/neutron-db-manage",
                    "--config-file",
                    str(etc / "neutron/neutron.conf"),
                    "upgrade",
                    "heads",
                ],
            ],
            "placement": [
                [
                    f"{b}/placement-manage",
                    "--config-file",
                    str(etc / "placement/placement.conf"),
                    "db",
                    "sync",
                ],
            ],
            "glance": [
                [
                    f"{b}/glance-manage",
                    "--config-file",
                    str(etc / "glance/glance-api.conf"),
                    "db_sync",
                ],
            ],
            "cinder": [
                [
                    f"{b}/cinder-manage",
                    "--config-file",
                    str(etc / "cinder/cinder.conf"),
                    "db",
                    "sync",
                ],
            ],
        }

        def run_chain(name: str) -> float:
            started = time.monotonic()
            # keystone-manage bootstrap reads the admin password from here, not from argv
            env = {"OS_BOOTSTRAP_PASSWORD": state.secret("admin")}
            for cmd in chains[name]:
                what = f"{name} schema setup ({' '.join(cmd[3:5])})"
                self.run_tool(cmd, f"setup-{name}.log", what, env=env)
            return time.monotonic() - started

        self.console.say("creating schemas (keystone, placement, nova, neutron, glance, cinder)")
        # short ones early, so the two slots left beside Nova's long chain keep turning over
        order = ("keystone", "placement", "nova", "neutron", "glance", "cinder")
        return {name: pool.submit(run_chain, name) for name in order}

    def await_schemas(self, futures: dict, names) -> None:
        """Wait for the named schemas (those still in ``futures``) and drop them from it."""
        for name in list(names):
            fut = futures.pop(name, None)
            if fut is not None:
                self.console.say(f"  {name} schema ready ({fut.result():.0f}s)")

    def start_services(self, state: State, names) -> None:
        for name in names:
            if self.procs.running(name):
                continue
            svc = BY_NAME[name]
            handle = self.procs.start(
                name,
                argv(svc, self.layout, state),
                environment(svc, self.layout, self.base_env()),
                cwd=self.layout.home,
            )
            self.console.say(f"started {name} (pid {handle.pid})")

    def wait_apis(self, state: State, names) -> None:
        pending = [BY_NAME[n] for n in names if BY_NAME[n].is_api]
        deadline = time.monotonic() + API_TIMEOUT
        while pending:
            for svc in list(pending):
                if _api_answers(state, svc):
                    pending.remove(svc)
                    self.console.say(f"{svc.name} answers on {_api_url(state, svc)}")
                elif not self.procs.running(svc.name):
                    raise DevcloudError(
                        f"{svc.name} exited; {self.procs.log_file(svc.name)}:\n"
                        f"{self.procs.tail(svc.name)}"
                    )
            if pending and time.monotonic() > deadline:
                raise DevcloudError(
                    f"no answer from {', '.join(s.name for s in pending)} within "
                    f"{API_TIMEOUT:.0f}s; see {self.layout.log}"
                )
            if pending:
                time.sleep(0.5)

    def wait_heartbeats(self, state: State, session: AdminSession, names: list[str]) -> None:
        deadline = time.monotonic() + HEARTBEAT_TIMEOUT
        pending = list(names)
        while pending:
            states = service_states(session, state.ports, since=self.started_since(pending))
            for name in list(pending):
                if states.get(name) == "up":
                    pending.remove(name)
                    self.console.say(f"{name} reports up")
                elif not self.procs.running(name):
                    raise DevcloudError(
                        f"{name} exited; {self.procs.log_file(name)}:\n{self.procs.tail(name)}"
                    )
            if pending and time.monotonic() > deadline:
                raise DevcloudError(
                    f"{', '.join(pending)} never reported up; see {self.layout.log}"
                )
            if pending:
                time.sleep(1)

    def started_since(self, names: list[str]) -> dict[str, float]:
        """When each of ``names`` started, to the second (records carry whole seconds)."""
        starts = {n: self.procs.started_at(n) for n in names}
        return {n: float(int(t)) for n, t in starts.items() if t is not None}

    def wait_compute_inventory(self, state: State, session: AdminSession) -> None:
        url = f"http://127.0.0.1:{state.ports['placement']}"
        headers = {"OpenStack-API-Version": "placement 1.14"}
        deadline = time.monotonic() + HEARTBEAT_TIMEOUT
        while True:
            try:
                rps = session.get(f"{url}/resource_providers", headers)["resource_providers"]
                for rp in rps:
                    inv = session.get(f"{url}/resource_providers/{rp['uuid']}/inventories", headers)
                    vcpu = inv["inventories"].get("VCPU")
                    if vcpu:
                        total = int(vcpu["total"] * vcpu["allocation_ratio"])
                        self.console.say(
                            f"compute node {rp['name']} offers {total} vCPUs in Placement"
                        )
                        return
            except (urllib.error.URLError, OSError, KeyError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise DevcloudError(
                    "the compute node never appeared in Placement; see log/nova-compute.log"
                )
            time.sleep(1)

    def write_client_files(self, state: State) -> None:
        clouds = (
            "# written by devcloud/devcloud: the admin of this checkout's devcloud\n"
            "clouds:\n"
            "  devcloud:\n"
            "    auth:\n"
            f"      auth_url: {state.keystone_url()}\n"
            "      username: admin\n"
            f"      password: {json.dumps(state.secret('admin'))}\n"
            "      project_name: admin\n"
            "      user_domain_name: Default\n"
            "      project_domain_name: Default\n"
            "    region_name: RegionOne\n"
            "    interface: public\n"
            "    identity_api_version: 3\n"
        )
        _write_private(self.layout.clouds_yaml, clouds)
        ports = "".join(
            f"{name} {port}\n" for name, port in sorted(state.ports.items(), key=lambda x: x[1])
        )
        _write_private(self.layout.home / "ports", ports)
        _write_private(
            self.layout.home / "env.sh",
            (
                "# source me: points the openstack CLI and openstacksdk at this devcloud,\n"
                "# and Kubernetes clients at its Kubernetes API emulator\n"
                f"export OS_CLIENT_CONFIG_FILE={self.layout.clouds_yaml}\n"
                "export OS_CLOUD=devcloud\n"
                f"export KUBECONFIG={kube.kubeconfig_path(self.layout)}\n"
                f"export PATH={self.layout.bin}:$PATH\n"
            ),
        )

    # -- down / status / reset -------------------------------------------------------------

    def stop_all(self) -> list[str]:
        names = [s.name for s in SERVICES] + [kube.NAME]
        if self.layout.run.exists():
            names += [
                p.stem
                for p in sorted(self.layout.run.glob("*.pid"))
                if p.stem not in names and p.stem not in ("mariadb", "rabbitmq")
            ]
        stopped = self.procs.stop_many(names, timeout=15)
        # the message bus and database last, once nothing of ours talks to them
        stopped += self.procs.stop_many(["rabbitmq", "mariadb"], timeout=30)
        return stopped

    def down(self) -> int:
        with self.locked():
            stopped = self.stop_all()
            self.console.say(
                f"stopped {', '.join(stopped)}" if stopped else "nothing of devcloud's was running"
            )
        return 0

    def status(self) -> int:
        if not self.layout.state_file.exists():
            print("devcloud has never been brought up here (run devcloud/devcloud up)")
            return 1
        state = State.load(self.layout)
        ok = True
        rows = []
        for name in ("mariadb", "rabbitmq"):
            b = state.backends.get(name)
            if b is None:
                rows.append((name, "-", "not set up", ""))
                ok = False
                continue
            handle = self.procs.running(name) if b["mode"] == "private" else None
            answers = port_answers(b["port"])
            ok &= answers and (b["mode"] == "system" or handle is not None)
            where = f"127.0.0.1:{b['port']}" + (f" vhost {b['vhost']}" if b.get("vhost") else "")
            rows.append(
                (
                    name,
                    str(handle.pid) if handle else b["mode"],
                    "answers" if answers else "DOWN",
                    where,
                )
            )
        heartbeats: dict[str, str] = {}
        try:
            heartbeats = service_states(
                AdminSession(state.keystone_url(), state.secret("admin"), 5), state.ports
            )
        except (urllib.error.URLError, OSError, KeyError, ValueError):
            pass
        for svc in SERVICES:
            handle = self.procs.running(svc.name)
            if svc.is_api:
                code = http_status(_api_url(state, svc)) if handle else None
                good = handle is not None and code is not None and code < 500
                check = f"answers (HTTP {code})" if good else ("DOWN" if handle else "not running")
                detail = _api_url(state, svc)
            else:
                beat = heartbeats.get(svc.heartbeat[1]) if svc.heartbeat else None
                good = handle is not None and beat == "up"
                check = (
                    "reports up"
                    if good
                    else ("not running" if not handle else f"heartbeat {beat or 'unknown'}")
                )
                detail = f"log/{svc.name}.log"
            ok &= good
            rows.append((svc.name, str(handle.pid) if handle else "-", check, detail))
        good, row = kube.status_row(state, self.procs)
        ok &= good
        rows.append(row)
        width = max(len(r[0]) for r in rows)
        for name, pid, check, detail in rows:
            print(f"{name:<{width}}  {pid:>7}  {check:<20}  {detail}")
        print(
            f"clouds.yaml: {self.layout.clouds_yaml}"
            if self.layout.clouds_yaml.exists()
            else "no clouds.yaml"
        )
        kubeconfig = kube.kubeconfig_path(self.layout)
        print(f"kubeconfig: {kubeconfig}" if kubeconfig.exists() else "no kubeconfig")
        print("devcloud is up" if ok else "devcloud is NOT fully up")
        return 0 if ok else 1

    def reset(self) -> int:
        with self.locked():
            stopped = self.stop_all()
            if stopped:
                self.console.say(f"stopped {', '.join(stopped)}")
            if self.layout.state_file.exists():
                state = State.load(self.layout)
                backends = Backends(self.layout, state, self.procs, self.console)
                db = state.backends.get("mariadb")
                if db and db["mode"] == "system" and install.installed(self.layout):
                    try:
                        self.venv_json(
                            "devcloud_shims.dbadmin",
                            "drop",
                            {
                                "admin": backends.mariadb_admin(),
                                "databases": configs.database_names(state),
                                "user": state.db_user,
                            },
                        )
                        self.console.say(
                            f"dropped databases dc_{state.suffix}_* and user {state.db_user}"
                        )
                    except DevcloudError as e:
                        self.console.warn(str(e))
                backends.drop_vhost()
            for entry in self.layout.home.iterdir():
                if entry.name in ("venv", "lock"):
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            self.console.say(f"reset {self.layout.home} (kept the virtualenv)")
        return 0


def _write_private(path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(args: list[str], script: str) -> int:
    if args in ([], ["-h"], ["--help"], ["help"]):
        print(USAGE, end="")
        return 0
    if len(args) != 1 or args[0] not in ("up", "down", "status", "reset"):
        print(USAGE, file=sys.stderr, end="")
        return 2
    dc = Devcloud(Layout.for_script(script))
    try:
        return getattr(dc, args[0])()
    except DevcloudError as e:
        dc.console.warn(str(e))
        return 1
    except KeyboardInterrupt:
        return 130
