"""Usage & billing: what each tenant used in a month, its shadow invoice, and a what-if.

For the month picked (``[`` / ``]``, or ``g`` to type one; it opens on the
latest month with usage or invoices): a table of every tenant with its
metered totals and its invoice's list amount, discount and charged amount;
beside it a plot of the highlighted tenant's use of one metric (``m`` picks
the metric, ``h`` switches between days and hours); below it the highlighted
tenant's invoice line by line with its totals (the pilot discount visible),
or the what-if: the same usage priced with another price list (``w`` asks
for its file), tenant by tenant and item by item.

Nothing here invents a number: usage comes from ``usage_record`` (metering),
invoices are the stored revisions (``billing.invoices``), the what-if is
``billing.what_if`` (writes nothing).  What is missing is said with the
command that fills it.  Rating the month (``R``, asks first) calls the same
``billing.rate_month`` as ``ngc-pilot invoice`` (a new revision only where
something changed; audited).  Metering itself needs the cloud and stays with
``ngc-pilot meter`` / ``serve``.

One piece (over 400 lines) because the table, the plot, the invoice lines and
the what-if all follow one month and one highlighted tenant; the cells and
titles are made in ``tui.widgets.billing_panels``, the plot in
``usage_plot`` and the month prompt in ``tui.screens.prompt``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from tui.errors import reported
from tui.screens.base import OpsScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.prompt import PromptScreen
from tui.widgets.billing_panels import (
    LINE_COLUMNS,
    METRIC_LABELS,
    METRICS,
    USAGE_COLUMNS,
    WHAT_IF_ITEM_COLUMNS,
    WHAT_IF_TENANT_COLUMNS,
    invoice_title,
    line_cells,
    month_status,
    tenant_cells,
    total_cells,
    what_if_item_rows,
    what_if_tenant_cells,
    what_if_total_cells,
)
from tui.widgets.table import OpsTable, cursor_key

if TYPE_CHECKING:
    from ngc_pilot.billing import InvoiceDoc
    from ngc_pilot.facade import UsageMonth, UsageTenant, WhatIfView
    from ngc_pilot.usage_views import UsageSeries

TENANT_COLUMNS = (
    ("pilot", "pilot", 11),
    ("name", "name", 18),
    *((key, header, 9) for key, header in USAGE_COLUMNS),
    ("list", "list", 10),
    ("charged", "charged", 8),
)


def shift_month(month: str, by: int) -> str:
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def check_month(text: str) -> str | None:
    year, sep, month = text.partition("-")
    if not (sep and len(year) == 4 and year.isdigit() and month.isdigit() and len(month) == 2):
        return f"{text!r} is not a month: write YYYY-MM, e.g. 2021-05"
    if not 1 <= int(month) <= 12 or int(year) < 1970:
        return f"{text!r} is not a month: the month is 01…12, the year 1970 or later"
    return None


def check_price_file(text: str) -> str | None:
    if not text:
        return "give the path of a price list (YAML), e.g. policies/prices.yaml"
    path = Path(text).expanduser()
    if not path.is_file():
        return f"{path}: no such file (relative paths start at {Path.cwd()})"
    return None


class UsageScreen(OpsScreen):
    MODE = "usage"
    TITLE = "Usage & billing"
    AUTO_FOCUS = "#use-table"
    HELP = (
        "\nUsage comes from metering (`ngc-pilot meter`, or the meter job of `ngc-pilot serve`); "
        "invoices from rating (`ngc-pilot invoice --month YYYY-MM`, or R here). During the "
        "pilot the list amount is shown in full and the pilot discount takes it to zero. "
        "A month rated again gets a new revision only if something changed. The what-if (w) "
        "prices the same usage with another price list file and writes nothing."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "left_square_bracket",
            "month(-1)",
            "Prev month",
            key_display="[",
            tooltip="The month before ([)",
        ),
        Binding(
            "right_square_bracket",
            "month(1)",
            "Next month",
            key_display="]",
            tooltip="The month after (])",
        ),
        Binding("g", "goto_month", "Go to month", tooltip="Type a month, YYYY-MM (g)"),
        Binding("m", "metric(1)", "Metric", tooltip="Plot the next metric (m)"),
        Binding(
            "M", "metric(-1)", "Prev metric", show=False, tooltip="Plot the previous metric (M)"
        ),
        Binding("h", "resolution", "Days/hours", tooltip="Plot per day or per hour (h)"),
        Binding(
            "i", "tab('use-tab-invoice')", "Invoice", tooltip="The highlighted tenant's invoice (i)"
        ),
        Binding("w", "what_if", "What-if", tooltip="Price the month with another price list (w)"),
        Binding(
            "R",
            "rate",
            "Rate month",
            tooltip="Rate the month's usage into shadow invoices (asks first) (R)",
        ),
    ]

    # ------------------------------------------------------------- messages

    class Loaded(Message):
        def __init__(self, view: UsageMonth) -> None:
            super().__init__()
            self.view = view

    class SeriesLoaded(Message):
        def __init__(self, series: UsageSeries) -> None:
            super().__init__()
            self.series = series

    class Rated(Message):
        def __init__(self, month: str, docs: list[InvoiceDoc] | None) -> None:
            super().__init__()
            self.month = month
            self.docs = docs

    class WhatIfLoaded(Message):
        """A what-if was priced; ``view`` is None when it failed (already reported)."""

        def __init__(self, month: str, path: str, view: WhatIfView | None) -> None:
            super().__init__()
            self.month = month
            self.path = path
            self.view = view

    # ---------------------------------------------------------------- layout

    def __init__(self) -> None:
        super().__init__()
        self.month: str | None = None  # None: let the services pick the latest with data
        self.view: UsageMonth | None = None
        self.rows: dict[str, UsageTenant] = {}
        self.series: UsageSeries | None = None
        self.metric = METRICS[0]
        self.hourly = False
        self.what_if_view: WhatIfView | None = None
        self.other_prices: str = ""
        # Read once per visit of a month or tenant; a reload (ctrl+r, or data written
        # elsewhere) forgets them.
        self.months: dict[str, UsageMonth] = {}
        self.series_cache: dict[tuple[str, str], UsageSeries] = {}

    def compose_body(self) -> ComposeResult:
        yield Static("Loading usage and invoices…", id="use-status")
        with Horizontal(id="use-top"):
            table: DataTable[Any] = OpsTable(id="use-table", cursor_type="row", zebra_stripes=True)
            table.loading = True
            yield table
            with Vertical(id="use-plot-box"):
                from tui.widgets.usage_plot import UsagePlot  # plotext: only once shown

                yield UsagePlot(id="use-plot")
                yield Static("", id="use-plot-empty")
        with TabbedContent(id="use-tabs", initial="use-tab-invoice"):
            with TabPane("Invoice (i)", id="use-tab-invoice"):
                yield OpsTable(id="use-lines", cursor_type="row", zebra_stripes=True)
            with TabPane("What-if (w)", id="use-tab-what-if"), Horizontal():
                yield OpsTable(id="use-wi-tenants", cursor_type="row", zebra_stripes=True)
                yield OpsTable(id="use-wi-items", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#use-table", DataTable)
        for key, header, width in TENANT_COLUMNS:
            table.add_column(header, key=key, width=width)
        lines = self.query_one("#use-lines", DataTable)
        for key, header, width in LINE_COLUMNS:
            lines.add_column(header, key=key, width=width)
        lines.border_title = "Shadow invoice"
        tenants = self.query_one("#use-wi-tenants", DataTable)
        for key, header, width in WHAT_IF_TENANT_COLUMNS:
            tenants.add_column(header, key=key, width=width)
        tenants.border_title = "What-if: no other price list loaded (w)"
        items = self.query_one("#use-wi-items", DataTable)
        for key, header, width in WHAT_IF_ITEM_COLUMNS:
            items.add_column(header, key=key, width=width)
        items.border_title = "Per item"
        self.query_one("#use-plot-box").border_title = "Usage over the month"
        self._show_plot_message("Loading…")

    # ---------------------------------------------------------------- loading

    def load(self) -> None:
        self.series = None  # metering may have added windows since
        self.months.clear()
        self.series_cache.clear()
        self._load(self.month)

    @work(thread=True, exclusive=True, group="load")
    def _load(self, month: str | None) -> None:
        with reported(self, "Loading usage and invoices"):
            self.post_message(self.Loaded(self.services.usage_month(month)))

    def on_usage_screen_loaded(self, message: Loaded) -> None:
        view = message.view
        if self.month is not None and view.month != self.month:
            return  # an older request answered after the month changed
        self.view = view
        self.month = view.month
        self.months[view.month] = view
        self.rows = {t.pilot_id: t for t in view.tenants}
        table = self.table
        keep = self.highlighted_id()
        table.clear()
        for row in view.tenants:
            table.add_row(*tenant_cells(row), key=row.pilot_id)
        table.loading = False
        self.focus_default()
        if keep in self.rows:
            table.move_cursor(row=table.get_row_index(keep))
        invoiced = len(view.invoices)
        table.border_title = (
            f"{len(view.tenants)} tenants in {view.month} · {invoiced} invoiced ({view.currency})"
            if view.tenants
            else f"No tenants in {view.month}"
        )
        self.query_one("#use-status", Static).update(month_status(view))
        if self.what_if_view is not None and self.what_if_view.month != view.month:
            self.what_if_view = None
            self._fill_what_if()
            if self.other_prices:
                self._what_if(view.month, self.other_prices)
        self.show_highlighted()

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#use-table", DataTable)

    def highlighted_id(self) -> str | None:
        return cursor_key(self.table)

    @on(DataTable.RowHighlighted, "#use-table")
    def _highlighted(self) -> None:
        self.show_highlighted()

    def show_highlighted(self) -> None:
        pid = self.highlighted_id()
        row = self.rows.get(pid) if pid else None
        self._fill_lines(row)
        self._fill_what_if_items()
        if row is None or self.month is None:
            self.series = None
            self._show_plot_message("No tenant to plot." if self.view is not None else "Loading…")
            return
        if self.series is not None and (self.series.pilot_id, self.series.month) == (
            row.pilot_id,
            self.month,
        ):
            self._draw()
            return
        cached = self.series_cache.get((row.pilot_id, self.month))
        if cached is not None:
            self.series = cached
            self._draw()
            return
        if not row.usage:
            self.series = None
            self._show_plot_message(
                f"{row.pilot_id} has no metered usage in {self.month}."
                + (
                    ""
                    if self.view is None or self.view.span.first_window
                    else "\nNothing is metered yet: `ngc-pilot meter` records usage."
                )
            )
            return
        self._load_series(row.pilot_id, self.month)

    @work(thread=True, exclusive=True, group="series")
    def _load_series(self, pilot_id: str, month: str) -> None:
        with reported(self, f"Loading the usage of {pilot_id}"):
            self.post_message(self.SeriesLoaded(self.services.usage_series(pilot_id, month)))

    def on_usage_screen_series_loaded(self, message: SeriesLoaded) -> None:
        series = message.series
        if series.pilot_id != self.highlighted_id() or series.month != self.month:
            return  # the cursor or the month moved on meanwhile
        self.series_cache[(series.pilot_id, series.month)] = series
        self.series = series
        self._draw()

    # ------------------------------------------------------------------ plot

    def _show_plot_message(self, message: str) -> None:
        from tui.widgets.usage_plot import UsagePlot

        self.query_one(UsagePlot).display = False
        empty = self.query_one("#use-plot-empty", Static)
        empty.update(Text(message, style="yellow"))
        empty.display = True

    def _draw(self) -> None:
        from tui.widgets.usage_plot import UsagePlot

        series = self.series
        if series is None:
            return
        label = METRIC_LABELS[self.metric][0]
        box = self.query_one("#use-plot-box")
        box.border_title = (
            f"{series.pilot_id} · {label} per {'hour' if self.hourly else 'day'} "
            "(m: metric, h: day/hour)"
        )
        values = series.hourly.get(self.metric) if self.hourly else series.daily.get(self.metric)
        if not values or not any(values):
            self._show_plot_message(
                f"{series.pilot_id} used no {label} ({self.metric}) in {series.month}; "
                f"m shows another metric."
            )
            return
        self.query_one("#use-plot-empty", Static).display = False
        plot = self.query_one(UsagePlot)
        plot.display = True
        plot.show(series, self.metric, hourly=self.hourly)

    def action_metric(self, step: int) -> None:
        self.metric = METRICS[(METRICS.index(self.metric) + step) % len(METRICS)]
        if self.series is not None:
            self._draw()
        else:
            self.show_highlighted()

    def action_resolution(self) -> None:
        self.hourly = not self.hourly
        if self.series is not None:
            self._draw()

    # --------------------------------------------------------------- invoice

    def _fill_lines(self, row: UsageTenant | None) -> None:
        lines = self.query_one("#use-lines", DataTable)
        lines.clear()
        if row is None:
            lines.border_title = (
                f"Shadow invoice: no tenant in {self.month}" if self.view else "Shadow invoice"
            )
            return
        doc = row.invoice
        if doc is None:
            month = self.month or ""
            lines.border_title = (
                f"{row.pilot_id} has no shadow invoice for {month}: "
                f"`ngc-pilot invoice --month {month}` (or R) rates it"
                if row.usage or row.tenant_state
                else f"{row.pilot_id}: nothing to invoice in {month}"
            )
            return
        for line in doc.lines:
            lines.add_row(*line_cells(line), key=str(line.position))
        lines.add_row(*total_cells(doc), key="total")
        lines.border_title = invoice_title(doc)

    def action_tab(self, tab: str) -> None:
        self.query_one("#use-tabs", TabbedContent).active = tab

    # --------------------------------------------------------------- months

    def _go(self, month: str) -> None:
        if month == self.month:
            return
        self.month = month
        self.series = None
        cached = self.months.get(month)
        if cached is not None:
            self.on_usage_screen_loaded(self.Loaded(cached))
            return
        self.query_one("#use-status", Static).update(Text(f"Loading {month}…", style="dim"))
        self._load(month)

    def action_month(self, step: int) -> None:
        if self.month is None:
            return
        self._go(shift_month(self.month, step))

    def action_goto_month(self) -> None:
        self.app.push_screen(
            PromptScreen(
                "Go to month",
                "The month to show, YYYY-MM. Months with usage: "
                + (", ".join(self.view.span.metered_months) if self.view else "")
                + "; with invoices: "
                + (", ".join(self.view.span.invoice_months) if self.view else ""),
                value=self.month or "",
                placeholder="2021-05",
                check=check_month,
                ok="Go",
            ),
            lambda month: self._go(month) if month else None,
        )

    # ---------------------------------------------------------------- rating

    def action_rate(self) -> None:
        view = self.view
        if view is None:
            return
        if not view.metered and not view.tenants:
            self.notify(
                f"Nothing to rate in {view.month}: no tenant and no usage.", severity="warning"
            )
            return
        body = Text()
        body.append(
            f"Rate {view.month} for every tenant with the price list {view.prices_source}.\n\n"
        )
        body.append(
            "A tenant whose invoice would not change keeps it; a changed one gets a new "
            "revision (audited). A month that has ended is rated final. A price that "
            "invoices already used and that the file now changes is refused (use "
            "`ngc-pilot invoice --force` for that).",
            style="dim",
        )
        month = view.month
        self.app.push_screen(
            ConfirmScreen(f"Rate the shadow invoices of {month}?", body, yes="Rate"),
            lambda yes: self._rate(month) if yes else None,
        )

    @work(thread=True, exclusive=True, group="rate")
    def _rate(self, month: str) -> None:
        docs = None
        with reported(self, f"Rating {month}"):
            docs = self.services.rate_month(month)
        self.post_message(self.Rated(month, docs))

    def on_usage_screen_rated(self, message: Rated) -> None:
        if message.docs is None:
            return  # the notification says why
        written = [d for d in message.docs if d.written]
        self.notify(
            f"{message.month}: {len(message.docs)} invoice(s), {len(written)} new revision(s).",
            title="Rated",
        )
        self.changed()

    # --------------------------------------------------------------- what-if

    def action_what_if(self) -> None:
        if self.month is None:
            return
        month = self.month
        self.app.push_screen(
            PromptScreen(
                f"What-if: price {month} with another price list",
                "The path of a price list file (YAML, the format of policies/prices.yaml). "
                "The same usage is rated with it and with the current list, side by side; "
                "nothing is written.",
                value=self.other_prices,
                placeholder="e.g. ~/prices-2022.yaml",
                check=check_price_file,
                ok="Compare",
            ),
            lambda path: self._start_what_if(month, path) if path else None,
        )

    def _start_what_if(self, month: str, path: str) -> None:
        self.other_prices = path
        self.action_tab("use-tab-what-if")
        self.query_one(
            "#use-wi-tenants", DataTable
        ).border_title = f"What-if: pricing {month} with {path}…"
        self._what_if(month, path)

    @work(thread=True, exclusive=True, group="what-if")
    def _what_if(self, month: str, path: str) -> None:
        view = None
        with reported(self, f"What-if with {path}"):
            view = self.services.what_if(month, Path(path).expanduser())
        self.post_message(self.WhatIfLoaded(month, path, view))

    def on_usage_screen_what_if_loaded(self, message: WhatIfLoaded) -> None:
        if message.month != self.month:
            return
        if message.view is None:
            self.other_prices = ""  # not re-priced when the month changes
            if self.what_if_view is None:
                self.query_one(
                    "#use-wi-tenants", DataTable
                ).border_title = (
                    f"What-if: {message.path} could not be used (see the notification); w: another"
                )
            return
        self.what_if_view = message.view
        self._fill_what_if()
        self._fill_what_if_items()

    def _fill_what_if(self) -> None:
        tenants = self.query_one("#use-wi-tenants", DataTable)
        tenants.clear()
        view = self.what_if_view
        if view is None:
            tenants.border_title = "What-if: no other price list loaded (w)"
            return
        for row in view.rows:
            tenants.add_row(
                *what_if_tenant_cells(row.pilot_id, row.current, row.other), key=row.pilot_id
            )
        tenants.add_row(*what_if_total_cells(view), key="total")
        tenants.border_title = (
            f"What-if {view.month}: {Path(view.current_source).name} → "
            f"{Path(view.other_source).name}"
        )

    def _fill_what_if_items(self) -> None:
        items = self.query_one("#use-wi-items", DataTable)
        items.clear()
        view = self.what_if_view
        pid = self.highlighted_id()
        if view is None or pid is None:
            items.border_title = "Per item"
            return
        found = next((r for r in view.rows if r.pilot_id == pid), None)
        if found is None:
            items.border_title = f"{pid}: nothing to price in {view.month}"
            return
        for key, cells in what_if_item_rows(found.current, found.other):
            items.add_row(*cells, key=key)
        items.border_title = f"{pid} per item: now vs other"
