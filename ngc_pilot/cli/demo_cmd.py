"""``ngc-pilot demo``: the main job end to end on the shipped demo nominations.

The demo replays the 2021 call with every date moved by the same number of
days so that the pilot starts this week: application credentials must expire
in the future, and readiness keeps its meaning relative to the pilot start.
The moved copies (policy and nominations) are written under the var folder
and named in the output; the shipped files are never changed.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from ngc_pilot.cli.context import AppContext
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
        f"[dim]The demo replays the 2021 call moved by {days} days so the pilot starts this week "
        f"(policy copy: {moved_policy}).[/dim]"
    )
    base = ["--db", url, "--actor", obj.actor, "--policy", str(moved_policy)]
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
                "Provision an isolated tenant for every selected pilot with a signed agreement",
                ["provision"],
                (0,),
            ),
            (
                "Each tenant, with its own credential, probes the others",
                ["tenants", "verify"],
                (0,),
            ),
            ("The tenants and where each researcher environment is", ["tenants"], (0,)),
        ]
    steps.append(("The audit trail (newest)", ["audit", "--limit", "12"], (0,)))
    for title, args, expected in steps:
        out.rule(f"[bold]{title}")
        if args is None:
            args = _why_not_args(obj, moved_policy)
            if args is None:
                continue
        out.print(f"$ ngc-pilot {' '.join(args)}", style="dim")
        code = run([*base, *args])
        if code not in expected:
            raise typer.Exit(1)


def _why_not_args(obj: AppContext, policy_file: Path) -> list[str] | None:
    from ngc_pilot import selection
    from ngc_pilot.db import session_scope
    from policies.selection_policy import load_policy

    policy = load_policy(policy_file)
    with session_scope(obj.engine) as session:
        chosen = {p.id for p in selection.pilots(session) if p.state == "selected"}
        ranked = sorted(
            (
                a
                for a in selection.assess_all(session, policy)
                if a.eligibility.eligible and a.id not in chosen
            ),
            key=lambda a: -a.score.total,
        )
    return ["select", "why-not", ranked[0].id] if ranked else None
