"""The Kobold app: opens on the datasets home, with Kobold's themes, key map and command registry."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import BindingType
from textual.theme import Theme

from engine.errors import KoboldError, StoreInUse
from engine.store import Store
from kobold_tui import commands
from kobold_tui.screens.help import HelpScreen
from kobold_tui.screens.home import HomeScreen
from themes import DEFAULT_THEME, load_themes


class KoboldApp(App[None]):
    TITLE = "Kobold"
    CSS_PATH = Path(__file__).parent / "kobold.tcss"
    COMMANDS = App.COMMANDS | {commands.KoboldCommands}
    BINDINGS: ClassVar[list[BindingType]] = commands.bindings("app")
    COMMAND_PALETTE_BINDING = "ctrl+p"

    def __init__(self, store: Store, *, save_theme: bool = True) -> None:
        super().__init__()
        self.store = store
        self.save_theme = save_theme
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
        KoboldApp(store).run()
    return 0
