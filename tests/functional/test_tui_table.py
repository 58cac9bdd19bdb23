"""``OpsTable`` draws exactly what Textual's DataTable draws, only faster.

It overrides DataTable internals of the pinned Textual; these tests put both
tables side by side with the same cells and compare every rendered cell and
line, so a Textual upgrade that changes those internals fails here first.
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from tui.testing import synchronously
from tui.widgets.table import OpsTable

CELLS: list[Any] = [
    "plain str",
    "",
    None,
    "a str much longer than its column",
    Text("yes", style="green"),
    Text("12.5", justify="right"),
    Text("  7  ", justify="right", style="bold"),
    Text("middle", justify="center", style="on red"),
    Text("left", justify="left", style="underline"),
    Text("a long bold text that overflows", style="bold"),
    Text("ellipsis for a long text", overflow="ellipsis"),
    Text.assemble(("red", "red"), " plain ", ("blue", "blue on white")),
    Text("LEAK", style="bold white on red"),
    Text("数据集 genome", style="cyan"),
    Text("🔒 locked"),
]
WIDTHS = (12, 5, 1)


class Pair(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable(id="reference", cursor_type="row")
        yield OpsTable(id="fast", cursor_type="row")

    def on_mount(self) -> None:
        for table in self.query(DataTable):
            table.add_column("auto", key="auto")  # measured, like DataTable's
            for width in WIDTHS:
                table.add_column(f"w{width}", key=f"w{width}", width=width)
            for i, cell in enumerate(CELLS):
                table.add_row(cell, cell, cell, cell, key=str(i))


def _simple(line: list[Segment]) -> list[Segment]:
    return list(Segment.simplify(line))


@synchronously
async def test_every_cell_and_line_is_drawn_exactly_like_datatable():
    app = Pair()
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_focus(None)  # the cursor is drawn differently in a focused table
        await pilot.pause()
        reference = app.query_one("#reference", DataTable)
        fast = app.query_one("#fast", OpsTable)
        assert fast.columns[fast.ordered_columns[0].key].content_width == (
            reference.columns[reference.ordered_columns[0].key].content_width
        )
        style = reference.rich_style
        for row in range(len(CELLS)):
            for column, spec in enumerate(reference.ordered_columns):
                width = spec.get_render_width(reference)
                for cursor, hover in ((False, False), (True, False), (False, True)):
                    want = reference._render_cell(row, column, style, width, cursor, hover)
                    got = fast._render_cell(row, column, style, width, cursor, hover)
                    assert [_simple(x) for x in got] == [_simple(x) for x in want], (
                        row,
                        column,
                        cursor,
                        hover,
                    )
        for y in range(len(CELLS) + 1):
            assert list(fast.render_line(y)) == list(reference.render_line(y)), y


@synchronously
async def test_a_str_cell_is_shown_as_it_is_never_as_markup():
    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield OpsTable(id="t")

    app = One()
    async with app.run_test(size=(60, 5)) as pilot:
        table = app.query_one(OpsTable)
        table.add_column("name", width=30)
        table.add_row("Study [phase 2] of [bold]x")
        await pilot.pause()
        assert "Study [phase 2] of [bold]x" in table.render_line(1).text


@synchronously
async def test_fixed_width_columns_are_never_measured():
    class Many(App[None]):
        def compose(self) -> ComposeResult:
            yield OpsTable(id="t")

    app = Many()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(OpsTable)
        key = table.add_column("id", width=4)
        for i in range(200):
            table.add_row(f"row number {i} is wider than four", key=str(i))
        await pilot.pause()
        assert table.columns[key].content_width == len("id")
        table.update_cell("7", key, "x" * 50)
        await pilot.pause()
        assert table.columns[key].content_width == len("id")
        assert table.render_line(1).text.startswith(" row ")


@synchronously
async def test_cached_cells_survive_a_restyle_that_changes_nothing_but_not_a_theme_change():
    app = Pair()
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_focus(None)
        await pilot.pause()
        fast = app.query_one("#fast", OpsTable)
        fast.render_line(1)
        cached = len(fast._cell_render_cache)
        assert cached > 0
        app.update_styles(fast)  # what a screen switch does to every widget
        await pilot.pause()
        fast.render_lines(fast.region.reset_offset)
        assert len(fast._cell_render_cache) >= cached
        before = fast.render_line(1)
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        fast.render_lines(fast.region.reset_offset)
        after = fast.render_line(1)
        assert list(after) != list(before)  # redrawn in the new theme's colours
        reference = app.query_one("#reference", DataTable)
        reference.render_lines(reference.region.reset_offset)
        assert list(after) == list(reference.render_line(1))
