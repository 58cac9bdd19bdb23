"""``ngc-pilot demo``: the main job end to end on the shipped demo nominations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ngc_pilot.cli.context import AppContext

DEMO_DATA = Path(__file__).resolve().parent.parent / "demo_data"


def demo(
    ctx: typer.Context,
    fresh: Annotated[
        bool, typer.Option(help="Start from an empty database (SQLite file is replaced).")
    ] = True,
) -> None:
    """Fresh database, import the demo nominations, refuse the broken file, score, select, commit."""
    from ngc_pilot.cli.main import run

    obj: AppContext = ctx.obj
    out = obj.out
    db_args = ["--db", obj.settings.database_url, "--actor", obj.actor]
    url = obj.settings.database_url
    if fresh:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        else:
            run([*db_args, "db", "downgrade", "base"])
    steps = [
        (
            "Import the demo nominations",
            [
                "intake",
                "import",
                str(DEMO_DATA / "nominations.yaml"),
                str(DEMO_DATA / "nominations-sample.csv"),
                str(DEMO_DATA / "nominations-sample.json"),
            ],
            0,
        ),
        (
            "A file of broken nominations is refused, every problem named, nothing written",
            ["intake", "import", str(DEMO_DATA / "broken.yaml")],
            2,
        ),
        ("Nominations with eligibility and score", ["intake", "list"], 0),
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
            0,
        ),
        ("Why was the best-scoring unselected project left out?", None, 0),
        ("The audit trail", ["audit", "--limit", "12"], 0),
    ]
    for title, args, expected in steps:
        out.rule(f"[bold]{title}")
        if args is None:
            args = _why_not_args(obj)
            if args is None:
                continue
        out.print(f"$ ngc-pilot {' '.join(args)}", style="dim")
        code = run([*db_args, *args])
        if code != expected:
            raise typer.Exit(1)


def _why_not_args(obj: AppContext) -> list[str] | None:
    from ngc_pilot import selection
    from ngc_pilot.db import session_scope

    with session_scope(obj.engine) as session:
        chosen = {p.id for p in selection.pilots(session) if p.state == "selected"}
        ranked = sorted(
            (
                a
                for a in selection.assess_all(session, obj.policy)
                if a.eligibility.eligible and a.id not in chosen
            ),
            key=lambda a: -a.score.total,
        )
    return ["select", "why-not", ranked[0].id] if ranked else None
