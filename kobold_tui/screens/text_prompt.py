"""A small modal that asks for one line of text (a name, a path) or a yes/no confirmation."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class TextPromptScreen(ModalScreen[str | None]):
    """Dismisses with the text entered (Enter), or None (Escape). With `confirm_only`, Enter gives "yes"."""

    DEFAULT_CSS = """
    TextPromptScreen { align: center middle; }
    TextPromptScreen > Vertical {
        width: 70; height: auto; border: thick $primary; background: $surface; padding: 0 1;
    }
    TextPromptScreen .prompt-title { text-style: bold; color: $accent; }
    TextPromptScreen .prompt-keys { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="text_prompt.cancel")]

    def __init__(self, title: str, message: str = "", value: str = "", *, confirm_only: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.value = value
        self.confirm_only = confirm_only

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="prompt-title")
            if self.message:
                yield Static(self.message)
            if not self.confirm_only:
                yield Input(self.value, id="prompt-input")
            keys = "enter confirm · esc cancel" if self.confirm_only else "enter ok · esc cancel"
            yield Label(keys, classes="prompt-keys")

    def on_key(self, event: object) -> None:
        from textual.events import Key

        if self.confirm_only and isinstance(event, Key) and event.key == "enter":
            event.stop()
            self.dismiss("yes")

    @on(Input.Submitted, "#prompt-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
