"""The capacity timeline: allocation per resource over the pilot months, and each pilot's dates.

Three views of one :class:`ngc_pilot.views.CapacityTimeline`: a month ×
resource table of peak allocation against capacity, a day-by-day plot of
allocation as a share of capacity (textual-plotext), and a Gantt chart of the
pilots' planned start and end on the same time axis.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual_plotext import PlotextPlot

from tui.widgets.capacity_bars import LABELS, bar

if TYPE_CHECKING:
    from ngc_pilot.views import CapacityTimeline

GANTT_WIDTH = 60


def months_table(timeline: CapacityTimeline) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False, expand=False)
    table.add_column("resource", no_wrap=True)
    table.add_column("capacity", justify="right", no_wrap=True)
    for month in timeline.months:
        table.add_column(f"{month.month} peak", no_wrap=True)
    for key, cap in timeline.capacity.items():
        cells: list[Text | str] = [LABELS.get(key, key), f"{cap:g}"]
        for month in timeline.months:
            used = month.peak[key]
            fraction = used / cap if cap else (0.0 if not used else 2.0)
            cell = bar(fraction, 8)
            cell.append(f" {used:g} ({100 * fraction:.0f}%)", style="")
            cells.append(cell)
        table.add_row(*cells)
    table.add_row("pilots", "", *(str(len(m.active)) for m in timeline.months))
    return table


def _axis(timeline: CapacityTimeline, width: int) -> Text:
    """Month labels placed over the Gantt bars."""
    days = len(timeline.days)
    line = [" "] * width
    for month in timeline.months:
        col = (month.first - timeline.period_start).days * width // days
        label = "│" + month.first.strftime("%b")
        for i, ch in enumerate(label):
            if col + i < width:
                line[col + i] = ch
    return Text("".join(line), style="dim")


def _span(timeline: CapacityTimeline, start: date, end: date, width: int) -> Text:
    days = len(timeline.days)
    first = (start - timeline.period_start).days
    last = (end - timeline.period_start).days
    cells = []
    for col in range(width):
        lo, hi = col * days // width, (col + 1) * days // width - 1
        cells.append("█" if first <= max(hi, lo) and last >= lo else "·")
    return Text("".join(cells), style="cyan")


def gantt_table(timeline: CapacityTimeline, width: int = GANTT_WIDTH) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for header, justify in (
        ("pilot", "left"),
        ("name", "left"),
        ("start", "left"),
        ("end", "left"),
        ("", "left"),
        ("vCPU", "right"),
        ("RAM GB", "right"),
        ("TB", "right"),
        ("GPU", "right"),
    ):
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_row("", "", "", "", _axis(timeline, width), "", "", "", "")
    for p in timeline.pilots:
        r = p.resources
        table.add_row(
            p.id,
            Text(p.name if len(p.name) <= 26 else p.name[:25] + "…"),
            p.planned_start.isoformat(),
            p.planned_end.isoformat(),
            _span(timeline, p.planned_start, p.planned_end, width),
            f"{r['vcpus']:g}",
            f"{r['ram_gb']:g}",
            f"{r['storage_tb']:g}",
            f"{r['gpus']:g}",
        )
    return table


class AllocationPlot(PlotextPlot):
    """Allocation as a share of capacity, per resource, day by day."""

    def show(self, timeline: CapacityTimeline) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        xs = list(range(len(timeline.days)))
        top = 100.0
        for key, cap in timeline.capacity.items():
            if not cap:
                continue
            ys = [100 * v / cap for v in timeline.daily[key]]
            top = max(top, *ys)
            plt.plot(xs, ys, label=LABELS.get(key, key), marker="braille")
        plt.hline(100, "red")
        ticks = [(m.first - timeline.period_start).days for m in timeline.months]
        plt.xticks(ticks, [m.first.strftime("%b %d") for m in timeline.months])
        # Over-allocation must stay visible (and plotext fails on points above the limit).
        plt.ylim(0, top * 1.1)
        step = 25 if top <= 200 else 100 * max(1, round(top / 400))
        plt.yticks(list(range(0, int(top) + step, step)))
        plt.ylabel("% of capacity")
        plt.title("Allocation over the pilot period (red: capacity)")
        self.refresh()
