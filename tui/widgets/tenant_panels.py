"""How a tenant is drawn: its state, facts, plan, researcher environment, progress.

Pure functions from the service layer's view objects to Rich text, so the
Tenants screen only arranges them and the tests can read them as plain text.
The environment panel never shows the application-credential secret: the
view it draws from does not carry it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text

if TYPE_CHECKING:
    from ngc_pilot.facade import EnvironmentView, PlanView, TenantDetail, TenantRow

STATE_STYLES = {
    "active": "bold green",
    "provisioning": "bold yellow",
    "planned": "cyan",
    "failed": "bold red",
    "suspended": "yellow",
    "torn_down": "dim",
    "not provisioned": "yellow",
    "waiting for agreement": "magenta",
    "withdrawn": "dim",
}
ACTION_MARKS = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}
ENVIRONMENT_FACTS = (
    ("project", "project"),
    ("project_id", "project id"),
    ("domain", "domain"),
    ("size", "size"),
    ("network", "network"),
    ("subnet", "subnet"),
    ("cidr", "CIDR"),
    ("security_group", "security group"),
    ("ingress_from", "ingress only from"),
    ("flavor", "flavor"),
    ("planned_start", "access from"),
    ("planned_end", "access until"),
    ("credential_expires_at", "credential expires"),
    ("support_contact", "support"),
)


def short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def bar(index: int, total: int, width: int = 10) -> str:
    filled = round(width * index / total) if total else width
    return "█" * filled + "·" * (width - filled)


def state_text(row: TenantRow, busy: str | None = None) -> Text:
    """The state cell: the tenant's state, or what is being done to it right now."""
    if busy:
        return Text(busy, style="bold yellow")
    return Text(row.status, style=STATE_STYLES.get(row.status, ""))


def note_text(row: TenantRow, progress: tuple[int, int, str] | None = None) -> Text:
    """The last cell: live progress, else the last error, else what to do next."""
    if progress is not None:
        index, total, step = progress
        return Text(f"{bar(index, total)} {index}/{total} {step}", style="yellow")
    if row.last_error and row.tenant_state == "failed":
        return Text(row.last_error, style="red")
    if row.tenant_state is None and row.waiting_for_agreement:
        return Text("agreement not signed", style="magenta")
    if row.pilot_state == "withdrawn" and row.tenant_state not in (None, "torn_down"):
        return Text("pilot withdrawn: tear the tenant down (t)", style="yellow")
    if row.environment:
        return Text(row.environment, style="dim")
    return Text("")


def _kv(text: Text, key: str, value: Any, style: str = "") -> None:
    text.append(f"{key:>14} ", style="dim")
    text.append(f"{value}\n", style=style)


def render_facts(row: TenantRow | None, detail: TenantDetail | None) -> Text:
    """The highlighted pilot: who it is, its tenant, its quotas."""
    text = Text(no_wrap=False)
    if row is None:
        text.append("No pilot highlighted.", style="dim")
        return text
    text.append(f"{row.pilot_id}", style="bold")
    text.append(f"  {row.name}\n")
    _kv(text, "institution", row.institution)
    _kv(text, "pilot", f"{row.pilot_state} · {row.planned_start} → {row.planned_end}")
    _kv(text, "tenant", row.status, STATE_STYLES.get(row.status, ""))
    if row.tenant_state is not None:
        _kv(text, "size", row.size or "—")
        _kv(text, "project", f"{row.project} ({row.project_id or 'not created'})")
        _kv(text, "network", row.cidr or "—")
        _kv(text, "updated (UTC)", (row.updated_at or "")[:19].replace("T", " "))
    if row.last_error:
        _kv(text, "last error", row.last_error, "red")
    if detail is not None and detail.pilot_id == row.pilot_id and detail.quotas:
        text.append("\nquotas ", style="dim")
        text.append(", ".join(f"{k} {v}" for k, v in detail.quotas.items()))
    elif row.tenant_state is None:
        text.append("\nNo tenant yet: ", style="dim")
        if row.waiting_for_agreement:
            text.append("waiting for a signed data processing agreement.", style="magenta")
        elif row.pilot_state == "withdrawn":
            text.append("the pilot was withdrawn; it gets none.")
        else:
            text.append("p shows the plan, a applies it.")
    return text


def _detail(detail: Mapping[str, Any] | None) -> str:
    if not detail:
        return ""
    return ", ".join(f"{k}={v}" for k, v in detail.items())


def render_plan(plan: PlanView | None, pilot_id: str | None) -> Text:
    """The diff apply would make; nothing is changed by computing it."""
    text = Text()
    if pilot_id is None:
        text.append("No pilot highlighted.", style="dim")
        return text
    if plan is None or plan.pilot_id != pilot_id:
        text.append(f"No plan computed for {pilot_id} yet: ", style="dim")
        text.append("press p (reads the cloud, changes nothing).")
        return text
    n = len(plan.changes)
    text.append(f"{plan.pilot_id}", style="bold")
    text.append(f" (tenant {plan.state}): {n} change{'s' if n != 1 else ''}\n")
    if not plan.changes:
        text.append("Nothing to change: the tenant matches its desired state.", style="green")
        return text
    for change in plan.changes:
        mark, style = ACTION_MARKS.get(change["action"], ("?", ""))
        text.append(f"  {mark} {change['action']:<7}", style=style)
        text.append(f"{change['resource']:<24} ", style="bold")
        text.append(change["name"])
        extra = _detail(change.get("detail"))
        if extra:
            text.append(f"  {short(extra, 90)}", style="dim")
        text.append("\n")
    return text


def render_environment(env: EnvironmentView | None, pilot_id: str | None) -> Text:
    """Where the researcher bundle is and what it holds; the secret is never shown."""
    text = Text()
    if pilot_id is None:
        text.append("No pilot highlighted.", style="dim")
        return text
    if env is None:
        text.append("Loading…", style="dim")
        return text
    if not env.exists:
        text.append("No researcher environment yet at ", style="dim")
        text.append(env.path)
        text.append(" (apply the pilot to write it).", style="dim")
        return text
    text.append(env.path, style="bold")
    text.append(f"  (folder mode {env.mode})\n")
    for name, mode, size in env.files:
        text.append(f"  {name:<18} {mode}  {size:>6} bytes\n")
    if env.credential_id:
        text.append("\napplication credential ", style="dim")
        text.append(env.credential_id)
        text.append("  secret ", style="dim")
        text.append("•••••• (only in clouds.yaml; never shown here)\n", style="yellow")
    facts = env.facts
    if facts:
        text.append("\n")
        for key, label in ENVIRONMENT_FACTS:
            if key in facts:
                value = facts[key]
                if isinstance(value, Sequence) and not isinstance(value, str):
                    value = ", ".join(map(str, value))
                _kv(text, label, value)
    return text


def confirm_apply_text(row: TenantRow, plan: PlanView) -> Text:
    text = Text()
    text.append(f"{row.pilot_id} — {row.name}\n\n", style="bold")
    if row.waiting_for_agreement:
        text.append(
            "Its data processing agreement is not signed: the provisioner will refuse.\n\n",
            style="bold magenta",
        )
    text.append_text(render_plan(plan, row.pilot_id))
    text.append(
        "\nEvery step is recorded in the step ledger and the audit log as it happens; "
        "an interrupted apply can be re-run and adopts what exists.",
        style="dim",
    )
    return text


def confirm_apply_all_text(rows: Sequence[TenantRow], waiting: Sequence[str]) -> Text:
    text = Text()
    text.append(f"Create or converge the tenants of {len(rows)} pilot(s):\n", style="bold")
    text.append(", ".join(r.pilot_id for r in rows) + "\n")
    if waiting:
        text.append("\nLeft for later (agreement not signed): ", style="magenta")
        text.append(", ".join(waiting) + "\n")
    text.append(
        "\nThe capacity check runs first; nothing is applied if the quotas do not fit.",
        style="dim",
    )
    return text


def confirm_teardown_text(row: TenantRow) -> Text:
    text = Text()
    text.append(f"{row.pilot_id} — {row.name}\n\n", style="bold")
    text.append("Removes everything of project ")
    text.append(row.project or "?", style="bold")
    text.append(
        " in reverse order — including the researchers' servers and volumes — "
        "then proves that nothing tagged for the pilot remains in any service.\n"
    )
    if row.environment:
        text.append("The researcher environment at ")
        text.append(row.environment, style="bold")
        text.append(" is deleted.\n")
    text.append("\nThis cannot be undone.", style="bold red")
    return text
