"""One tenant's metered use of one metric through a month, as a terminal plot (plotext).

Daily bars by default (one per day of the month, so a pilot's working weeks
show), or the hourly line when asked for (short bursts, e.g. a test tenant
that ran for an afternoon).  With nothing to plot it says so in words instead
of drawing an empty frame with invented axes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual_plotext import PlotextPlot

from tui.widgets.billing_panels import METRIC_LABELS, quantity

if TYPE_CHECKING:
    from ngc_pilot.usage_views import UsageSeries


class UsagePlot(PlotextPlot):
    def show(self, series: UsageSeries, metric: str, *, hourly: bool = False) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        label, unit = METRIC_LABELS.get(metric, (metric, metric))
        values = series.hourly.get(metric) if hourly else series.daily.get(metric)
        total = series.total(metric)
        if not values or not any(values):
            plt.title(f"{series.pilot_id}: no {label} use in {series.month}")
            self.refresh()
            return
        ys = [float(v) for v in values]
        if hourly:
            xs = [i / 24 + 1 for i in range(len(ys))]  # day of the month, fractional
            plt.plot(xs, ys, marker="braille", color="cyan")
            plt.ylabel(f"{unit} per hour")
        else:
            xs = list(range(1, len(ys) + 1))
            plt.bar(xs, ys, color="cyan", width=0.6)
            plt.ylabel(f"{unit} per day")
        days = len(series.daily.get(metric, ())) or 31
        ticks = [d for d in range(1, days + 1) if d == 1 or d % 5 == 0]
        plt.xticks(ticks, [str(d) for d in ticks])
        plt.xlim(0.5, days + 0.5 if not hourly else days + 1)
        plt.ylim(0, max(ys) * 1.1)
        plt.title(f"{label} in {series.month}: {quantity(total)} {unit}")
        self.refresh()

    def show_nothing(self, message: str) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(message)
        self.refresh()
