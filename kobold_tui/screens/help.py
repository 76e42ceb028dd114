"""Every command with its key, straight from the command registry (keymap overrides included)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from kobold_tui.commands import COMMANDS, SCOPES, display_keys


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 100; height: 90%; border: thick $primary;
                                  background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self._table(), id="help-table")

    def entries(self) -> list[tuple[str, str, str, str]]:
        """(scope title, keys, description, command id) of every command, in registry order."""
        return [
            (title, display_keys(self.app, c), c.description, c.id)
            for scope, title in SCOPES.items()
            for c in COMMANDS
            if c.scope == scope
        ]

    def _table(self) -> Table:
        table = Table(box=None, expand=True, show_header=False, padding=(0, 1))
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("what")
        table.add_column("id", style="dim", no_wrap=True)
        section = ""
        for title, keys, description, command_id in self.entries():
            if title != section:
                if section:
                    table.add_row("", "", "")
                table.add_row(Text(title, style="bold underline"), "", "")
                section = title
            table.add_row(keys, description, command_id)
        table.add_row("", "", "")
        table.add_row("", 'Keys can be remapped in config.toml: [keymap] with command id = "keys".', "")
        return table

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
