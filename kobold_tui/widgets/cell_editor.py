"""Type-aware cell editors shown in the edit bar under the grid.

Enter, Tab and Escape are handled in each editor's own key handler, not by an App binding: keys typed
in a fast burst (`1⏎2⏎3⏎`) then reach the editor in order, so each value lands in its own cell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import events, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from engine import query
from engine.store import Store
from kobold_tui.widgets.page_cache import label_column

# (key, value): key is "enter", "tab" or "escape"; returns True when the editor may move on.
Submit = Callable[[str, Any], bool]
EDIT_KEYS = ("enter", "tab", "escape")
HINTS = {
    "integer": "a whole number", "decimal": "a decimal number like 12.50", "date": "a date like 2026-04-30",
    "datetime": "a date and time like 2026-04-30T14:05", "references": "record ids, separated by commas",
    "boolean": "space toggles", "choice": "pick one; ↑↓ and Enter", "reference": "type to search, ↑↓ and Enter",
}  # fmt: skip


class TextEditor(Input):
    """Text, number and date cells: the engine checks the value when it is committed."""

    def __init__(self, submit: Submit) -> None:
        super().__init__(id="text-editor")
        self.submit = submit

    def load(self, text: str) -> None:
        self.value = text
        self.select_all()

    async def _on_key(self, event: events.Key) -> None:
        if event.key in EDIT_KEYS:
            event.stop()
            event.prevent_default()
            self.submit(event.key, self.value)


class BoolEditor(Label, can_focus=True):
    """A boolean cell: space toggles between true, false and empty."""

    DEFAULT_CSS = "BoolEditor { padding: 0 1; background: $boost; } BoolEditor:focus { text-style: bold; }"

    def __init__(self, submit: Submit) -> None:
        super().__init__(id="bool-editor")
        self.submit = submit
        self.state: bool | None = None

    def load(self, value: bool | None) -> None:
        self.state = value
        self._show()

    def _show(self) -> None:
        self.update({True: "✓ true", False: "✗ false", None: "· empty"}[self.state])

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "space":
            event.stop()
            self.state = {None: True, True: False, False: None}[self.state]
            self._show()
        elif event.key in EDIT_KEYS:
            event.stop()
            event.prevent_default()
            self.submit(event.key, self.state)


class ChoiceEditor(OptionList):
    """A choice cell: the field's choices and "empty"."""

    DEFAULT_CSS = "ChoiceEditor { height: auto; max-height: 8; }"

    def __init__(self, submit: Submit) -> None:
        super().__init__(id="choice-editor")
        self.submit = submit

    def load(self, choices: list[str], value: str | None) -> None:
        self.clear_options()
        self.add_options([Option(c, id=c) for c in choices] + [Option("(empty)", id="")])
        self.highlighted = choices.index(value) if value in choices else len(choices)

    def chosen(self) -> str | None:
        if self.highlighted is None:
            return None
        return self.get_option_at_index(self.highlighted).id or None

    async def _on_key(self, event: events.Key) -> None:
        if event.key in EDIT_KEYS:
            event.stop()
            event.prevent_default()
            self.submit(event.key, self.chosen())


class ReferencePicker(Vertical):
    """A reference cell: search the target resource, pick a record."""

    DEFAULT_CSS = """
    ReferencePicker { height: auto; }
    ReferencePicker OptionList { height: auto; max-height: 8; }
    """

    class Results(Message):
        def __init__(self, generation: int, options: list[tuple[str, str]]) -> None:
            super().__init__()
            self.generation = generation
            self.options = options

    def __init__(self, store: Store, dataset_id: str, submit: Submit) -> None:
        super().__init__(id="reference-picker")
        self.store = store
        self.dataset_id = dataset_id
        self.submit = submit
        self.target = ""
        self.generation = 0

    def compose(self) -> ComposeResult:
        yield _SearchInput(self, placeholder="search")
        yield OptionList()

    def load(self, target: str, current: str | None) -> None:
        self.target = target
        search = self.query_one(_SearchInput)
        search.value = ""
        self.refresh_results("")

    def chosen(self) -> str | None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return None
        return options.get_option_at_index(options.highlighted).id or None

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.refresh_results(event.value)

    def refresh_results(self, text: str) -> None:
        self.generation += 1
        self._search(self.generation, self.target, text)

    @work(thread=True, exclusive=True, group="reference-search", exit_on_error=False)
    def _search(self, generation: int, target: str, text: str) -> None:
        worker = get_current_worker()
        with self.store.lock:
            if worker.is_cancelled:
                return
            found = query.page(self.store, self.dataset_id, query.Query(target, search=text or None), 0, 20)
            tbl, col = label_column(self.store, self.dataset_id, target)
            ids = [r[0] for r in found.rows]
            labels = dict(
                self.store.con.execute(
                    f"SELECT _id, CAST({col} AS VARCHAR) FROM {tbl} WHERE _id IN (SELECT unnest(?::VARCHAR[]))",
                    [ids],
                ).fetchall()
            )
        options = [(rid, labels.get(rid) or rid) for rid in ids]
        self.post_message(self.Results(generation, options))

    def on_reference_picker_results(self, event: Results) -> None:
        event.stop()
        if event.generation != self.generation:
            return
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([Option(f"{label}  [dim]{rid[:8]}[/]", id=rid) for rid, label in event.options])
        options.add_option(Option("(empty)", id=""))
        options.highlighted = 0


class _SearchInput(Input):
    def __init__(self, picker: ReferencePicker, placeholder: str) -> None:
        super().__init__(placeholder=placeholder)
        self.picker = picker

    async def _on_key(self, event: events.Key) -> None:
        options = self.picker.query_one(OptionList)
        if event.key in ("down", "up"):
            event.stop()
            event.prevent_default()
            options.action_cursor_down() if event.key == "down" else options.action_cursor_up()
        elif event.key in EDIT_KEYS:
            event.stop()
            event.prevent_default()
            self.picker.submit(event.key, self.picker.chosen())


class EditBar(Vertical):
    """The editor of the current cell: field name and hint, the editor, and the engine's reason when a
    value is refused."""

    DEFAULT_CSS = """
    EditBar { height: auto; display: none; background: $panel; padding: 0 1; }
    EditBar.-editing { display: block; }
    EditBar #edit-title { color: $primary; text-style: bold; }
    EditBar #edit-error { color: $error; display: none; }
    EditBar #edit-error.-shown { display: block; }
    EditBar .editor { display: none; }
    EditBar Input { border: none; height: 1; padding: 0 1; background: $boost; }
    EditBar Input:focus { border: none; background: $boost; }
    EditBar .editor.-active { display: block; }
    """

    def __init__(self, store: Store, dataset_id: str, submit: Submit) -> None:
        super().__init__()
        self.submit = submit
        self.text = TextEditor(submit)
        self.boolean = BoolEditor(submit)
        self.choice = ChoiceEditor(submit)
        self.reference = ReferencePicker(store, dataset_id, submit)
        for editor in (self.text, self.boolean, self.choice, self.reference):
            editor.add_class("editor")

    def compose(self) -> ComposeResult:
        yield Label("", id="edit-title")
        yield self.text
        yield self.boolean
        yield self.choice
        yield self.reference
        yield Label("", id="edit-error")

    @property
    def editing(self) -> bool:
        return self.has_class("-editing")

    def open(self, field: dict[str, Any], value: Any, text: str, record_label: str) -> None:
        """Show the editor for `field` holding `value` (`text` is how the grid shows it)."""
        ftype = field["type"]
        hint = HINTS.get(ftype, "")
        self.query_one("#edit-title", Label).update(
            f"{field['name']} ({ftype}) of {record_label}" + (f" — {hint}" if hint else "")
            + "   Enter saves · Tab saves and moves right · Esc cancels"
        )  # fmt: skip
        self.show_error(None)
        editor: Any
        if ftype == "boolean":
            editor = self.boolean
            editor.load(value)
        elif ftype == "choice":
            editor = self.choice
            editor.load(list(field.get("choices") or []), value)
        elif ftype == "reference":
            editor = self.reference
            editor.load(field["target"], value)
        else:
            editor = self.text
            editor.load(text)
        for other in (self.text, self.boolean, self.choice, self.reference):
            other.set_class(other is editor, "-active")
        self.add_class("-editing")
        target = editor.query_one(_SearchInput) if editor is self.reference else editor
        target.focus(scroll_visible=False)

    def close(self) -> None:
        self.remove_class("-editing")

    def show_error(self, message: str | None) -> None:
        error = self.query_one("#edit-error", Label)
        error.update(message or "")
        error.set_class(bool(message), "-shown")
