"""The Kobold app: opens on the datasets home, with Kobold's themes, key map and command registry."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import BindingType
from textual.signal import Signal
from textual.theme import Theme

from engine.errors import KoboldError, StoreInUse
from engine.store import Store
from kobold_tui import commands
from kobold_tui.screens.help import HelpScreen
from kobold_tui.screens.home import HomeScreen
from kobold_tui.sync_messages import RemoteChanges, SyncStatusChanged
from sync.worker import SyncStatus, SyncWorker
from themes import DEFAULT_THEME, load_themes


class KoboldApp(App[None]):
    TITLE = "Kobold"
    CSS_PATH = Path(__file__).parent / "kobold.tcss"
    COMMANDS = App.COMMANDS | {commands.KoboldCommands}
    BINDINGS: ClassVar[list[BindingType]] = commands.bindings("app")
    COMMAND_PALETTE_BINDING = "ctrl+p"

    def __init__(self, store: Store, *, save_theme: bool = True, background_sync: bool = False) -> None:
        super().__init__()
        self.store = store
        self.save_theme = save_theme
        self.background_sync = background_sync
        self.sync_signal: Signal[SyncStatus] = Signal(self, "sync")
        self.sync_status: SyncStatus | None = None
        self.sync_worker: SyncWorker | None = None
        self.kobold_themes: list[Theme] = load_themes()
        for theme in self.kobold_themes:
            self.register_theme(theme)
        wanted = store.config.theme
        self.theme = wanted if wanted in self.available_themes else DEFAULT_THEME
        if store.config.keymap:
            self.set_keymap(store.config.keymap)

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.push_screen(HomeScreen(self.store))
        if self.background_sync:
            self.start_sync()

    def start_sync(self, interval: float = 20.0) -> None:
        """Run replication on a thread of its own; the UI only ever hears from it through messages."""
        if self.sync_worker is None:
            self.sync_worker = SyncWorker(
                self.store, lambda status: self.post_message(SyncStatusChanged(status)),
                lambda changed: self.post_message(RemoteChanges(changed)), interval=interval,
            )  # fmt: skip
            self.sync_worker.start()

    def on_unmount(self) -> None:
        if self.sync_worker is not None:
            self.sync_worker.stop()

    def on_sync_status_changed(self, message: SyncStatusChanged) -> None:
        self.sync_status = message.status
        self.sync_signal.publish(message.status)

    def on_remote_changes(self, message: RemoteChanges) -> None:
        for screen in self.screen_stack:
            handler = getattr(screen, "remote_changes", None)
            if handler is not None:
                handler(message.dataset_ids)

    def action_sync_now(self) -> None:
        if self.sync_worker is None:
            self.start_sync()
        else:
            self.sync_worker.trigger()
        self.notify("Syncing with the relays…")

    def _remember_theme(self, theme: Theme) -> None:
        """Keep the chosen theme in config.toml for the next start."""
        if not self.save_theme or self.store.config.theme == theme.name:
            return
        self.store.config.theme = theme.name
        try:
            self.store.config.save(self.store.home)
        except OSError as exc:
            self.notify(f"Could not save the theme choice: {exc}.", severity="warning")

    def action_show_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_next_theme(self) -> None:
        names = [t.name for t in self.kobold_themes]
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]
        self.notify(f"Theme: {self.theme}")


def run_app(home: str | Path | None) -> int:
    """Open the store at `home` and run the app until the user quits; 1 when the store cannot be opened."""
    try:
        store = Store.open(home)
    except StoreInUse as exc:
        print(exc)
        return 1
    except KoboldError as exc:
        print(exc)
        return 1
    with store:
        KoboldApp(store, background_sync=True).run()
    return 0
