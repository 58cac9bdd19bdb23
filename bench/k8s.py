"""Benchmark of the Kubernetes backend against devcloud's API emulator (a script that prints numbers).

    python bench/k8s.py [--tenants 10]

Starts a private emulator (``tests/support/kube_emulator.py``; never the
shared devcloud's), then, in one run:

1. provisions ``--tenants`` namespace tenants one by one (observe, plan,
   apply, token): seconds per tenant.  Goal: <= 1 s each.  Baseline from the
   same run: the same objects sent by bare client calls, no observe or plan;
2. re-applies every tenant: mutating calls.  Goal: 0;
3. the verify matrix: every tenant's own token probes every other tenant and
   the cluster.  Goal: every probe refused;
4. kill -9 after every step in turn (``tests/integration/kill_mid_k8s_apply.py``,
   the fault injected through the ledger), then re-apply: converges, nothing
   duplicated;
5. tears everything down: leftovers.  Goal: none.

Numbers are against the emulator, not a real API server (none installs here):
the emulator answers from memory, so a real cluster's latency is not in them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from arguments import count  # noqa: E402
from support.kube_emulator import running_emulator  # noqa: E402

from policies.tenancy import load_tenant_policy  # noqa: E402
from provisioner.apply import apply  # noqa: E402
from provisioner.kubernetes import kubeconfig, manifests  # noqa: E402
from provisioner.kubernetes.backend import KubernetesBackend  # noqa: E402
from provisioner.kubernetes.desired import NamespaceTenant, desired_namespace  # noqa: E402
from provisioner.kubernetes.kinds import KINDS  # noqa: E402
from provisioner.kubernetes.plan import plan, plan_teardown  # noqa: E402


def tenant(pilot_id: str) -> NamespaceTenant:
    today = date.today()
    return desired_namespace(
        pilot_id=pilot_id,
        pilot_name="bench",
        size="small",
        end=today.replace(year=today.year + 1),
        policy=load_tenant_policy(),
        members=("member@example.org",),
    )


def write_kubeconfig(path: Path, url: str, token: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulator", "cluster": {"server": url}}],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "admin"}}],
        "current-context": "emulator",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def baseline(backend: KubernetesBackend, t: NamespaceTenant) -> float:
    started = time.perf_counter()
    objects = manifests.manifests(t)
    backend.cluster.core().create_namespace(objects[0])
    for obj in objects[1:]:
        KINDS[obj["kind"]].create(backend.cluster, t.namespace, obj)
    backend.cluster.core().create_namespaced_service_account_token(
        "pi", t.namespace, manifests.token_request(3600)
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=count(), default=10)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp_name, running_emulator(Path(tmp_name)) as emulator:
        tmp = Path(tmp_name)
        path = write_kubeconfig(tmp / "kubeconfig", emulator.url, emulator.admin_token)
        backend = KubernetesBackend(path)
        run = uuid.uuid4().hex[:6]
        tenants = [tenant(f"BENCH-{run}-{n}") for n in range(args.tenants)]
        tokens: dict[str, dict[str, str]] = {}

        times = []
        for t in tenants:
            started = time.perf_counter()
            secrets = []
            report = apply(
                plan(t, backend.observe(t), credential_delivered=False),
                t,
                backend,
                on_secret=lambda s, r, got=secrets: got.append(s),
            )
            assert report.ok, report.error
            times.append(time.perf_counter() - started)
            folder = tmp / t.pilot_id
            kubeconfig.write(folder, kubeconfig.build(t, server=backend.server(), token=secrets[0]))
            tokens[t.pilot_id] = kubeconfig.read_token(folder) or {}
        base = [baseline(backend, tenant(f"BASE-{run}-{n}")) for n in range(3)]
        warm = times[1:] or times
        print(
            f"1. provision: {len(tenants)} tenants, first (cold client) {times[0]:.3f} s, "
            f"then mean {sum(warm) / len(warm):.3f} s, max {max(warm):.3f} s (goal <= 1 s); "
            f"baseline (bare client calls) mean {sum(base) / len(base):.3f} s"
        )

        before = backend.mutating_calls
        started = time.perf_counter()
        for t in tenants:
            apply(plan(t, backend.observe(t)), t, backend)
        print(
            f"2. re-apply: {backend.mutating_calls - before} mutating calls (goal 0), "
            f"{(time.perf_counter() - started) / len(tenants):.3f} s per tenant"
        )

        started = time.perf_counter()
        targets = {t.pilot_id: {"namespace": t.namespace} for t in tenants}
        probes = [
            p
            for t in tenants
            for p in backend.probe_isolation(t.pilot_id, tokens[t.pilot_id], targets)
        ]
        leaks = [p for p in probes if p.leaked]
        print(
            f"3. verify matrix: {len(probes)} probes, {len(leaks)} not refused (goal 0), "
            f"{time.perf_counter() - started:.2f} s"
        )

        victim = tenant(f"KILL-{run}")
        steps = len(manifests.manifests(victim))
        script = REPO / "tests" / "integration" / "kill_mid_k8s_apply.py"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        killed = 0
        for _ in range(steps + 1):  # each run is killed after its first step: every step in turn
            done = subprocess.run(
                [sys.executable, str(script), str(path), victim.pilot_id, "1"],
                env=env,
                capture_output=True,
                timeout=120,
            )
            if done.returncode != -9:
                break
            killed += 1
        final = apply(plan(victim, backend.observe(victim)), victim, backend)
        converged = final.ok and plan(victim, backend.observe(victim)).empty
        accounts = backend.cluster.core().list_namespaced_service_account(victim.namespace).items
        print(
            f"4. kill -9: {killed} runs, each killed after its first step ({steps} steps); re-apply did "
            f"{len(final.done)} steps; converged: {converged}; service accounts "
            f"{sorted(a.metadata.name for a in accounts)}"
        )

        everyone = [*tenants, victim, *(tenant(f"BASE-{run}-{n}") for n in range(3))]
        for t in everyone:
            apply(plan_teardown(t, backend.observe(t)), t, backend)
        left = [x for t in everyone for x in backend.leftovers(t)]
        print(f"5. teardown: {len(left)} leftovers (goal 0)")
        backend.close()


if __name__ == "__main__":
    main()
