"""The status line under a table: which rows are shown, the sort, the filter, the selection, and why the
record under the cursor fails a validation."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class StatusBar(Static):
    DEFAULT_CSS = "StatusBar { height: 1; background: $panel; color: $foreground; padding: 0 1; }"
    plain = ""

    @property
    def _error_style(self) -> str:
        error = self.app.current_theme.error if self.is_attached else None
        return f"bold {error or 'red'}"

    def show(
        self, *, resource: str, matched: int, total: int, sort: str, filter: str, selected: int, loading: bool,
        invalid: str | None = None,
    ) -> None:  # fmt: skip
        text = Text()
        text.append(resource, style="bold")
        text.append(f"  rows {matched:,} of {total:,}")
        if sort:
            text.append(f"  sort: {sort}")
        if filter:
            text.append(f"  filter: {filter}")
        if selected:
            text.append(f"  selected: {selected:,}")
        if loading:
            text.append("  working…", style="italic")
        if invalid:
            text.append(f"  ! {invalid}", style=self._error_style)
        self.plain = text.plain
        self.update(text)
