"""``ansible/site.yml`` run for real: two local hosts, throw-away prefixes, a fresh database.

What an operator gets from the role, checked on the result rather than on the
playbook's text: a second run changes nothing, the installed ``ngc-pilot``
answers ``db current``, two service hosts' ``ngc-pilot serve`` (started with
their deployed settings) serve ``/metrics`` as leader and standby, the
settings and the researcher-bundle directory have their modes, the monitoring
files are the ones in ``ops/``, ``--check`` changes and writes nothing, and bad
input stops the play in its first (validation) tasks with the variable's name,
before anything is written.

Both "hosts" are this machine (local connections), each under its own
temporary prefix (virtualenv, settings, unit,
Prometheus and Grafana files, bundle directory): the machine's ``/etc`` is not
touched, the service user is the current one, and systemd is left alone
(``ngc_pilot_systemd_manage: false``; this machine's PID 1 is not systemd).
The database role and database are named per run and dropped afterwards.

Ansible runs from ``.venv-ops`` (``support/opsvenv.py``), the wheel is built
once per session, and the role's ``promtool`` validation uses the real
promtool (``support/prometheus.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.opsvenv import build_wheel, ensure_ops_venv
from support.paths import REPO
from support.prometheus import ensure_binaries, free_port

# one worker runs the whole module under `pytest -n`: its module-scoped fixture is set up once
pytestmark = pytest.mark.xdist_group("test_ansible_deploy")

ANSIBLE = REPO / "ansible"
OPS = REPO / "ops"


# ------------------------------------------------------------------------- helpers


@dataclass
class Run:
    """One ``ansible-playbook`` run, read from the ansible.posix.json callback."""

    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def stats(self) -> dict[str, int]:
        """Counts summed over the hosts."""
        total: dict[str, int] = {}
        for counts in self.report["stats"].values():
            for key, value in counts.items():
                total[key] = total.get(key, 0) + value
        return total

    def results(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (task["task"]["name"], result)
            for play in self.report.get("plays", [])
            for task in play["tasks"]
            for result in task["hosts"].values()
        ]

    def changed_tasks(self) -> list[str]:
        return [name for name, result in self.results() if result.get("changed")]

    def failed(self) -> tuple[str, str]:
        """The task the play stopped at, and its message."""
        name, result = [(n, r) for n, r in self.results() if r.get("failed")][-1]
        return name, str(result.get("msg", ""))


def service_env() -> dict[str, str]:
    """The environment without ngc-pilot settings or the test's import path: the
    deployed virtualenv must not see this checkout (PYTHONPATH) or its settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NGC_PILOT_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }


def clean_env(ops_bin: Path) -> dict[str, str]:
    env = service_env()
    env.update(
        PATH=f"{ops_bin}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ANSIBLE / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
    )
    return env


def playbook(ops_bin: Path, inventory: Path, *args: str) -> Run:
    env = clean_env(ops_bin)
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    done = subprocess.run(
        [str(ops_bin / "ansible-playbook"), "-i", str(inventory), "site.yml", *args],
        cwd=ANSIBLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    run = Run(done.returncode, done.stdout, done.stderr)
    try:
        run.report = json.loads(done.stdout)
    except ValueError:
        pass
    return run


def write_inventory(
    path: Path, variables: dict[str, Any], standby: dict[str, Any] | None = None
) -> Path:
    """``localhost`` serves and monitors; ``standby`` (its own prefix and port,
    also a local connection) is a second service host when given."""
    host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
    }
    hosts: dict[str, Any] = {"localhost": host}
    if standby is not None:
        hosts["standby"] = {**host, **standby}
    inventory = {
        "all": {
            "hosts": hosts,
            "children": {
                "ngc_pilot_service": {"hosts": dict.fromkeys(hosts)},
                "monitoring": {"hosts": {"localhost": None}},
            },
            "vars": variables,
        }
    }
    path.write_text(yaml.safe_dump(inventory))
    return path


def current_user() -> tuple[str, str]:
    import grp
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name


def pg_params(admin_url: str) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    return {
        "ngc_pilot_db_host": url.host or "127.0.0.1",
        "ngc_pilot_db_port": url.port or 5432,
        "ngc_pilot_db_admin_user": url.username or "postgres",
        "ngc_pilot_db_admin_password": url.password or "",
        "ngc_pilot_db_admin_database": url.database or "postgres",
    }


def base_vars(
    prefix: Path, wheel: Path, admin_url: str, name: str, password: str
) -> dict[str, Any]:
    user, group = current_user()
    port = free_port()
    return {
        "ngc_pilot_prefix": str(prefix),
        "ngc_pilot_version": wheel.name.split("-")[1],
        "ngc_pilot_wheel": str(wheel),
        # The interpreter the project's virtualenv was made from: its venv module works.
        "ngc_pilot_python": str(
            Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        ),
        "ngc_pilot_manage_os_packages": False,  # no apt-get on the test machine
        **pg_params(admin_url),
        "ngc_pilot_db_name": name,
        "ngc_pilot_db_user": name,
        "ngc_pilot_db_password": password,
        "ngc_pilot_cloud_name": "devcloud",
        "ngc_pilot_user": user,
        "ngc_pilot_group": group,
        "ngc_pilot_manage_user": False,
        "ngc_pilot_systemd_manage": False,
        "ngc_pilot_metrics_port": port,
        "ngc_pilot_scrape_target": f"127.0.0.1:{port}",
    }


def drop_role_and_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql
    from support.pgserver import drop_database

    drop_database(admin_url, name)
    conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def database_exists(admin_url: str, name: str) -> bool:
    import psycopg

    conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def files_under(path: Path) -> list[Path]:
    return sorted(path.rglob("*"))


# ------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def ops_bin() -> Path:
    ensure_binaries()  # the role checks the rule files with promtool before installing them
    return ensure_ops_venv()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@dataclass
class Deployment:
    """Two service hosts on this machine: ``localhost`` (also the monitoring
    host) under ``prefix`` and ``standby`` under ``standby_prefix``."""

    prefix: Path
    standby_prefix: Path
    inventory: Path
    variables: dict[str, Any]
    password: str
    first: Run
    second: Run
    seconds: tuple[float, float]

    @property
    def venv(self) -> Path:
        return self.prefix / "opt" / "ngc-pilot" / "venv"

    @property
    def config(self) -> Path:
        return self.prefix / "etc" / "ngc-pilot" / "ngc-pilot.toml"


@pytest.fixture(scope="module")
def deployment(
    ops_bin: Path, wheel: Path, pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    name = f"ngc_ansible_{uuid.uuid4().hex[:10]}"
    password = f"pw/{uuid.uuid4().hex}@:"  # needs quoting in the URL
    base = tmp_path_factory.mktemp("deploy")
    prefix = base / "prefix"
    prefix.mkdir()
    standby_prefix = base / "standby"
    standby_prefix.mkdir()
    variables = base_vars(prefix, wheel, pg_admin_url, name, password)
    standby_port = free_port()
    standby = {
        "ngc_pilot_prefix": str(standby_prefix),
        "ngc_pilot_metrics_port": standby_port,
        "ngc_pilot_scrape_target": f"127.0.0.1:{standby_port}",
    }
    inventory = write_inventory(base / "inventory.yml", variables, standby)
    try:
        started = time.monotonic()
        first = playbook(ops_bin, inventory)
        middle = time.monotonic()
        assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
        second = playbook(ops_bin, inventory)
        ended = time.monotonic()
        print(
            f"\nsite.yml: first run {middle - started:.0f} s (with the wheel's dependencies), "
            f"second run {ended - middle:.0f} s"
        )
        yield Deployment(
            prefix,
            standby_prefix,
            inventory,
            variables,
            password,
            first,
            second,
            (middle - started, ended - middle),
        )
    finally:
        drop_role_and_database(pg_admin_url, name)


# --------------------------------------------------------------------------- tests


def test_second_run_reports_zero_changed(deployment: Deployment):
    assert deployment.first.stats["changed"] > 0
    assert deployment.second.returncode == 0, deployment.second.stdout[-4000:]
    assert deployment.second.stats["failures"] == 0
    assert deployment.second.changed_tasks() == []
    assert deployment.second.stats["changed"] == 0


def test_installed_ngc_pilot_answers_db_current_at_head(deployment: Deployment):
    done = subprocess.run(
        [
            str(deployment.venv / "bin" / "ngc-pilot"),
            "--config",
            str(deployment.config),
            "db",
            "current",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=service_env(),
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["current"] is not None
    assert data["current"] == data["head"]


class Serve:
    """An installed ``ngc-pilot serve`` with a host's deployed settings, on a free port."""

    def __init__(self, prefix: Path, log: Path):
        self.port = free_port()
        self.log = log
        env = service_env()
        env["NGC_PILOT_CONFIG"] = str(
            prefix / "etc" / "ngc-pilot" / "ngc-pilot.toml"
        )  # as the unit
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    str(prefix / "opt" / "ngc-pilot" / "venv" / "bin" / "ngc-pilot"),
                    "serve",
                    "--metrics-host",
                    "127.0.0.1",
                    "--metrics-port",
                    str(self.port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=log.parent,
            )

    def wait_for(self, text: str, timeout: float = 90) -> str:
        """The log once it holds ``text`` (or whatever it holds when time is up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if text in (logged := self.log.read_text(errors="replace")):
                return logged
            time.sleep(0.25)
        return self.log.read_text(errors="replace")

    def scrape(self, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                url = f"http://127.0.0.1:{self.port}/metrics"
                with urllib.request.urlopen(url, timeout=5) as reply:
                    return reply.read().decode()
            except (urllib.error.URLError, OSError):
                time.sleep(0.25)
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)


def test_deployed_hosts_serve_metrics_as_leader_and_standby(deployment: Deployment, tmp_path: Path):
    leader = Serve(deployment.prefix, tmp_path / "leader.log")
    standby = None
    try:
        assert "ngc_pilot_database_up 1.0" in leader.scrape(), leader.log.read_text()[-3000:]
        assert "leader: " in leader.wait_for("leader: ")
        standby = Serve(deployment.standby_prefix, tmp_path / "standby.log")
        assert "ngc_pilot_database_up 1.0" in standby.scrape(), standby.log.read_text()[-3000:]
        assert "standby: " in standby.wait_for("standby: ")
    finally:
        for serve in (standby, leader):
            if serve is not None:
                serve.stop()


def test_settings_file_is_private_and_names_the_database(deployment: Deployment):
    from ngc_pilot.settings import build_settings

    assert deployment.config.stat().st_mode & 0o777 == 0o600
    settings = build_settings(deployment.config, environ={})
    variables = deployment.variables
    assert settings.database_url.startswith(
        f"postgresql+psycopg://{variables['ngc_pilot_db_name']}:"
    )
    assert settings.database_url.endswith(
        f"@{variables['ngc_pilot_db_host']}:{variables['ngc_pilot_db_port']}/{variables['ngc_pilot_db_name']}"
    )
    assert settings.cloud.name == "devcloud"
    assert settings.service.metrics_port == variables["ngc_pilot_metrics_port"]
    assert (
        settings.environments_dir
        == deployment.prefix / "var" / "lib" / "ngc-pilot" / "environments"
    )


def test_database_password_never_reaches_the_playbook_output(deployment: Deployment):
    for run in (deployment.first, deployment.second):
        assert deployment.password not in run.stdout + run.stderr


def test_researcher_bundle_directory_belongs_to_the_service_user_mode_0700(deployment: Deployment):
    bundles = deployment.prefix / "var" / "lib" / "ngc-pilot" / "environments"
    assert bundles.is_dir()
    assert bundles.stat().st_mode & 0o777 == 0o700
    assert bundles.stat().st_uid == os.getuid()


def test_each_service_host_gets_its_unit_and_only_the_monitoring_host_its_files(
    deployment: Deployment,
):
    for prefix in (deployment.prefix, deployment.standby_prefix):
        assert (prefix / "etc" / "systemd" / "system" / "ngc-pilot.service").is_file()
    assert (deployment.prefix / "etc" / "prometheus").is_dir()
    assert not (deployment.standby_prefix / "etc" / "prometheus").exists()


def test_unit_runs_serve_with_the_deployed_settings(deployment: Deployment):
    unit = (deployment.prefix / "etc" / "systemd" / "system" / "ngc-pilot.service").read_text()
    assert f"ExecStart={deployment.venv}/bin/ngc-pilot --config {deployment.config} serve" in unit
    assert f"User={deployment.variables['ngc_pilot_user']}" in unit


def test_rendered_unit_passes_systemd_analyze_verify(deployment: Deployment):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd): unit not verified")
    unit = deployment.prefix / "etc" / "systemd" / "system" / "ngc-pilot.service"
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_monitoring_files_are_the_ones_in_ops(deployment: Deployment):
    etc = deployment.prefix / "etc"
    rules = etc / "prometheus" / "rules"
    assert (rules / "ngc-pilot-alerts.yml").read_text() == (
        OPS / "prometheus" / "ngc-pilot-alerts.yml"
    ).read_text()
    intervals = yaml.safe_load((rules / "ngc-pilot-job-intervals.yml").read_text())
    assert intervals == yaml.safe_load(
        (OPS / "prometheus" / "ngc-pilot-job-intervals.yml").read_text()
    )
    dashboards = deployment.prefix / "var" / "lib" / "grafana" / "dashboards" / "ngc-pilot"
    assert (dashboards / "ngc-pilot.json").read_text() == (
        OPS / "grafana" / "ngc-pilot.json"
    ).read_text()
    provider = yaml.safe_load(
        (etc / "grafana" / "provisioning" / "dashboards" / "ngc-pilot.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == str(dashboards)


def test_scrape_job_targets_every_service_host(deployment: Deployment):
    scrape = yaml.safe_load(
        (deployment.prefix / "etc" / "prometheus" / "scrape_configs" / "ngc-pilot.yml").read_text()
    )
    (job,) = scrape["scrape_configs"]
    assert job["job_name"] == "ngc-pilot"
    standby = yaml.safe_load(deployment.inventory.read_text())["all"]["hosts"]["standby"]
    targets = [deployment.variables["ngc_pilot_scrape_target"], standby["ngc_pilot_scrape_target"]]
    assert job["static_configs"] == [{"targets": targets}]


def test_check_run_on_the_deployment_reports_zero_changed(deployment: Deployment, ops_bin: Path):
    run = playbook(ops_bin, deployment.inventory, "--check")
    assert run.returncode == 0, run.stdout[-4000:]
    assert run.changed_tasks() == []


def test_check_run_on_a_fresh_prefix_writes_nothing(
    ops_bin: Path, wheel: Path, pg_admin_url: str, tmp_path: Path
):
    name = f"ngc_ansible_{uuid.uuid4().hex[:10]}"
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    inventory = write_inventory(
        tmp_path / "inventory.yml", base_vars(prefix, wheel, pg_admin_url, name, "pw")
    )
    try:
        run = playbook(ops_bin, inventory, "--check")
        assert run.returncode == 0, run.stdout[-4000:]
        assert run.stats["changed"] > 0  # it does report what it would do
        assert files_under(prefix) == []
        assert not database_exists(pg_admin_url, name)
    finally:
        drop_role_and_database(pg_admin_url, name)


# ----------------------------------------------------------------------- bad input


def bad_run(
    ops_bin: Path, wheel: Path, pg_admin_url: str, tmp_path: Path, **changes: Any
) -> tuple[Run, Path]:
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    variables = base_vars(prefix, wheel, pg_admin_url, f"ngc_ansible_{uuid.uuid4().hex[:10]}", "pw")
    for key, value in changes.items():
        if value is None:
            variables.pop(key)
        else:
            variables[key] = value
    run = playbook(ops_bin, write_inventory(tmp_path / "inventory.yml", variables))
    return run, prefix


def assert_stopped_in_validation(run: Run, prefix: Path, variable: str) -> None:
    assert run.returncode != 0
    task, message = run.failed()
    assert variable in message, (task, message)
    assert all("Validat" in name for name, _ in run.results()), [n for n, _ in run.results()]
    assert run.stats["changed"] == 0
    assert files_under(prefix) == []


def test_missing_required_variable_fails_the_first_task_naming_it(
    ops_bin, wheel, pg_admin_url, tmp_path
):
    run, prefix = bad_run(ops_bin, wheel, pg_admin_url, tmp_path, ngc_pilot_db_password=None)
    assert_stopped_in_validation(run, prefix, "ngc_pilot_db_password")
    assert len(run.results()) == 1  # the argument-spec check, before the role's own tasks


def test_missing_wheel_fails_before_anything_is_written(ops_bin, wheel, pg_admin_url, tmp_path):
    missing = str(tmp_path / "dist" / wheel.name)
    run, prefix = bad_run(ops_bin, wheel, pg_admin_url, tmp_path, ngc_pilot_wheel=missing)
    assert_stopped_in_validation(run, prefix, "ngc_pilot_wheel")


def test_unreachable_database_fails_before_anything_is_written(
    ops_bin, wheel, pg_admin_url, tmp_path
):
    run, prefix = bad_run(
        ops_bin,
        wheel,
        pg_admin_url,
        tmp_path,
        ngc_pilot_db_port=free_port(),
        ngc_pilot_db_connect_timeout=1,
    )
    assert_stopped_in_validation(run, prefix, "ngc_pilot_db_host")


# ------------------------------------------------------------------------------ lint


def test_ansible_lint_production_profile_is_clean(ops_bin: Path):
    done = subprocess.run(
        [str(ops_bin / "ansible-lint"), "--offline", "--profile", "production", "--nocolor"],
        cwd=ANSIBLE,
        env=clean_env(ops_bin),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
