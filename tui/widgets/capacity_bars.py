"""Capacity bars: how much of each resource a selection uses, against the pilot's capacity.

Green while comfortably inside, yellow from 90 %, red above 100 % (the
optimizer never exceeds capacity, but locks and manual data can come close).
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

LABELS = {"vcpus": "vCPU", "ram_gb": "RAM GB", "storage_tb": "storage TB", "gpus": "GPU"}


def bar(fraction: float, width: int) -> Text:
    """A horizontal bar of ``width`` cells filled to ``fraction`` (eighths of a cell)."""
    clipped = max(0.0, min(fraction, 1.0))
    eighths = round(clipped * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + ("" if part == 0 else " ▏▎▍▌▋▊▉"[part])
    style = "red" if fraction > 1.0 else "yellow" if fraction >= 0.9 else "green"
    return Text(text.ljust(width, "·"), style=style)


def capacity_table(
    used: Mapping[str, float], capacity: Mapping[str, float], width: int = 24
) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    for key, cap in capacity.items():
        amount = used.get(key, 0.0)
        fraction = amount / cap if cap else (0.0 if not amount else 2.0)
        table.add_row(
            LABELS.get(key, key),
            bar(fraction, width),
            f"{amount:g}/{cap:g} ({100 * fraction:.0f}%)",
        )
    return table


class CapacityBars(Static):
    def show(self, used: Mapping[str, float], capacity: Mapping[str, float]) -> None:
        self.update(capacity_table(used, capacity))
