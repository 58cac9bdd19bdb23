"""``OpsTable``: Textual's DataTable with three costs taken out, for tables of 1,000 rows.

Measured with ``bench/tui.py`` (1,000 applications, 100 pilots), the
DataTable spent the time of a screen switch or a sort redrawing cells it had
already drawn, and the time of a fill measuring cells whose column width was
already fixed:

* Every screen switch re-applies the stylesheet, and DataTable then drops
  all its rendered lines and cells even though no style changed.  Here the
  caches are dropped only when a style the table draws with really changed
  (checked when the table is next drawn).
* A cell is drawn through Rich's generic pipeline (Styled, Padding,
  render_lines, split_and_crop_lines: about 130 µs a cell).  A one-line
  cell that is a ``str`` or a one-line ``rich.text.Text`` is drawn here
  directly into the same segments (about 20 µs); anything else (several
  lines, tabs, other renderables) still goes through DataTable's own code.
  A ``str`` is shown as it is, never parsed as Rich markup (DataTable would
  parse it: "[x]" in a project name would vanish).
* Columns added with a ``width`` are never measured: filling 1,000 rows does
  not measure 10,000 cells.  Columns without a width measure as before.
  ``fit_columns`` sizes columns to given cells from their text length alone
  (what DataTable's measuring finds for text, at a fraction of the cost).

It relies on DataTable internals (``_render_cell``, ``_update_dimensions``,
``_update_column_widths``, its caches) of the pinned Textual (``>=8,<9``);
``tests/functional/test_tui_table.py`` checks that it draws exactly what
DataTable draws, so an upgrade that changes them fails loudly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.render import measure
from textual.scroll_view import ScrollView
from textual.widgets import DataTable
from textual.widgets._data_table import CellKey, ColumnKey, RowKey


class OpsTable(DataTable[Any]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._style_check_pending = False
        self._style_fingerprint: tuple[Any, ...] | None = None

    # ------------------------------------------------- keep caches across switches

    def notify_style_update(self) -> None:
        # DataTable drops every cache here; only note that styles may have changed.
        ScrollView.notify_style_update(self)
        self._style_check_pending = True
        self.refresh()

    def _current_style_fingerprint(self) -> tuple[Any, ...]:
        return (
            self.rich_style,
            self.cell_padding,
            *(self.get_component_styles(name).rich_style for name in self.COMPONENT_CLASSES),
        )

    def render_lines(self, crop: Any) -> Any:
        if self._style_check_pending:
            self._style_check_pending = False
            fingerprint = self._current_style_fingerprint()
            if fingerprint != self._style_fingerprint:
                self._style_fingerprint = fingerprint
                self._clear_caches()
        return super().render_lines(crop)

    # ----------------------------------------------------- never measure fixed columns

    def fit_columns(
        self, rows: Iterable[Sequence[object]], limits: Mapping[str, int] | None = None
    ) -> None:
        """Fix every column's width to the widest of its label and its cells in ``rows``
        (at most ``limits[key]``); later rows are never measured."""
        columns = self.ordered_columns
        widths = [cell_len(column.label.plain) for column in columns]
        for cells in rows:
            for i, cell in enumerate(cells):
                width = self._cell_width(cell)
                if width > widths[i]:
                    widths[i] = width
        limits = limits or {}
        changed = False
        for column, width in zip(columns, widths, strict=True):
            width = min(width, limits.get(str(column.key.value), width))
            if column.auto_width or column.width != width:
                column.auto_width, column.width, changed = False, width, True
        if changed:
            self._require_update_dimensions = True
            self._clear_caches()
            self.refresh()

    def set_column_width(self, key: str, width: int) -> None:
        column = self.columns[ColumnKey(key)]
        if column.auto_width or column.width != width:
            column.auto_width, column.width = False, width
            self._require_update_dimensions = True
            self._clear_caches()
            self.refresh()

    def _cell_width(self, cell: object) -> int:
        if cell is None:
            return 0
        if isinstance(cell, str):
            return cell_len(cell)
        if isinstance(cell, Text):
            plain = cell.plain
            if "\n" not in plain:
                return cell_len(plain)
            return max(cell_len(line) for line in plain.split("\n"))
        return measure(self.app.console, cell, 1)  # any other renderable: as DataTable does

    def _all_columns_fixed(self) -> bool:
        return bool(self.columns) and not any(c.auto_width for c in self.columns.values())

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        if self._all_columns_fixed():
            # Only rows that need measuring for their own sake (labels, auto height).
            new_rows = [
                key
                for key in new_rows
                if (row := self.rows.get(key)) is not None
                and (row.auto_height or row.label is not None)
            ]
        super()._update_dimensions(new_rows)

    def _update_column_widths(self, updated_cells: set[CellKey]) -> None:
        auto = {
            cell
            for cell in updated_cells
            if (column := self.columns.get(cell.column_key)) is not None and column.auto_width
        }
        super()._update_column_widths(auto)
        self._require_update_dimensions = True

    # ------------------------------------------------------------- cheap cell drawing

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        if row_index < 0 or column_index < 0:  # header and row labels: DataTable's way
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        row = self.rows.get(row_key) if row_key is not None else None
        if row is None or row.height != 1:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        column_key = self._column_locations.get_key(column_index)
        cache_key = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._cell_render_cache.get(cache_key)
        if cached is not None:
            return cached
        value = self._data[row_key].get(column_key)
        segments = self._line_segments(value, max(width - 2 * self.cell_padding, 0))
        if segments is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        fixed = row_index < self.fixed_rows or column_index < self.fixed_columns
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            fixed,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        pre_style = (
            base_style + Style.from_meta({"row": row_index, "column": column_index})
        ) + component_style
        pad = Segment(" " * self.cell_padding) if self.cell_padding else None
        line = [pad, *segments, pad] if pad else segments
        lines = [list(Segment.apply_style(line, pre_style, post_style))]
        self._cell_render_cache[cache_key] = lines
        return lines

    def _line_segments(self, value: object, width: int) -> list[Segment] | None:
        """``value`` as exactly ``width`` cells of segments, as Rich would draw it on one
        line (crop or ellipsis, justify, the text's own style on its padding), or None
        when it is not a one-line text."""
        if value is None:
            return [Segment(" " * width)] if width else []
        if isinstance(value, str):
            text = Text(value)
        elif isinstance(value, Text):
            text = value
        else:
            return None
        plain = text.plain
        if "\n" in plain or "\t" in plain:
            return None
        # DataTable renders with the app's console options, which set no justify or
        # overflow of their own: the text's, or Rich's defaults, apply.
        justify = text.justify or "default"
        overflow = text.overflow or "fold"
        if justify == "full":
            justify = "default"  # a single line is never fully justified
        length = cell_len(plain)
        if overflow == "ignore" or (length == width and justify == "default"):
            line = text
        else:
            line = text.copy()
            if justify in ("center", "right"):
                line.rstrip()
            _truncate(line, width, overflow)
            length = cell_len(line.plain)
            if justify == "left" and length < width:
                line.pad_right(width - length)
            elif justify == "center" and length < width:
                line.pad_left((width - length) // 2)
                line.pad_right(width - cell_len(line.plain))
            elif justify == "right" and length < width:
                line.pad_left(width - length)
            length = cell_len(line.plain)
        console = self.app.console
        if line._spans:
            segments = list(line.render(console))
        elif line.style:
            segments = [Segment(line.plain, console.get_style(line.style))]
        else:
            segments = [Segment(line.plain)]
        if length < width:
            segments.append(Segment(" " * (width - length)))
        elif length > width:
            segments = Segment.adjust_line_length(segments, width)
        return segments


def _truncate(text: Text, width: int, overflow: str) -> None:
    """``Text.truncate`` (crop, or ellipsis), without its padding."""
    if cell_len(text.plain) > width:
        if overflow == "ellipsis":
            text.plain = set_cell_size(text.plain, max(width - 1, 0)) + "…"
        else:
            text.plain = set_cell_size(text.plain, width)


def cursor_key(table: DataTable[Any]) -> str | None:
    """The row key under ``table``'s cursor, or None (empty table, no key)."""
    if table.row_count == 0:
        return None
    try:
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    except Exception:  # noqa: BLE001 - a cursor past the rows during a refill
        return None
    return None if key.value is None else str(key.value)
