"""One line under a screen's table with the background sync's state: relays, outbox, last sync, errors.

Hidden until the app's sync worker reports; it follows `KoboldApp.sync_signal`, so every screen that
shows it stays current without asking the network anything.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from sync.worker import SyncStatus


class SyncLine(Static):
    DEFAULT_CSS = (
        "SyncLine { height: 1; background: $panel; color: $text-muted; padding: 0 1; display: none; }"
    )

    def on_mount(self) -> None:
        signal = getattr(self.app, "sync_signal", None)
        if signal is not None:
            signal.subscribe(self, self.show)
        current = getattr(self.app, "sync_status", None)
        if current is not None:
            self.show(current)

    def show(self, status: SyncStatus | Any) -> None:
        if not isinstance(status, SyncStatus):
            return
        text = Text(status.line())
        if status.error:
            text.stylize(
                f"bold {self.app.current_theme.warning or 'yellow'}", len(text) - len(status.error) - 2
            )
        self.update(text)
        self.display = True
