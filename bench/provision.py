"""Benchmark of tenant provisioning against devcloud (a script that prints numbers).

Same run, same cloud:
* baseline — a plain sequential openstacksdk script creating the same
  resources for one tenant (project, group + role, user + membership, three
  quota sets, network, subnet, router + interface, security group + rule,
  application credential), no lookups, no ledger;
* ngc-pilot — one tenant (and the HTTP requests it made beside the
  script's; ``--trace`` lists them in order, with when each started and how
  long it took); then ``--rounds`` rounds of: eight tenants in parallel, a
  no-op re-apply of the eight (wall time, HTTP requests, and the number of
  mutating API calls, which must be zero), ``--again`` more no-op re-applies
  of the same eight (the first comes right after provisioning, when
  Keystone's cache does not yet hold the new users and projects; the later
  ones meet a warm cache), teardown; failed tenants counted over all rounds
  (``--rounds 20`` for the goal of 20 in a row); with ``--pause S``, the
  last round re-applies once more after S seconds idle: past Keystone's
  cache lifetime (600 s in devcloud, oslo.cache's default) that is what the
  hourly reconcile meets, a cold cache, dearer than the first re-apply;
* observation — the eight observed one at a time beside ``observe_many``
  (one listing per resource kind), as reconcile does; then the CPU one read
  costs of each kind that is still read per tenant (no API lists Nova's or
  Cinder's quotas or the PI's credential across projects), by daemon;
* at scale, with ``--keep`` — the rounds' tenants are kept instead of torn
  down after each round, and after the last round all of them are re-applied
  at once (no-op) and reconciled (``drift.reconcile``, report only: what the
  hourly job does), each per tenant beside its CPU floor, to set beside the
  rounds' re-applies of eight: what a tenant costs when the listings are
  shared by many; with ``--pause S`` the pause comes before one more
  reconcile of all of them instead (Keystone's cache cold, as at the hour).
  devcloud's 4,000 cores hold the quotas of 62 tenants of 64 cores; kept
  tenants pass the capacity gate as over-commit (audited, in the scratch
  ledger): a quota is a limit, nothing is allocated.
The machine's load average is printed beside every figure, and a summary
(median and range of each figure over the rounds) at the end; beside the
times, the CPU seconds devcloud's daemons (with MariaDB and RabbitMQ) and this
process used, which the machine's other work moves much less than the times,
and for the no-op re-applies their CPU floor: all that CPU spread over every
core, a time per tenant no scheduling of the same requests could beat here.
Everything created is torn down at the end.

    devcloud/devcloud up && python bench/provision.py [--tenants 8] [--rounds 20] [--again 3]
        [--pause 660] [--keep] [--trace]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import openstack
from arguments import count, seconds
from openstack.config import loader

from ngc_pilot import intake, migrate, provisioning, selection
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.lifecycle.drift import reconcile
from ngc_pilot.synthetic import nominations
from policies.selection_policy import default_policy_path, parse_policy
from policies.tenancy import load_tenant_policy
from provisioner.model import ObservedTenant
from provisioner.openstack import OpenStackBackend, connect_with

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "devcloud"))

from devcloudctl.layout import Layout  # noqa: E402
from devcloudctl.processes import Processes, cpu_seconds  # noqa: E402

CLOUDS = REPO / ".devcloud" / "clouds.yaml"
# The cores the CPU floors spread the measured CPU over (devcloud's daemons run on all).
CORES = os.cpu_count() or 1


def baseline(tag: str) -> float:
    # Plain openstacksdk: its own session, no shared token, no connect retries.
    config = loader.OpenStackConfig(config_files=[str(CLOUDS)], load_envvars=False)
    conn = openstack.connection.Connection(config=config.get_one(cloud="devcloud"))
    started = time.perf_counter()
    domain = conn.identity.find_domain("ngc-bench") or conn.identity.create_domain(name="ngc-bench")
    project = conn.identity.create_project(name=f"base-{tag}", domain_id=domain.id)
    group = conn.identity.create_group(name=f"base-{tag}-members", domain_id=domain.id)
    role = conn.identity.find_role("member")
    conn.identity.assign_project_role_to_group(project, group, role)
    password = secrets.token_urlsafe(24)
    user = conn.identity.create_user(
        name=f"base-{tag}@example.org",
        domain_id=domain.id,
        password=password,
        default_project_id=project.id,
    )
    conn.identity.add_user_to_group(user, group)
    conn.compute.update_quota_set(project.id, cores=64, ram=262144, instances=10)
    conn.network.update_quota(project.id, networks=2, subnets=2, routers=1, ports=50)
    conn.block_storage.update_quota_set(project.id, volumes=10, gigabytes=2000)
    net = conn.network.create_network(name=f"base-{tag}-net", project_id=project.id)
    sub = conn.network.create_subnet(
        name=f"base-{tag}-subnet",
        network_id=net.id,
        project_id=project.id,
        ip_version=4,
        cidr="10.250.0.0/24",
    )
    router = conn.network.create_router(name=f"base-{tag}-router", project_id=project.id)
    conn.network.add_interface_to_router(router, subnet_id=sub.id)
    sg = conn.network.create_security_group(name=f"base-{tag}-sg", project_id=project.id)
    conn.network.create_security_group_rule(
        security_group_id=sg.id,
        project_id=project.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="10.10.0.0/24",
    )
    as_user = connect_with(
        {
            "auth_url": conn.auth["auth_url"],
            "username": user.name,
            "user_domain_id": domain.id,
            "password": password,
            "project_id": project.id,
        },
        conn.config.region_name,
    )
    as_user.identity.create_application_credential(
        user.id, f"base-{tag}-cred", roles=[{"name": "member"}]
    )
    elapsed = time.perf_counter() - started
    # clean up
    conn.network.remove_interface_from_router(router, subnet=sub.id)
    conn.network.delete_router(router)
    conn.network.delete_subnet(sub)
    conn.network.delete_network(net)
    for group_sg in list(conn.network.security_groups(project_id=project.id)):
        conn.network.delete_security_group(group_sg)
    conn.identity.delete_user(user)
    conn.identity.delete_group(group)
    conn.identity.delete_project(project)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=count(), default=8)
    parser.add_argument(
        "--rounds",
        type=count(0),
        default=1,
        help="rounds of --tenants tenants in parallel (0: the one tenant only)",
    )
    parser.add_argument(
        "--again",
        type=count(0),
        default=3,
        help="no-op re-applies of each round's tenants after the first (median per round)",
    )
    parser.add_argument(
        "--pause",
        type=seconds(0, 3600),
        default=0.0,
        help="in the last round, wait this long idle, then re-apply once more (0: not): "
        "past Keystone's cache lifetime (600 s in devcloud), what the hourly reconcile meets; "
        "with --keep, wait before one more reconcile of all the tenants kept",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep each round's tenants; after the last round re-apply and reconcile all of "
        "them at once, per tenant (the listings shared by many); all torn down at the end",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="print every HTTP request (method, API, path) of the one-tenant run and of "
        "round 1's first and last no-op re-apply, in order (with --keep, the last round's "
        "too: the cloud at its largest)",
    )
    args = parser.parse_args()
    if args.pause and not args.rounds:
        parser.error(
            f"argument --pause: {args.pause:g}: allowed only with --rounds of at least 1 "
            "(it re-applies the last round's tenants)"
        )
    if args.keep and not args.rounds:
        parser.error("argument --keep: allowed only with --rounds of at least 1 (no tenant kept)")
    # The SQLite database and the tenants' folders go when the run ends.
    with tempfile.TemporaryDirectory(prefix="ngc-bench-") as scratch:
        _run(args, Path(scratch))


def _run(args: argparse.Namespace, tmp: Path) -> None:
    start = date.today() - timedelta(days=7)
    text = (
        default_policy_path()
        .read_text()
        .replace("start: 2021-04-15", f"start: {start}")
        .replace("end: 2021-08-31", f"end: {start + timedelta(days=120)}")
    )
    engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
    migrate.upgrade(engine)
    run = uuid.uuid4().hex[:5]
    noms = []
    count = 1 + args.tenants * args.rounds
    policy = parse_policy(
        text.replace("k_max: 10", f"k_max: {max(count, 10)}")
        .replace("per_institution_cap: 2", "per_institution_cap: 99")
        .replace("vcpus: 2048", f"vcpus: {max(2048, 16 * count)}")
    )
    for i, n in enumerate(nominations(count, policy, seed=7)):
        raw = n.model_dump(mode="json")
        raw["id"] = f"B{run}-{i}"
        raw["principal_investigator"]["email"] = f"b{run}-{i}@example.org"
        raw["eligibility"]["data_processing_agreement"] = "signed"
        raw["resources"] = {"vcpus": 16, "ram_gb": 64, "gpus": 0, "storage_tb": 1}
        noms.append(
            intake.SourcedNomination(
                type(n).model_validate(raw, context={"vocabularies": policy.vocabularies}), "bench"
            )
        )
    with session_scope(engine) as session:
        intake.store(session, noms, actor="bench", files=["generated"])
        ids = [n.nomination.id for n in noms]
        proposal = selection.propose(
            session,
            policy,
            selection.SelectOptions(
                k_min=len(ids), k_max=len(ids), lock_in=tuple(ids), explain=False
            ),
        )
        selection.commit(session, proposal, by="bench", reason="benchmark", actor="bench")
    prov = provisioning.Provisioner(
        engine,
        load_tenant_policy(),
        lambda: OpenStackBackend("devcloud", CLOUDS),
        "devcloud",
        tmp / "environments",
        "bench",
    )
    with _Requests() as base_calls, _Work() as base_work:
        base = baseline(run)
    load_base = _load()
    with _Requests() as one_calls, _Work() as one_work:
        started = time.perf_counter()
        one = provisioning.provision(prov, [ids[0]], parallel=1)
        t_one, load_one = time.perf_counter() - started, _load()
    assert all(o.state == "active" for o in one), [o.as_dict() for o in one]
    print("# provisioning benchmark (devcloud on this machine; load = 1-min load average)")
    print("| measurement | ngc-pilot | baseline, same run | load |")
    print("|---|---:|---:|---:|")
    print(
        f"| one tenant (s) | {t_one:.2f} | {base:.2f} plain openstacksdk script "
        f"({t_one / base:.2f}×) | {load_one} (baseline {load_base}) |"
    )
    print(f"| one tenant: HTTP requests | {one_calls.summary()} | {base_calls.summary()} | |")
    print(f"| one tenant: {one_work.cpu()} | | script (teardown included): {base_work.cpu()} | |")
    if args.trace:
        for line in one_calls.lines:
            print(f"    {line}")
    live = [ids[0]]  # torn down at the end, however the run ends
    try:
        _rounds(args, prov, ids, base, live)
    finally:
        for pid in live:
            try:
                provisioning.teardown(prov, pid)
            except InputError:
                pass  # refused before its tenant was made (the capacity gate): nothing to remove


def _rounds(
    args: argparse.Namespace,
    prov: provisioning.Provisioner,
    ids: list[str],
    base: float,
    live: list[str],
) -> None:
    """The rounds of ``args.tenants`` in parallel and their re-applies; ``live`` holds
    every tenant made and not yet torn down (the caller removes them)."""
    failed = noop_calls = 0
    n = args.tenants
    rounds: list[tuple[float, float, float, float]] = []  # parallel s, its load, no-op s, load
    again_s: list[float] = []  # per round: the median of the later no-op re-applies, per tenant
    floors: list[float] = []  # per round: the later re-applies' CPU floor, per tenant

    def apply(batch: list[str]) -> list[provisioning.TenantOutcome]:
        # kept tenants pass the capacity gate as over-commit (the module docstring)
        return provisioning.provision(prov, batch, parallel=n, allow_overcommit=args.keep)

    for r in range(args.rounds):
        batch = ids[1 + r * n : 1 + (r + 1) * n]
        live.extend(batch)
        with _Work() as many_work:
            many = apply(batch)
        t_many, load_many = many_work.wall, _load()
        with _Requests() as noop_requests, _Work() as noop_work:
            noops = apply(batch)
        t_noop, load_noop = noop_work.wall, _load()
        later = []  # the later re-applies' wall time per tenant
        with _Requests() as later_requests, _Work() as later_work:
            for _ in range(args.again):
                started = later_requests.restart()  # --trace lists the last one
                noops += apply(batch)
                later.append((time.perf_counter() - started) / n)
        paused = None
        if args.pause and not args.keep and r == args.rounds - 1:
            time.sleep(args.pause)
            with _Work() as paused:
                noops += apply(batch)
        calls = sum(o.mutating_calls for o in noops)
        bad = [o for o in many + noops if o.state != "active"]
        failed += len({o.pilot_id for o in bad})
        noop_calls += calls
        rounds.append((t_many, float(load_many), t_noop / n, float(load_noop)))
        print(
            f"| round {r + 1}: {n} tenants in parallel (s) | {t_many:.2f}; {many_work.cpu()} | "
            f"{base * n:.2f} (script × {n}, sequential) | {load_many} |"
        )
        print(
            f"| round {r + 1}: no-op re-apply of {n} (s, per tenant) | {t_noop:.2f} "
            f"({t_noop / n:.3f}); {noop_requests.summary()} HTTP requests; {noop_work.cpu()}; "
            f"CPU floor {noop_work.floor(n):.3f} | — | {load_noop} |"
        )
        if later:
            again_s.append(statistics.median(later))
            floor = later_work.floor(n * len(later))
            floors.append(floor)
            print(
                f"| round {r + 1}: {len(later)} more no-op re-applies (s per tenant) | "
                f"{' '.join(f'{t:.3f}' for t in later)}; all {len(later)}: "
                f"{later_requests.summary()} HTTP requests; {later_work.cpu()}; "
                f"CPU floor {floor:.3f} | — | {_load()} |"
            )
        if paused is not None:
            print(
                f"| round {r + 1}: no-op re-apply after {args.pause:.0f} s idle (s, per tenant) | "
                f"{paused.wall:.2f} ({paused.wall / n:.3f}); {paused.cpu()}; CPU floor "
                f"{paused.floor(n):.3f} | — | {_load()} |"
            )
        if args.trace and (r == 0 or args.keep and r == args.rounds - 1):
            for line in noop_requests.lines:
                print(f"    {line}")
            if later:
                print(f"  the last of the {len(later)} later no-op re-applies:")
                for line in later_requests.lines:
                    print(f"    {line}")
        for o in bad:
            print(f"|   failed {o.pilot_id}: {(o.report.error if o.report else '')[:120]} | | | |")
        if r == args.rounds - 1:
            _read_costs(*_observation(prov, batch))
        if not args.keep:
            for pid in batch:
                provisioning.teardown(prov, pid)
                live.remove(pid)
    if args.keep:
        _at_scale(prov, apply, ids[1 : 1 + n * args.rounds], n, args.pause)
    if rounds:
        many_s, many_load, noop_s, noop_load = zip(*rounds, strict=True)
        print(
            f"| {n} tenants in parallel, {len(rounds)} rounds (s) | median "
            f"{statistics.median(many_s):.2f}, {min(many_s):.2f}–{max(many_s):.2f} | "
            f"{base * n:.2f} (script × {n}, sequential) | "
            f"{min(many_load):.1f}–{max(many_load):.1f} |"
        )
        print(
            f"| no-op re-apply, {len(rounds)} rounds (s per tenant) | median "
            f"{statistics.median(noop_s):.3f}, {min(noop_s):.3f}–{max(noop_s):.3f} | — | "
            f"{min(noop_load):.1f}–{max(noop_load):.1f} |"
        )
    if again_s:
        print(
            f"| later no-op re-applies, {len(again_s)} rounds (s per tenant; each round's "
            f"median of {args.again}) | median {statistics.median(again_s):.3f}, "
            f"{min(again_s):.3f}–{max(again_s):.3f} | CPU floor: median "
            f"{statistics.median(floors):.3f}, {min(floors):.3f}–{max(floors):.3f} | |"
        )
    print(f"| failed tenants in {args.rounds} rounds | {failed} | — | goal 0 |")
    print(f"| mutating calls in the no-op re-applies | {noop_calls} | — | goal 0 |")


def _at_scale(
    prov: provisioning.Provisioner,
    apply: Callable[[list[str]], list[provisioning.TenantOutcome]],
    kept: list[str],
    parallel: int,
    pause: float,
) -> None:
    """All the kept tenants re-applied at once (``apply``, as the rounds' re-applies),
    then reconciled (report only), per tenant.

    The rounds' re-applies share each listing among eight tenants; here all
    of them share it, as the hourly reconcile of every active tenant does.
    The one-tenant run's tenant is active too, so the reconcile checks one more.
    """
    with _Requests() as requests, _Work() as work:
        outcomes = apply(kept)
    bad = sum(o.state != "active" for o in outcomes)
    writes = sum(o.mutating_calls for o in outcomes)
    print(
        f"| all {len(kept)} kept tenants: no-op re-apply, {parallel} in parallel (s, per tenant) | "
        f"{work.wall:.2f} ({work.wall / len(kept):.3f}); {requests.summary()} HTTP requests; "
        f"{work.cpu()}; CPU floor {work.floor(len(kept)):.3f}; {bad} not active, "
        f"{writes} mutating calls | the rounds' re-applies of {parallel}, above | {_load()} |"
    )
    runs = [("right after", 0.0)] + ([(f"after {pause:.0f} s idle", pause)] if pause else [])
    for when, idle in runs:
        time.sleep(idle)
        with _Requests() as requests, _Work() as work:
            report = reconcile(prov, repair=False, namespaces_too=False)
        checked = len(report.tenants)
        drifted = sum(bool(t.drift) or t.error is not None for t in report.tenants)
        print(
            f"| reconcile of all {checked} active tenants, {when} (s, per tenant) | "
            f"{work.wall:.2f} ({work.wall / checked:.3f}); {requests.summary()} HTTP requests; "
            f"{work.cpu()}; CPU floor {work.floor(checked):.3f}; {drifted} with drift or an "
            f"error | the observation of eight, above | {_load()} |"
        )


class _Requests:
    """Counts (and lists) the HTTP requests made while it is entered, by API and method."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count: dict[str, int] = {}

    def __enter__(self) -> _Requests:
        import requests

        self._original = original = requests.Session.request
        ports = _api_ports()
        self.started = time.perf_counter()

        def request(session: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            parts = urlsplit(url)
            api = ports.get(parts.port or 0, str(parts.port))
            started = time.perf_counter()
            try:
                return original(session, method, url, *args, **kwargs)
            finally:
                took = time.perf_counter() - started
                at = started - self.started
                self.lines.append(
                    f"at {at * 1000:5.0f} ms {took * 1000:5.0f} ms {method:6} {api:9} {parts.path}"
                )
                key = f"{api} {method}"
                self.count[key] = self.count.get(key, 0) + 1

        requests.Session.request = request  # type: ignore[method-assign]
        return self

    def restart(self) -> float:
        """Forget the requests listed so far and time the next from now (returned)."""
        self.lines.clear()
        self.started = time.perf_counter()
        return self.started

    def __exit__(self, *exc: object) -> None:
        import requests

        requests.Session.request = self._original  # type: ignore[method-assign]

    def summary(self) -> str:
        total = sum(self.count.values())
        writes = sum(n for k, n in self.count.items() if not k.endswith(("GET", "HEAD")))
        return f"{total} ({writes} writes)"


def _api_ports() -> dict[int, str]:
    ports = REPO / ".devcloud" / "ports"
    found = {}
    for line in ports.read_text().splitlines() if ports.is_file() else []:
        name, _, port = line.partition(" ")
        if port.strip().isdigit():
            found[int(port)] = name
    return found


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def _cloud_cpu() -> dict[str, float]:
    """CPU seconds used so far by devcloud, by daemon (its process group), MariaDB, RabbitMQ.

    The cloud's work, whatever else runs on the machine (the load moves the
    wall times; this moves little with it).  The daemons' groups are the ones
    devcloud itself recorded (``devcloudctl.processes``); MariaDB and RabbitMQ
    run outside devcloud and are found by their process names.
    """
    layout = Layout(REPO)
    procs = Processes(layout.run, layout.log)
    found = {pid_file.stem: procs.group_cpu(pid_file.stem) for pid_file in layout.run.glob("*.pid")}
    shared: dict[str, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                name = Path(f"/proc/{entry}/comm").read_text().strip()
            except OSError:
                continue
            if name in _SHARED_SERVICES:
                shared.setdefault(_SHARED_SERVICES[name], []).append(int(entry))
    found.update({service: cpu_seconds(pids) for service, pids in shared.items()})
    return found


# Processes devcloud uses but does not run, by their command name.
_SHARED_SERVICES = {"mariadbd": "mariadb", "mysqld": "mariadb", "beam.smp": "rabbitmq"}


class _Work:
    """Wall time, this process's CPU and devcloud's CPU while it is entered."""

    def __enter__(self) -> _Work:
        # The cloud's CPU first: reading it takes ~25 ms, which the wall time
        # (and this process's CPU) must not include.
        cloud = _cloud_cpu()
        self._started = (time.perf_counter(), time.process_time(), cloud)
        return self

    def __exit__(self, *exc: object) -> None:
        wall, client, cloud = self._started
        self.wall = time.perf_counter() - wall
        self.client = time.process_time() - client
        now = _cloud_cpu()
        self.cloud = {k: v - cloud.get(k, 0.0) for k, v in now.items()}

    def floor(self, tenants: int) -> float:
        """Seconds per tenant below which the work could not have run on this machine.

        All the CPU it took (devcloud's, MariaDB's, RabbitMQ's and this
        process's) spread evenly over every core: when the wall time is close
        to it, the machine's CPU, not waiting, is what the time is made of.
        (The daemons' own background work in that time is counted too.)
        """
        total = sum(self.cloud.values()) + self.client
        return total / (CORES * tenants)

    def cpu(self) -> str:
        """Devcloud's CPU (the three dearest daemons named) and this process's."""
        top = sorted(self.cloud.items(), key=lambda kv: -kv[1])[:3]
        named = ", ".join(f"{k} {v:.2f}" for k, v in top)
        total = sum(self.cloud.values())
        return f"CPU: devcloud {total:.2f} s ({named}), client {self.client:.2f} s"


def _observation(
    prov: provisioning.Provisioner, batch: list[str]
) -> tuple[OpenStackBackend, list[Any], list[Any]]:
    """The batch observed one at a time beside one bulk snapshot, on one backend.

    Returns the backend, the desired tenants and the bulk observation (for
    :func:`_read_costs`).
    """
    from ngc_pilot.lifecycle.shared import tenants_in
    from ngc_pilot.tenant_rows import desired_for

    with session_scope(prov.engine) as session:
        wanted = [
            desired_for(t, p, a, prov)
            for t, p, a in tenants_in(session, ("active",))
            if t.pilot_id in batch
        ]
    backend = OpenStackBackend("devcloud", CLOUDS)
    backend.observe(wanted[0])  # domain and roles cached, as in a reconcile
    started = time.perf_counter()
    single = [backend.observe(d) for d in wanted]
    t_single, load_single = time.perf_counter() - started, _load()
    started = time.perf_counter()
    bulk = backend.observe_many(wanted)
    t_bulk, load_bulk = time.perf_counter() - started, _load()
    same = "same" if bulk == single else "DIFFERENT"
    print(
        f"| observe {len(wanted)} tenants in bulk (s, per tenant; {same} result) | "
        f"{t_bulk:.2f} ({t_bulk / len(wanted):.3f}) | one at a time {t_single:.2f} "
        f"({t_single / len(wanted):.3f}) | {load_bulk} (one at a time {load_single}) |"
    )
    return backend, wanted, bulk


def _read_costs(
    backend: OpenStackBackend, wanted: list[Any], observed: list[Any], repeat: int = 3
) -> None:
    """The CPU one read costs of each kind a re-apply still sends per tenant.

    No API lists these across projects or users (``observe_bulk``'s
    docstring): Nova's and Cinder's quotas and the PI's application
    credential.  ngc-pilot's own reads are used, one at a time: each kind is
    read for every tenant ``observed`` found, ``repeat`` times, with
    nothing else under way, so the CPU each daemon used divided by the reads
    is what one read costs it (Nova's quota read includes Keystone's answer to
    Nova's check that the project exists).
    """
    from provisioner.openstack.observe import LiveReads

    reads = LiveReads(backend.admin)
    found = [
        (d, o)
        for d, o in zip(wanted, observed, strict=True)
        if isinstance(o, ObservedTenant) and o.project_id and o.user_id
    ]
    if not found:
        print("| reads with no listing across projects | no tenant of the round was found | | |")
        return
    calls = {
        "compute_quota": [(o.project_id,) for _, o in found],
        "volume_quota": [(o.project_id,) for _, o in found],
        "app_credential": [(SimpleNamespace(id=o.user_id), d.app_credential) for d, o in found],
    }
    parts, total = [], 0.0
    for kind, each in calls.items():
        getattr(reads, kind)(*each[0])  # a first read, not counted (connections made)
        with _Work() as work:
            for _ in range(repeat):
                for args in each:
                    getattr(reads, kind)(*args)
        sent = repeat * len(each)
        per = {k: v / sent for k, v in work.cloud.items()}
        cloud = sum(per.values())
        total += cloud + work.client / sent
        top = sorted(per.items(), key=lambda kv: -kv[1])[:2]
        named = ", ".join(f"{k} {v * 1000:.1f}" for k, v in top)
        parts.append(
            f"{kind} {cloud * 1000:.1f} ({named}; client {work.client / sent * 1000:.1f}), "
            f"wall {work.wall / sent * 1000:.1f}"
        )
    print(
        f"| reads with no listing across projects, one at a time (CPU ms per read) | "
        f"{' · '.join(parts)} | {total * 1000:.1f} ms of CPU per tenant, "
        f"{total / CORES:.3f} s per tenant on all cores | {_load()} |"
    )


if __name__ == "__main__":
    main()
