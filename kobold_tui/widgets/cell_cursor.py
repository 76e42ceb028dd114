"""What every line-rendering table with a cell cursor shares: the movement actions and keeping the cursor cell
in view. `grid.DataGrid` (records) and `diff_table.DiffTable` (merge review) draw their own lines on top."""

from __future__ import annotations

from textual.scroll_view import ScrollView


class CellCursorView(ScrollView):
    """Subclasses say where the cursor is, how many columns there are and where a column lies, and how to move.
    Line 0 is the header."""

    row_count = 0

    @property
    def page_height(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def cursor_cell(self) -> tuple[int, int]:
        raise NotImplementedError

    def column_count(self) -> int:
        raise NotImplementedError

    def column_span(self, index: int) -> tuple[int, int]:
        """(left, right) of a column in content cells, after the row gutter."""
        raise NotImplementedError

    def gutter_cells(self) -> int:
        return 0

    def go(self, row: int | None = None, col: int | None = None) -> None:
        raise NotImplementedError

    def scroll_to_cursor(self) -> None:
        row, col = self.cursor_cell()
        height = self.page_height
        y = self.scroll_offset.y
        if row < y:
            y = row
        elif row >= y + height:
            y = row - height + 1
        x = self.scroll_offset.x
        if self.column_count():
            left, right = self.column_span(col)
            view = self.scrollable_content_region.width - self.gutter_cells()
            if left < x:
                x = left
            elif right > x + view and view > 0:  # no width yet (mid-layout): nothing to scroll into view
                x = max(left, right - view) if right - left > view else right - view
        self.scroll_to(x, y, animate=False, immediate=True)

    def action_cursor_down(self) -> None:
        self.go(row=self.cursor_cell()[0] + 1)

    def action_cursor_up(self) -> None:
        self.go(row=self.cursor_cell()[0] - 1)

    def action_cursor_left(self) -> None:
        self.go(col=self.cursor_cell()[1] - 1)

    def action_cursor_right(self) -> None:
        self.go(col=self.cursor_cell()[1] + 1)

    def action_page_down(self) -> None:
        self.go(row=self.cursor_cell()[0] + self.page_height)

    def action_page_up(self) -> None:
        self.go(row=self.cursor_cell()[0] - self.page_height)

    def action_top(self) -> None:
        self.go(row=0)

    def action_bottom(self) -> None:
        self.go(row=self.row_count - 1)

    def action_first_column(self) -> None:
        self.go(col=0)

    def action_last_column(self) -> None:
        self.go(col=self.column_count() - 1)
