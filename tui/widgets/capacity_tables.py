"""The cloud's capacity and the tenants' quotas and use, as the Capacity screen shows them.

Two tables from one :class:`ngc_pilot.facade.CapacityOverview`: Placement's
capacity per resource class (what can be allocated, what is allocated on the
cloud, what the tenants' quotas promise), and each tenant's quotas beside
what it was metered using.  Each says plainly when there is nothing to show
yet and what fills it; nothing here reads the database or the cloud.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tui.widgets.capacity_bars import bar

if TYPE_CHECKING:
    from ngc_pilot.facade import CapacityOverview

# Placement's resource classes in words, with their units.
RESOURCE_LABELS = {"VCPU": "vCPU", "MEMORY_MB": "RAM MiB", "DISK_GB": "disk GiB"}
# Metered use shown beside the quotas: metric -> column heading.
USE_COLUMNS = {"vcpu_hours": "vCPU-hours", "ram_gb_hours": "RAM GB-hours"}


def placement_view(overview: CapacityOverview) -> RenderableType:
    """Capacity, allocated and promised per resource class, or why there is none yet."""
    if overview.taken_at is None:
        return Text(
            "No capacity snapshot yet: the service's capacity job records Placement's "
            "inventory every few minutes (`ngc-pilot serve`), or run it once with "
            "`ngc-pilot jobs run capacity`.",
            style="yellow",
        )
    table = Table(box=None, header_style="bold", pad_edge=False, expand=False)
    for heading in ("resource", "capacity", "allocated", "", "promised to tenants", ""):
        table.add_column(heading, justify="left" if heading in ("resource", "") else "right")
    order = list(RESOURCE_LABELS)
    lines = sorted(
        overview.placement,
        key=lambda x: order.index(x.resource_class) if x.resource_class in order else len(order),
    )
    for line in lines:
        cap = line.capacity
        used = _share(line.used, cap)
        promised = _share(line.promised, cap) if line.promised is not None else None
        table.add_row(
            RESOURCE_LABELS.get(line.resource_class, line.resource_class),
            f"{cap:,.0f}",
            f"{line.used:,.0f}",
            bar(used, 12),
            "no tenant quota" if line.promised is None else f"{line.promised:,.0f}",
            bar(promised, 12) if promised is not None else "",
        )
    taken = overview.taken_at.strftime("%Y-%m-%d %H:%M UTC")
    return Group(Text(f"Placement, as recorded at {taken}", style="dim"), table)


def tenants_view(overview: CapacityOverview) -> RenderableType:
    """Each tenant's quotas and what it was metered using, or why there are none."""
    if not overview.tenants:
        return Text(
            "No tenants yet: provision the selected pilots on the Tenants screen (3) or "
            "with `ngc-pilot provision`.",
            style="yellow",
        )
    table = Table(box=None, header_style="bold", pad_edge=False, expand=False)
    table.add_column("pilot", no_wrap=True)
    table.add_column("state")
    table.add_column("size")
    table.add_column("vCPU quota", justify="right")
    table.add_column("RAM MiB quota", justify="right")
    month = overview.month or "no usage metered yet"
    for heading in USE_COLUMNS.values():
        table.add_column(f"{heading} ({month})", justify="right")
    for t in overview.tenants:
        table.add_row(
            t.pilot_id,
            t.state,
            t.size,
            "?" if t.cores is None else f"{t.cores:,}",
            "?" if t.ram_mb is None else f"{t.ram_mb:,}",
            *(_quantity(t.used.get(metric)) for metric in USE_COLUMNS),
        )
    parts: list[RenderableType] = [table]
    if overview.quota_problem:
        parts.append(Text(f"Quotas unknown: {overview.quota_problem}", style="yellow"))
    return Group(*parts)


def _share(amount: float, capacity: float) -> float:
    return amount / capacity if capacity else (0.0 if not amount else 2.0)


def _quantity(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.1f}"
