"""The table grid: a line-rendering `ScrollView` whose virtual height is the row count of the view.

It paints only the lines on screen, reading them from a `PageCache`; a million rows cost the same as a
hundred. The grid knows nothing about the engine's writes: it moves a cursor, keeps a row selection
and tells its owner through messages.

Computed fields follow the stored fields as read-only columns (header "ƒ name"); a failed formula shows its
"#ERR …" message in the error colour, and a record failing a validation gets "!" in the gutter.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip

from kobold_tui import commands
from kobold_tui.widgets.cell_cursor import CellCursorView
from kobold_tui.widgets.page_cache import PageCache, Row

_WIDTHS = {
    "boolean": 7, "integer": 10, "decimal": 12, "date": 10, "datetime": 19, "string": 22, "text": 26,
    "reference": 22, "references": 28,
}  # fmt: skip
_RIGHT = ("integer", "decimal")
PLACEHOLDER = "…"
COMPUTED_MARK = "ƒ "
INVALID_MARK = "!"


@dataclass(frozen=True)
class Column:
    name: str
    key: str
    type: str
    width: int
    computed: bool = False

    @property
    def title(self) -> str:
        """The header text: computed columns are marked."""
        return f"{COMPUTED_MARK}{self.name}" if self.computed else self.name

    @classmethod
    def for_field(cls, field: dict[str, Any]) -> Column:
        width = _WIDTHS.get(field["type"], 18)
        if field["type"] == "choice":
            width = max(len(c) for c in field.get("choices") or [""])
        width = max(width, len(field["name"]) + 2)
        return cls(field["name"], field["key"], field["type"], min(width, 40))

    @classmethod
    def for_computed(cls, computed: dict[str, Any]) -> Column:
        width = max(_WIDTHS.get(computed["type"], 18), len(computed["name"]) + 2 + len(COMPUTED_MARK))
        return cls(computed["name"], computed["key"], computed["type"], min(width, 40), computed=True)


def row_errors(row: Row | None) -> dict[str, str]:
    """Formula errors of a row (`_errors`, second to last), by computed field name/key."""
    raw = row[-2] if row else None
    if not raw:
        return {}
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def row_invalid(row: Row | None) -> str | None:
    """Validation messages of a row (`_invalid`, last), or None when it passes."""
    return str(row[-1]) if row and row[-1] else None


def format_value(value: Any, ftype: str, labels: dict[str, str]) -> str:
    """A cell's text: references by their target's display value, booleans as marks."""
    if value is None:
        return ""
    if ftype == "boolean":
        return "✓" if value else "✗"
    if ftype == "reference":
        return str(labels.get(value, value))
    if ftype == "references":
        return ", ".join(labels.get(v, v) for v in value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value)
    return text.split("\n", 1)[0] + (" ⏎" if "\n" in text else "")


def fit(text: str, width: int, right: bool = False) -> str:
    if len(text) > width:
        return text[: max(width - 1, 0)] + "…"
    return text.rjust(width) if right else text.ljust(width)


class DataGrid(CellCursorView, can_focus=True):
    """Rows of one resource view. `row_count` is the number of matching rows; `cache` serves them."""

    BINDINGS: ClassVar[list[BindingType]] = commands.bindings("grid")
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "datagrid--header", "datagrid--header-sorted", "datagrid--cursor", "datagrid--cursor-row",
        "datagrid--selected", "datagrid--gutter", "datagrid--empty", "datagrid--error", "datagrid--computed",
    }  # fmt: skip
    DEFAULT_CSS = """
    DataGrid { background: $surface; scrollbar-gutter: stable; }
    DataGrid > .datagrid--header { background: $panel; color: $foreground; text-style: bold; }
    DataGrid > .datagrid--header-sorted { background: $panel; color: $primary; text-style: bold; }
    DataGrid > .datagrid--cursor { background: $primary; color: $background; text-style: bold; }
    DataGrid > .datagrid--cursor-row { background: $boost; }
    DataGrid > .datagrid--selected { background: $success 30%; }
    DataGrid > .datagrid--gutter { color: $foreground-muted; }
    DataGrid > .datagrid--empty { color: $foreground-muted; }
    DataGrid > .datagrid--error { color: $error; text-style: bold; }
    DataGrid > .datagrid--computed { color: $foreground-muted; text-style: italic; }
    DataGrid:blur > .datagrid--cursor { background: $primary 50%; }
    """

    class CursorMoved(Message):
        def __init__(self, grid: DataGrid) -> None:
            super().__init__()
            self.grid = grid

    class CellClicked(Message):
        """A double click: the owner opens the editor."""

        def __init__(self, grid: DataGrid) -> None:
            super().__init__()
            self.grid = grid

    def __init__(self, cache: PageCache, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cache = cache
        self.columns = [Column.for_field(f) for f in cache.res.fields] + [
            Column.for_computed(c) for c in cache.res.computed
        ]
        self.row_count = 0
        self.cursor_row = 0
        self.cursor_col = 0
        self.selected: set[str] = set()
        self.sort: tuple[str, bool] | None = None
        self._retry_pending = False
        self._update_size()

    # geometry -------------------------------------------------------------------------------------

    @property
    def gutter_width(self) -> int:
        return len(str(max(self.row_count, 1))) + 2

    def _column_x(self, index: int) -> int:
        return sum(c.width + 1 for c in self.columns[:index])

    def _update_size(self) -> None:
        width = self.gutter_width + self._column_x(len(self.columns))
        self.virtual_size = Size(width, self.row_count + 1)

    def set_row_count(self, count: int) -> None:
        self.row_count = count
        self.cursor_row = min(self.cursor_row, max(count - 1, 0))
        self._update_size()
        self.refresh()

    # painting -------------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        gutter = self.gutter_width
        if y == 0:
            return self._header(scroll_x, width, gutter)
        pos = scroll_y + y - 1
        base = self.rich_style
        if pos >= self.row_count:
            return Strip.blank(width, base)
        fetched = self.cache.row(pos)
        if fetched is None:
            self._retry_soon()
        row, labels = fetched if fetched else (None, {})
        selected = row is not None and row[0] in self.selected
        on_cursor = pos == self.cursor_row
        row_style = base
        if selected:
            row_style = base + self.get_component_rich_style("datagrid--selected")
        elif on_cursor:
            row_style = base + self.get_component_rich_style("datagrid--cursor-row")
        mark = "●" if selected else " "
        gutter_style = row_style + self.get_component_rich_style("datagrid--gutter")
        segments = [Segment(f"{mark}{str(pos + 1).rjust(gutter - 2)}", gutter_style)]
        if row_invalid(row):
            segments.append(
                Segment(INVALID_MARK, row_style + self.get_component_rich_style("datagrid--error"))
            )
        else:
            segments.append(Segment(" ", gutter_style))
        body = self._row_segments(row, labels, fetched is None, on_cursor, row_style)
        return Strip([*segments, *Strip(body).crop(scroll_x, scroll_x + width - gutter)]).adjust_cell_length(
            width, base
        )

    def _row_segments(
        self, row: Row | None, labels: dict[str, str], loading: bool, on_cursor: bool, style: Style
    ) -> list[Segment]:
        cursor_style = style + self.get_component_rich_style("datagrid--cursor")
        empty_style = style + self.get_component_rich_style("datagrid--empty")
        error_style = style + self.get_component_rich_style("datagrid--error")
        errors = row_errors(row)
        out = []
        for i, col in enumerate(self.columns):
            right = col.type in _RIGHT
            if row is None:
                text, cell_style = (PLACEHOLDER if loading else "(deleted)"), empty_style
            elif col.computed and row[i + 1] is None and (col.key in errors or col.name in errors):
                text, cell_style, right = errors.get(col.key) or errors[col.name], error_style, False
            else:
                text = format_value(row[i + 1], col.type, labels)
                cell_style = style
            if on_cursor and i == self.cursor_col:
                cell_style = cursor_style
            out.append(Segment(fit(text, col.width, right), cell_style))
            out.append(Segment(" ", style))
        return out

    def _header(self, scroll_x: int, width: int, gutter: int) -> Strip:
        header = self.rich_style + self.get_component_rich_style("datagrid--header")
        sorted_style = self.rich_style + self.get_component_rich_style("datagrid--header-sorted")
        computed_style = header + self.get_component_rich_style("datagrid--computed")
        body = []
        for col in self.columns:
            style, name = (computed_style if col.computed else header), col.title
            if self.sort and self.sort[0] == col.name:
                style, name = sorted_style, f"{name} {'↓' if self.sort[1] else '↑'}"
            body.append(Segment(fit(name, col.width, col.type in _RIGHT), style))
            body.append(Segment(" ", header))
        segments = [Segment(" " * gutter, header), *Strip(body).crop(scroll_x, scroll_x + width - gutter)]
        return Strip(segments).adjust_cell_length(width, header)

    def _retry_soon(self) -> None:
        if not self._retry_pending:
            self._retry_pending = True
            self.set_timer(0.05, self._retry)

    def _retry(self) -> None:
        self._retry_pending = False
        self.refresh()

    # cursor -------------------------------------------------------------------------------------

    @property
    def current_row(self) -> Row | None:
        if not self.row_count:
            return None
        fetched = self.cache.row(self.cursor_row)
        return fetched[0] if fetched else None

    @property
    def current_column(self) -> Column | None:
        return self.columns[self.cursor_col] if self.columns else None

    def move_to(self, row: int | None = None, col: int | None = None) -> None:
        if row is not None:
            self.cursor_row = max(0, min(row, self.row_count - 1))
        if col is not None:
            self.cursor_col = max(0, min(col, len(self.columns) - 1))
        self.scroll_to_cursor()
        self.refresh()
        self.post_message(self.CursorMoved(self))

    def cursor_cell(self) -> tuple[int, int]:
        return self.cursor_row, self.cursor_col

    def column_count(self) -> int:
        return len(self.columns)

    def column_span(self, index: int) -> tuple[int, int]:
        left = self._column_x(index)
        return left, left + self.columns[index].width

    def gutter_cells(self) -> int:
        return self.gutter_width

    def go(self, row: int | None = None, col: int | None = None) -> None:
        self.move_to(row=row, col=col)

    def cell_region(self) -> Region:
        """Where the cursor cell is on screen, relative to the grid."""
        x = self.gutter_width + self._column_x(self.cursor_col) - self.scroll_offset.x
        y = self.cursor_row - self.scroll_offset.y + 1
        width = self.columns[self.cursor_col].width if self.columns else 1
        return Region(x, y, width, 1)

    # mouse --------------------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        row = self.scroll_offset.y + offset.y - 1
        x = offset.x - self.gutter_width + self.scroll_offset.x
        col = self.cursor_col
        if x >= 0:
            for i in range(len(self.columns)):
                if self._column_x(i) <= x < self._column_x(i + 1):
                    col = i
                    break
        if row < self.row_count:
            self.move_to(row=row, col=col)
            if event.chain == 2:
                self.post_message(self.CellClicked(self))
