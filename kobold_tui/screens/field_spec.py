"""A modal to define or change one field: name, type, choices, target, required/unique, description, default."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, Select

from engine.field_types import FIELD_TYPES
from kobold_tui.record_data import format_value

FieldSpec = tuple[str, dict[str, Any]]


class FieldSpecScreen(ModalScreen[FieldSpec | None]):
    """Dismisses with (name, options) for `schema_specs`, or None; the engine checks the result."""

    DEFAULT_CSS = """
    FieldSpecScreen { align: center middle; }
    FieldSpecScreen > Vertical {
        width: 80; height: auto; border: thick $primary; background: $surface; padding: 0 1;
    }
    FieldSpecScreen .spec-title { text-style: bold; color: $accent; margin-bottom: 1; }
    FieldSpecScreen Horizontal { height: 1; margin-bottom: 1; }
    FieldSpecScreen Horizontal > Label { width: 14; }
    FieldSpecScreen Horizontal > Input, FieldSpecScreen Horizontal > Select { width: 1fr; }
    FieldSpecScreen .spec-keys { color: $text-muted; }
    FieldSpecScreen .-hidden { display: none; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, id="field_spec.save"),
        Binding("escape", "cancel", "Cancel", id="field_spec.cancel"),
    ]

    def __init__(self, title: str, resources: list[str], field: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.resources = resources
        self.field = field or {"name": "", "type": "string", "required": False, "unique": False}

    def compose(self) -> ComposeResult:
        f = self.field
        with Vertical():
            yield Label(self.title_text, classes="spec-title")
            with Horizontal():
                yield Label("Name")
                yield Input(f["name"], id="spec-name", compact=True)
            with Horizontal():
                yield Label("Type")
                yield Select(
                    [(t, t) for t in FIELD_TYPES],
                    value=f["type"],
                    allow_blank=False,
                    id="spec-type",
                    compact=True,
                )
            with Horizontal(id="row-choices"):
                yield Label("Choices")
                yield Input(
                    ", ".join(f.get("choices", [])), placeholder="a, b, c", id="spec-choices", compact=True
                )
            with Horizontal(id="row-target"):
                yield Label("Target")
                yield Select(
                    [(r, r) for r in self.resources], value=f.get("target", Select.NULL), id="spec-target",
                    compact=True,
                )  # fmt: skip
            with Horizontal(id="row-scale"):
                yield Label("Scale")
                yield Input(str(f.get("scale", 2)), id="spec-scale", compact=True)
            with Horizontal():
                yield Checkbox("required", bool(f.get("required")), id="spec-required", compact=True)
                yield Checkbox("unique", bool(f.get("unique")), id="spec-unique", compact=True)
            with Horizontal():
                yield Label("Description")
                yield Input(f.get("description", ""), id="spec-description", compact=True)
            with Horizontal():
                yield Label("Default")
                yield Input(format_value(f.get("default")), id="spec-default", compact=True)
            yield Label("ctrl+s save · esc cancel", classes="spec-keys")

    def on_mount(self) -> None:
        self._show_rows()

    @on(Select.Changed, "#spec-type")
    def _show_rows(self) -> None:
        ftype = self.query_one("#spec-type", Select).value
        self.query_one("#row-choices").set_class(ftype != "choice", "-hidden")
        self.query_one("#row-target").set_class(ftype not in ("reference", "references"), "-hidden")
        self.query_one("#row-scale").set_class(ftype != "decimal", "-hidden")

    def options(self) -> dict[str, Any]:
        """The options as `apply_schema` takes them; odd values are left for the engine to refuse."""
        ftype = str(self.query_one("#spec-type", Select).value)
        options: dict[str, Any] = {
            "type": ftype,
            "required": self.query_one("#spec-required", Checkbox).value,
            "unique": self.query_one("#spec-unique", Checkbox).value,
            "description": self.query_one("#spec-description", Input).value.strip(),
        }
        if ftype == "choice":
            text = self.query_one("#spec-choices", Input).value
            options["choices"] = [c.strip() for c in text.split(",") if c.strip()]
        if ftype in ("reference", "references"):
            target = self.query_one("#spec-target", Select).value
            options["target"] = None if target is Select.NULL else str(target)
        if ftype == "decimal":
            scale = self.query_one("#spec-scale", Input).value.strip()
            options["scale"] = int(scale) if scale.isdigit() else scale
        default = self.query_one("#spec-default", Input).value
        if default.strip():
            options["default"] = default
        for kept in ("label", "validate", "default_formula"):
            if kept in self.field:
                options[kept] = self.field[kept]
        return options

    def action_save(self) -> None:
        name = self.query_one("#spec-name", Input).value.strip()
        if not name:
            self.notify("Give the field a name.", severity="error")
            return
        self.dismiss((name, self.options()))

    def action_cancel(self) -> None:
        self.dismiss(None)
