"""One application in full: who, what data, what resources, eligibility, score breakdown.

The same facts as ``ngc-pilot intake show``, so an operator can recompute the
score by hand and see every reason a nomination is ineligible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

if TYPE_CHECKING:
    from ngc_pilot.facade import ApplicationRow


def render_facts(row: ApplicationRow) -> RenderableType:
    """Who, what data, what resources, and whether it is eligible (with every reason)."""
    a = row.assessed
    n = a.nomination
    r = n.resources
    head = Text.assemble((n.id, "bold"), "  ", (n.name, "bold"))
    facts = Table.grid(padding=(0, 1))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column()
    # Stored text goes in as Text, never as a str that Rich would parse as markup.
    facts.add_row("PI", Text(f"{n.principal_investigator.name} <{n.principal_investigator.email}>"))
    facts.add_row(
        "Institution",
        Text(f"{n.institution} ({n.institution_type}), nominated by {n.nominated_by}"),
    )
    facts.add_row(
        "Data",
        Text(
            f"{n.data.volume}; {', '.join(n.data.types)}; from {', '.join(n.data.sources)}; "
            f"{n.data.subjects} subjects"
        ),
    )
    facts.add_row(
        "Resources",
        Text(
            f"{r.vcpus} vCPU, {r.ram_gb} GB RAM, {r.gpus} GPU, {r.storage_tb:g} TB; "
            f"tasks {', '.join(n.task_types)}"
        ),
    )
    facts.add_row(
        "Access",
        f"{n.access_months} months from {n.ready_date}; maturity {n.maturity}; "
        + ("commits resources to evaluation" if n.commits_to_evaluation else "no commitment"),
    )
    facts.add_row("DPA", Text(n.eligibility.data_processing_agreement.replace("_", " ")))
    facts.add_row(
        "Pilot",
        Text(
            (row.pilot_state or "not selected")
            + f" · revision {a.application.revision} from {a.application.source}"
        ),
    )
    if a.eligibility.eligible:
        eligibility = Text("✓ eligible", style="bold green")
    else:
        eligibility = Text("✗ not eligible", style="bold red")
        for reason in a.eligibility.reasons:
            eligibility.append(f"\n  • {reason}", style="red")
    return Group(head, facts, eligibility)


def render_score(row: ApplicationRow) -> RenderableType:
    """The per-criterion score breakdown (recomputable by hand) and the pitch."""
    a = row.assessed
    score = Table(
        "criterion",
        "points",
        "weight",
        "detail",
        title=f"Score {a.score.total:.2f} / 100",
        title_justify="left",
        title_style="bold",
        expand=True,
        box=None,
        header_style="dim",
        pad_edge=False,
    )
    for c in a.score.criteria:
        score.add_row(c.name, f"{c.points:.2f}", f"{c.weight:g}", Text(c.detail))
    pitch = Text.assemble(("Pitch ", "dim"), a.nomination.pitch)
    return Group(score, Text(""), pitch)


class ApplicationDetail(Horizontal):
    """The highlighted application: facts and eligibility left, score and pitch right."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="apps-facts-scroll"):
            yield Static("Loading…", id="apps-facts")
        with VerticalScroll(id="apps-score-scroll"):
            yield Static("", id="apps-score")

    def show(self, row: ApplicationRow | None) -> None:
        self.query_one("#apps-facts", Static).update(
            render_facts(row) if row else "No application highlighted."
        )
        self.query_one("#apps-score", Static).update(render_score(row) if row else "")
