"""One form field generated from its schema definition: a type-aware input, help and an on-the-fly check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch, TextArea

from engine.field_types import ValueProblem, canonical
from kobold_tui.record_data import format_value
from kobold_tui.widgets.reference_picker import ReferencePicker

if TYPE_CHECKING:
    from engine.store import Store

_PLACEHOLDERS = {
    "integer": "a whole number",
    "decimal": "a decimal number like 12.50",
    "date": "YYYY-MM-DD",
    "datetime": "YYYY-MM-DDTHH:MM:SS",
}


class FieldEditor(Vertical):
    """Edits one field; `raw` is what the engine gets (with from_text), `problem` why it would not fit."""

    DEFAULT_CSS = """
    FieldEditor { height: auto; margin-bottom: 1; }
    FieldEditor > .field-label { text-style: bold; }
    FieldEditor > .field-help { color: $text-muted; }
    FieldEditor > .field-problem { color: $error; display: none; }
    FieldEditor > .field-problem.-shown { display: block; }
    FieldEditor > TextArea { height: 4; background: $boost; }
    FieldEditor > Input { background: $boost; }
    FieldEditor > Switch { height: 1; border: none; padding: 0; }
    """

    class Changed(Message):
        def __init__(self, editor: FieldEditor) -> None:
            super().__init__()
            self.editor = editor

    def __init__(
        self, store: Store, dataset_id: str, field: dict[str, Any], value: Any, *, labels: dict[str, str],
        creating: bool,
    ) -> None:  # fmt: skip
        super().__init__(id=f"field-{field['key']}")
        self.store = store
        self.dataset_id = dataset_id
        self.field = field
        self.creating = creating
        if creating and value is None and "default" in field:
            value = field["default"]
        self.initial = value
        self.labels = labels
        self.touched = False
        self._initial_raw = _raw_of(field, value)

    @property
    def name_text(self) -> str:
        return str(self.field["name"])

    def compose(self) -> ComposeResult:
        f = self.field
        label = Text(f["name"], style="bold")
        if f["required"]:
            label.append(" *", style="bold red")
        kind = f["type"] + (f" → {f['target']}" if f.get("target") else "")
        label.append(f"  {kind}", style="dim")
        if "default" in f:
            label.append(f"  default {format_value(f['default'])}", style="dim")
        yield Label(label, classes="field-label")
        yield self._input()
        if f.get("description"):
            yield Static(f["description"], classes="field-help")
        yield Static("", classes="field-problem")

    def _input(self) -> Widget:
        f, value = self.field, self.initial
        t = f["type"]
        if t == "text":
            return TextArea(format_value(value), classes="field-input", soft_wrap=True, compact=True)
        if t == "boolean":
            return Switch(value=bool(value), classes="field-input")
        if t == "choice":
            return Select(
                [(c, c) for c in f["choices"]],
                value=value if value in f["choices"] else Select.NULL,
                allow_blank=True,
                prompt="(none)",
                classes="field-input",
                compact=True,
            )
        if t in ("reference", "references"):
            ids = [] if value is None else (list(value) if isinstance(value, list) else [str(value)])
            return ReferencePicker(
                self.store, self.dataset_id, f["target"], multiple=t == "references",
                chosen={rid: self.labels.get(rid, rid) for rid in ids},
            )  # fmt: skip
        return Input(
            format_value(value), placeholder=_PLACEHOLDERS.get(t, ""), classes="field-input", compact=True
        )

    @property
    def raw(self) -> Any:
        """The value as typed, for `canonical(..., from_text=True)`; None when blank."""
        t = self.field["type"]
        if t in ("reference", "references"):
            return self.query_one(ReferencePicker).value
        widget = self.query_one(".field-input")
        if isinstance(widget, Switch):
            return widget.value
        if isinstance(widget, Select):
            return None if widget.value is Select.NULL else str(widget.value)
        if isinstance(widget, TextArea):
            return widget.text or None
        if isinstance(widget, Input):
            return widget.value if widget.value.strip() else None
        return None

    @property
    def changed(self) -> bool:
        return bool(self.raw != self._initial_raw)

    @property
    def wanted(self) -> bool:
        """Whether a create should send this field: it has a value the person gave or a default."""
        if self.field["type"] == "boolean":
            return self.touched or "default" in self.field
        return self.raw is not None

    @property
    def typed(self) -> Any:
        """The value in canonical form when it fits, else as typed (for formula previews)."""
        try:
            return canonical(self.field, self.raw, from_text=True)
        except ValueProblem:
            return self.raw

    @property
    def problem(self) -> str | None:
        raw = self.raw
        if raw is None:
            return "required" if self.field["required"] else None
        try:
            canonical(self.field, raw, from_text=True)
        except ValueProblem as exc:
            return str(exc)
        return None

    def show_problem(self) -> None:
        problem = self.problem
        widget = self.query_one(".field-problem", Static)
        widget.update(problem or "")
        widget.set_class(problem is not None, "-shown")

    def _changed(self) -> None:
        if self.changed:
            self.touched = True
        if self.touched:
            self.show_problem()
            self.post_message(self.Changed(self))

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Switch.Changed)
    @on(Select.Changed)
    @on(ReferencePicker.Changed)
    def _any_change(self, event: Message) -> None:
        if isinstance(event, Input.Changed) and "picker-search" in event.input.classes:
            return
        event.stop()
        self._changed()


def _raw_of(field: dict[str, Any], value: Any) -> Any:
    """What `FieldEditor.raw` reads for a value before anyone edits it."""
    t = field["type"]
    if t == "boolean":
        return bool(value)
    if value is None:
        return None
    if t == "choice":
        return value if value in field["choices"] else None
    if t == "references":
        return [str(v) for v in value] or None
    return format_value(value) or None
