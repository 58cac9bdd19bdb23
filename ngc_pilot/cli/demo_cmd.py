"""``ngc-pilot demo``: the main job end to end on the shipped demo nominations.

The demo replays the 2021 call with every date moved by the same number of
days so that the pilot starts this week: application credentials must expire
in the future, and readiness keeps its meaning relative to the pilot start.
The moved copies (policy, price list and nominations) are written under the
var folder and named in the output; the shipped files are never changed.

With ``--provision`` the demo goes on the way the pilot runs: tenants, a
researcher booting servers through their own environment bundle, metering
in one-minute windows (so real usage appears within the demo), the month's
shadow invoice (list price, 100 % pilot discount) as a table and a PDF, and
one scheduler job run by hand.
"""

from __future__ import annotations

import csv
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.text import Text

from ngc_pilot.cli.context import AppContext
from policies.prices import default_prices_path
from policies.selection_policy import default_policy_path

DEMO_DATA = Path(__file__).resolve().parent.parent / "demo_data"


def _shift_dates(data: Any, delta: timedelta) -> Any:
    if isinstance(data, dict):
        return {k: _shift_dates(v, delta) for k, v in data.items()}
    if isinstance(data, list):
        return [_shift_dates(v, delta) for v in data]
    if isinstance(data, date):
        return data + delta
    return data


def replay_today(folder: Path, policy_file: Path, today: date) -> tuple[Path, list[Path], int]:
    """Copies of the policy and the demo nominations with dates moved to ``today``."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # the copies hold PIs' names and e-mail addresses
    policy = yaml.safe_load(policy_file.read_text())
    start = policy["pilot_period"]["start"]
    delta = timedelta(
        days=(today - timedelta(days=today.weekday())).toordinal() - start.toordinal()
    )
    text = policy_file.read_text()
    for key in ("start", "end"):
        old = policy["pilot_period"][key]
        text = text.replace(f"{key}: {old}", f"{key}: {old + delta}", 1)
    moved_policy = folder / "selection.yaml"
    moved_policy.write_text(text)
    prices = yaml.safe_load(default_prices_path().read_text())
    prices_text = default_prices_path().read_text()
    for key in ("from", "until"):  # the pilot discount follows the moved pilot period
        old = prices["discounts"]["pilot"][key]
        prices_text = prices_text.replace(f"{key}: {old}", f"{key}: {old + delta}", 1)
    (folder / "prices.yaml").write_text(prices_text)
    files = []
    for name in ("nominations.yaml", "nominations-sample.json"):
        data = yaml.safe_load((DEMO_DATA / name).read_text())
        out = folder / name.replace(".json", ".yaml")
        out.write_text(
            yaml.safe_dump(_shift_dates(data, delta), sort_keys=False, allow_unicode=True)
        )
        files.append(out)
    with open(DEMO_DATA / "nominations-sample.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["ready_date"] = (date.fromisoformat(row["ready_date"]) + delta).isoformat()
    out = folder / "nominations-sample.csv"
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    files.append(out)
    return moved_policy, files, delta.days


def demo(
    ctx: typer.Context,
    fresh: Annotated[
        bool, typer.Option(help="Start from an empty database (SQLite file is replaced).")
    ] = True,
    provision: Annotated[
        bool,
        typer.Option(
            help="Also provision the committed pilots on the configured cloud and verify isolation."
        ),
    ] = False,
) -> None:
    """Fresh database, import the demo call, refuse the broken file, score, select, commit (and provision)."""
    from ngc_pilot.cli.main import run

    obj: AppContext = ctx.obj
    out = obj.out
    url = obj.settings.database_url
    if fresh:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        else:
            run(["--db", url, "db", "downgrade", "base"])
    policy_file = obj.settings.policy.selection_file or default_policy_path()
    moved_policy, files, days = replay_today(
        obj.settings.var_dir / "demo", Path(policy_file), date.today()
    )
    out.print(
        f"The demo replays the 2021 call moved by {days} days so the pilot starts this week "
        f"(policy copy: {moved_policy}).",
        style="dim",
    )
    config = obj.settings.var_dir / "demo" / "demo.toml"
    config.write_text(
        "# Written by `ngc-pilot demo`: the moved price list, one-minute usage windows.\n"
        f"[policy]\nprices_file = {str(moved_policy.parent / 'prices.yaml')!r}\n"
        "[metering]\nwindow_minutes = 1\nrecompute_windows = 2\n"
    )
    base = [
        "--db",
        url,
        "--actor",
        obj.actor,
        "--policy",
        str(moved_policy),
        "--config",
        str(config),
    ]
    month = date.today().strftime("%Y-%m")
    steps: list[tuple[str, list[str] | None, tuple[int, ...]]] = [
        (
            "Import the demo nominations",
            ["intake", "import", *map(str, files)],
            (0,),
        ),
        (
            "A file of broken nominations is refused, every problem named, nothing written",
            ["intake", "import", str(DEMO_DATA / "broken.yaml")],
            (2,),
        ),
        ("Nominations with eligibility and score", ["intake", "list"], (0,)),
        (
            "Commit the certified-optimal heterogeneous selection",
            [
                "select",
                "--commit",
                "--by",
                "NGC pilot steering group (demo)",
                "--reason",
                "Demo: selection proposed by ngc-pilot under the shipped policy",
            ],
            (0,),
        ),
        ("Why was the best-scoring unselected project left out?", None, (0,)),
    ]
    if provision:
        steps += [
            (
                "Provision an isolated OpenStack tenant for every selected pilot with a signed agreement",
                ["provision", "--platform", "openstack"],
                (0,),
            ),
            (
                "One pilot as a Kubernetes namespace too, on devcloud's Kubernetes API EMULATOR "
                "(no real API server here; the shared emulator's quotas are other engineers' too, "
                "so over-commit is allowed explicitly)",
                _KUBE,
                (0,),
            ),
            (
                "Each tenant, with its own credential or token, probes the others (both platforms)",
                ["tenants", "verify"],
                (0,),
            ),
            ("The tenants, their platforms and where each environment is", ["tenants"], (0,)),
            ("Researchers boot servers with their own environment bundles", _BOOT, (0,)),
            ("A researcher runs a pod with their own kubeconfig (on the emulator)", _POD, (0,)),
            (
                "Meter the complete one-minute windows so far (Nova, Cinder, the namespace's pods; per pilot)",
                _METER,
                (0,),
            ),
            ("The usage stored per tenant and metric", ["usage"], (0,)),
            (
                f"Shadow invoices for {month}: list price, 100 % pilot discount, 0 charged",
                ["invoice", "--month", month],
                (0,),
            ),
            (
                "The same invoices as a PDF, one page per tenant",
                [
                    "invoice",
                    "--month",
                    month,
                    "--format",
                    "pdf",
                    "-o",
                    str(obj.settings.var_dir / "demo" / f"invoices-{month}.pdf"),
                ],
                (0,),
            ),
            (
                "A scheduler job run by hand: Placement's capacity",
                ["jobs", "run", "capacity"],
                (0,),
            ),
            ("The scheduler's jobs (`ngc-pilot serve` runs them)", ["jobs"], (0,)),
        ]
    steps.append(("The audit trail (newest)", ["audit", "--limit", "12"], (0,)))
    for title, args, expected in steps:
        out.rule(Text(title, style="bold"))
        if args is _BOOT:
            _boot_servers(obj, out)
            continue
        if args is _POD:
            _run_pod(obj, out)
            continue
        if args is _KUBE:
            args = _namespace_args(obj)
            if args is None:
                out.print("no Kubernetes cluster configured (kubernetes.kubeconfig): skipped")
                continue
        if args is _METER:
            _wait_for_a_window(obj, out)
            args = ["meter"]
        if args is None:
            args = _why_not_args(obj, moved_policy)
            if args is None:
                continue
        out.print(f"$ ngc-pilot {' '.join(args)}", style="dim")
        code = run([*base, *args])
        if code not in expected:
            raise typer.Exit(1)


_BOOT: list[str] = ["(boot)"]
_METER: list[str] = ["(meter)"]
_KUBE: list[str] = ["(namespace)"]
_POD: list[str] = ["(pod)"]


def _namespace_args(obj: AppContext) -> list[str] | None:
    """``provision --platform kubernetes`` for the smallest active pilot, if a cluster is set."""
    if obj.settings.kubernetes.kubeconfig is None:
        return None
    order = {"small": 0, "medium": 1, "gpu": 2, "large": 3}
    active = [
        t
        for t in obj.services.tenant_rows()
        if t["platform"] == "openstack" and t["state"] == "active"
    ]
    if not active:
        return None
    pilot = min(active, key=lambda t: (order.get(t["size"], 9), t["pilot"]))["pilot"]
    return ["provision", "--platform", "kubernetes", "--allow-overcommit", pilot]


def _run_pod(obj: AppContext, out: Any) -> None:
    """As the researcher would: their bundle's kubeconfig, one pod with stated requests."""
    from provisioner.backend import CloudError
    from provisioner.kubernetes.workload import run_pod

    rows = [
        t
        for t in obj.services.tenant_rows()
        if t["platform"] == "kubernetes" and t["state"] == "active"
    ]
    for tenant in rows[:1]:
        bundle = obj.settings.environments_dir / tenant["pilot"]
        out.print(
            f"$ KUBECONFIG={bundle}/kubeconfig kubectl run analysis-1 --image=busybox "
            "--requests=cpu=1,memory=2Gi (restricted security context)",
            style="dim",
        )
        try:
            pod = run_pod(bundle, "analysis-1", cpu="1", memory="2Gi")
        except CloudError as exc:
            if "409" not in str(exc):  # already there from an earlier run
                out.print(f"{tenant['pilot']}: {exc}", style="red")
                raise typer.Exit(1) from exc
            out.print(f"{tenant['pilot']}: pod analysis-1 already exists")
            continue
        out.print(
            f"{tenant['pilot']}: pod {pod.name} in {pod.namespace} {pod.phase} "
            f"(cpu {pod.cpu}, memory {pod.memory}) on the emulator"
        )


def _boot_servers(obj: AppContext, out: Any) -> None:
    """As two researchers would: their bundle's clouds.yaml, one server each (a GPU
    flavor where the tenant is GPU-sized, so GPU-hours have something to count)."""
    from provisioner.backend import CloudError
    from provisioner.openstack.workload import boot_server

    active = [
        t
        for t in obj.services.tenant_rows()
        if t["state"] == "active" and t["platform"] == "openstack"
    ]
    chosen = [t for t in active if t["size"] == "gpu"][:1]
    chosen += [t for t in active if t not in chosen][: 2 - len(chosen)]
    for tenant in chosen:
        flavor = "ngc.gpu.1" if tenant["size"] == "gpu" else "ngc.small"
        bundle = obj.settings.environments_dir / tenant["pilot"]
        out.print(
            f"$ OS_CLIENT_CONFIG_FILE={bundle}/clouds.yaml openstack server create "
            f"--flavor {flavor} --image devcloud-tiny --network <own> --wait analysis-1",
            style="dim",
        )
        try:
            server = boot_server(bundle, "analysis-1", flavor=flavor, image="devcloud-tiny")
        except CloudError as exc:
            out.print(f"{tenant['pilot']}: {exc}", style="red")
            raise typer.Exit(1) from exc
        out.print(
            f"{tenant['pilot']}: server {server.id} {server.status} ({flavor}, "
            f"{server.seconds:.1f} s)"
        )


def _wait_for_a_window(obj: AppContext, out: Any) -> None:
    """Usage is metered in complete windows: wait for one that began after the boot."""
    now = datetime.now(UTC)
    ready = now.replace(second=5, microsecond=0) + timedelta(minutes=2)
    seconds = (ready - now).total_seconds()
    out.print(f"waiting {seconds:.0f} s for a complete one-minute window with servers", style="dim")
    time.sleep(seconds)


def _why_not_args(obj: AppContext, policy_file: Path) -> list[str] | None:
    from ngc_pilot.facade import Services
    from policies.selection_policy import load_policy

    services = Services.from_application(obj)
    services.policy = load_policy(policy_file)  # the demo's own policy, not the settings'
    chosen = {p["id"] for p in services.pilot_rows() if p["state"] == "selected"}
    ranked = sorted(
        (a for a in services.assessed() if a.eligibility.eligible and a.id not in chosen),
        key=lambda a: -a.score.total,
    )
    return ["select", "why-not", ranked[0].id] if ranked else None
