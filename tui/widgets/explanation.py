"""Why one project is in the proposal: the explanation the optimizer certified.

Quality points, its Shapley share of the coverage, the values only it covers,
the loss without it (marginal and re-planned) and its best swap — the same
numbers as ``ngc-pilot select``, spelled out for one project.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text


def render_explanation(pid: str, name: str, e: Mapping[str, Any] | None) -> RenderableType:
    if not e:
        return Text(f"{pid}: no explanation (the proposal was solved without explanations).")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    grid.add_row("quality", f"{e['quality_points']:.2f} points")
    grid.add_row("coverage", f"{e['coverage_points']:.2f} points (Shapley share)")
    grid.add_row("share", f"{100 * e['share_of_score']:.1f}% of the objective")
    unique = e.get("unique_values") or []
    grid.add_row("only it covers", ", ".join(unique) if unique else "—")
    grid.add_row("loss without it", f"{e['marginal_loss']:.2f} (nothing else changed)")
    if e.get("replan_loss") is not None:
        grid.add_row(
            "re-planned loss",
            f"{e['replan_loss']:.2f}; the solver would pick "
            + ", ".join(e.get("replan_selection") or []),
        )
    else:
        grid.add_row("re-planned loss", "— (locked in)")
    if e.get("best_swap"):
        grid.add_row("best swap", f"{e['best_swap']} ({e['best_swap_delta']:+.2f})")
    else:
        grid.add_row("best swap", "— (no feasible swap)")
    return Group(Text.assemble((pid, "bold"), " — ", name), grid)


def render_why_not(data: Mapping[str, Any]) -> RenderableType:
    pid = data.get("id", "")
    if data.get("selected"):
        return Text(f"{pid} is selected.", style="bold green")
    if not data.get("eligible", True):
        text = Text(f"{pid} is not eligible:", style="bold red")
        for reason in data.get("reasons", []):
            text.append(f"\n  • {reason}", style="red")
        return text
    text = Text(f"{pid} is eligible but not selected:", style="bold")
    for reason in [*data.get("reasons", []), *data.get("infeasibility", [])]:
        text.append(f"\n  • {reason}")
    if data.get("forced_selection"):
        text.append("\n\nForced in, the best selection would be:\n  ")
        text.append(", ".join(data["forced_selection"]))
    return text
