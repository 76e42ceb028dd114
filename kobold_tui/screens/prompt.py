"""Small one-question dialogs: a line of text, or a condition on one column."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select

from engine.query import Condition

FILTER_OPERATORS = [
    ("=", "="),
    ("≠", "!="),
    ("<", "<"),
    (">", ">"),
    ("contains", "contains"),
    ("is empty", "empty"),
]

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 70; height: auto; border: thick $primary; background: $surface; padding: 1 2; }}
{name} Label {{ margin-bottom: 1; }}
"""


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line; dismisses with the text (Enter) or None (Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]
    DEFAULT_CSS = _CSS.format(name="PromptScreen")

    def __init__(self, question: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield Input(self.value, placeholder=self.placeholder)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FilterScreen(ModalScreen[Condition | None]):
    """A condition on one column: an operator and (except for "is empty") a value."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="filter.cancel")]
    DEFAULT_CSS = _CSS.format(name="FilterScreen") + "FilterScreen Select { margin-bottom: 1; }"

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Show rows where {self.field} …   (Enter applies, Esc cancels)")
            yield Select(FILTER_OPERATORS, value="contains", allow_blank=False, id="operator")
            yield Input(placeholder="value", id="value")

    def on_mount(self) -> None:
        self.query_one("#value", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        op = str(self.query_one("#operator", Select).value)
        self.dismiss(Condition(self.field, op, None if op == "empty" else event.value))

    def action_cancel(self) -> None:
        self.dismiss(None)
