"""The merge diff table: a line-rendering `ScrollView` with a cell cursor that paints only the rows on screen.

It asks its owner for a row's cells (`cells(index)`, a list of `Text`) when the row is painted and keeps them until
the owner says the row changed (`refresh_row`, `refresh_rows`). Textual's `DataTable` measured every cell of every
row it held, which made a 10k-record merge review slow to open; this table costs the same for 10 rows or 10k.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from kobold_tui.widgets.cell_cursor import CellCursorView

MEASURED_ROWS = 200  # column widths fit the header and the first rows, as a DataTable holding them would
PADDING = 1  # blank cells on each side of a cell


def _fit(text: str, width: int) -> str:
    """`text` cropped with an ellipsis or padded to exactly `width` cells."""
    if cell_len(text) > width:
        return set_cell_size(text, max(width - 1, 0)) + "…"
    return set_cell_size(text, width)


class DiffTable(CellCursorView, can_focus=True):
    """Rows of `Text` cells under a header, with a cell cursor; rows come from the owner's `cells` callback."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Cursor up", show=False, id="diff-table.up"),
        Binding("down", "cursor_down", "Cursor down", show=False, id="diff-table.down"),
        Binding("left", "cursor_left", "Cursor left", show=False, id="diff-table.left"),
        Binding("right", "cursor_right", "Cursor right", show=False, id="diff-table.right"),
        Binding("pageup", "page_up", "Page up", show=False, id="diff-table.page-up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="diff-table.page-down"),
        Binding("ctrl+home", "top", "First row", show=False, id="diff-table.top"),
        Binding("ctrl+end", "bottom", "Last row", show=False, id="diff-table.bottom"),
        Binding("home", "first_column", "First column", show=False, id="diff-table.first-column"),
        Binding("end", "last_column", "Last column", show=False, id="diff-table.last-column"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"difftable--header", "difftable--cursor", "difftable--even-row"}
    DEFAULT_CSS = """
    DiffTable { background: $surface; color: $foreground; }
    DiffTable:focus { background-tint: $foreground 5%; }
    DiffTable > .difftable--header { text-style: bold; background: $panel; color: $foreground; }
    DiffTable:focus > .difftable--header { background-tint: $foreground 5%; }
    DiffTable > .difftable--even-row { background: $surface-lighten-1 50%; }
    DiffTable:dark > .difftable--even-row { background: $surface-darken-1 40%; }
    DiffTable > .difftable--cursor {
        background: $block-cursor-blurred-background; color: $block-cursor-blurred-foreground;
        text-style: $block-cursor-blurred-text-style;
    }
    DiffTable:focus > .difftable--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground; text-style: $block-cursor-text-style;
    }
    """

    class CellSelected(Message):
        """A click on the cell under the cursor: the owner opens it."""

        def __init__(self, table: DiffTable) -> None:
            super().__init__()
            self.table = table

    def __init__(self, cells: Callable[[int], Sequence[Text]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._cells_of = cells
        self.labels: list[str] = []
        self.widths: list[int] = []
        self.row_count = 0
        self.cursor_row = 0
        self.cursor_column = 0
        self._cells: dict[int, Sequence[Text]] = {}

    # content ----------------------------------------------------------------------------------------------

    def set_rows(self, labels: Sequence[str], row_count: int) -> None:
        """Show `row_count` rows under these column labels; widths fit the labels and the first rows."""
        self.labels = list(labels)
        self.row_count = row_count
        self._cells.clear()
        widths = [cell_len(label) for label in self.labels]
        for index in range(min(row_count, MEASURED_ROWS)):
            for col, cell in enumerate(self._row(index)):
                widths[col] = max(widths[col], cell.cell_len)
        self.widths = widths
        self.cursor_row = min(self.cursor_row, max(row_count - 1, 0))
        self.cursor_column = min(self.cursor_column, max(len(labels) - 1, 0))
        self.virtual_size = Size(sum(w + 2 * PADDING for w in widths), row_count + 1)
        self.refresh()

    def refresh_row(self, index: int) -> None:
        """The owner changed row `index`: ask for its cells again when it is painted."""
        self._cells.pop(index, None)
        y = index - self.scroll_offset.y + 1
        if 0 < y < self.size.height:
            self.refresh_line(y)

    def refresh_rows(self) -> None:
        """The owner changed many rows: ask for every row's cells again."""
        self._cells.clear()
        self.refresh()

    def _row(self, index: int) -> Sequence[Text]:
        cells = self._cells.get(index)
        if cells is None:
            cells = self._cells[index] = self._cells_of(index)
        return cells

    # painting ---------------------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            header = base + self.get_component_rich_style("difftable--header")
            return self._strip([Text(label) for label in self.labels], header, None, scroll_x, width)
        index = scroll_y + y - 1
        if index >= self.row_count:
            return Strip.blank(width, base)
        row_style = base + self.get_component_rich_style("difftable--even-row") if index % 2 == 0 else base
        cursor = self.cursor_column if index == self.cursor_row else None
        return self._strip(self._row(index), row_style, cursor, scroll_x, width)

    def _strip(
        self, cells: Sequence[Text], style: Style, cursor: int | None, scroll_x: int, width: int
    ) -> Strip:
        """One line: each cell padded, its text in its own style over the row's (the cursor's on the cursor cell);
        past the last column the widget's background."""
        segments = []
        for col, (cell, cell_width) in enumerate(zip(cells, self.widths, strict=False)):
            cell_style = (
                style + self.get_component_rich_style("difftable--cursor") if col == cursor else style
            )
            own = cell.style
            text_style = (
                cell_style + (own if isinstance(own, Style) else Style.parse(own)) if own else cell_style
            )
            text = _fit(cell.plain, cell_width).rstrip(" ")
            segments.append(Segment(" " * PADDING, cell_style))
            if text:
                segments.append(Segment(text, text_style))
            segments.append(Segment(" " * (cell_width - cell_len(text) + PADDING), cell_style))
        return Strip(segments).crop(scroll_x, scroll_x + width).adjust_cell_length(width, self.rich_style)

    # cursor -----------------------------------------------------------------------------------------------

    def move_cursor(self, row: int | None = None, column: int | None = None) -> None:
        """Put the cursor on a cell (clamped to the table) and scroll it into view."""
        if row is not None:
            self.cursor_row = max(0, min(row, self.row_count - 1))
        if column is not None:
            self.cursor_column = max(0, min(column, len(self.labels) - 1))
        self.scroll_to_cursor()
        self.refresh()

    def cursor_cell(self) -> tuple[int, int]:
        return self.cursor_row, self.cursor_column

    def column_count(self) -> int:
        return len(self.widths)

    def column_span(self, index: int) -> tuple[int, int]:
        left = sum(w + 2 * PADDING for w in self.widths[:index])
        return left, left + self.widths[index] + 2 * PADDING

    def go(self, row: int | None = None, col: int | None = None) -> None:
        self.move_cursor(row=row, column=col)

    # mouse ------------------------------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        row = self.scroll_offset.y + offset.y - 1
        x = offset.x + self.scroll_offset.x
        column, left = None, 0
        for i, w in enumerate(self.widths):
            if left <= x < left + w + 2 * PADDING:
                column = i
                break
            left += w + 2 * PADDING
        if row >= self.row_count or column is None:
            return
        if (row, column) == (self.cursor_row, self.cursor_column):
            self.post_message(self.CellSelected(self))
        else:
            self.move_cursor(row=row, column=column)
