"""A form generated from the schema, to create a record or edit one; the engine has the last word on values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, Static
from textual.worker import get_current_worker

from engine import datasets, records
from engine.schema import Resource
from kobold_tui import formula_preview
from kobold_tui.record_data import REFERENCE_TYPES, record_labels, record_values
from kobold_tui.widgets.field_editor import FieldEditor

if TYPE_CHECKING:
    from engine.store import Store


class RecordFormScreen(ModalScreen[str | None]):
    """Create (record_id None) or edit a record; dismisses with the record id, or None on cancel."""

    DEFAULT_CSS = """
    RecordFormScreen { align: center middle; }
    RecordFormScreen #form-dialog {
        width: 90%; max-width: 100; height: 90%; border: thick $primary; background: $surface; padding: 0 1;
    }
    RecordFormScreen #form-title { text-style: bold; color: $accent; }
    RecordFormScreen #form-fields { height: 1fr; }
    RecordFormScreen #form-computed { height: auto; color: $text-muted; }
    RecordFormScreen #form-error { color: $error; height: auto; }
    RecordFormScreen #form-keys { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, id="record_form.save"),
        Binding("escape", "cancel", "Cancel", id="record_form.cancel"),
    ]

    class Loaded(Message):
        def __init__(self, resource: Resource, values: dict[str, Any], labels: dict[str, str]) -> None:
            super().__init__()
            self.resource = resource
            self.values = values
            self.labels = labels

    class Saved(Message):
        def __init__(self, record_id: str) -> None:
            super().__init__()
            self.record_id = record_id

    class Failed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Previewed(Message):
        def __init__(self, text: Text) -> None:
            super().__init__()
            self.text = text

    def __init__(self, store: Store, dataset_id: str, resource: str, record_id: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.dataset_id = dataset_id
        self.resource = resource
        self.record_id = record_id
        self.definition: Resource | None = None
        self.saving = False

    def compose(self) -> ComposeResult:
        with Vertical(id="form-dialog"):
            verb = "Edit" if self.record_id else "New"
            yield Label(f"{verb} {self.resource}", id="form-title")
            yield VerticalScroll(id="form-fields")
            yield Static("", id="form-computed")
            yield Static("", id="form-error")
            yield Label("ctrl+s save · esc cancel · * required", id="form-keys")

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="record-form")
    def _load(self) -> None:
        try:
            with self.store.lock:
                res = datasets.resource(self.store, self.dataset_id, self.resource)
                values: dict[str, Any] = {}
                if self.record_id:
                    row = record_values(self.store, self.dataset_id, res.name, self.record_id)
                    values = {f["key"]: row.get(f["key"]) for f in res.fields}
                labels: dict[str, str] = {}
                for f in res.fields:
                    value = values.get(f["key"])
                    if f["type"] in REFERENCE_TYPES and value:
                        ids = list(value) if isinstance(value, list) else [str(value)]
                        labels.update(record_labels(self.store, self.dataset_id, f["target"], ids))
        except Exception as exc:
            self.post_message(self.Failed(str(exc)))
            return
        self.post_message(self.Loaded(res, values, labels))

    @on(Loaded)
    async def _build(self, message: Loaded) -> None:
        self.definition = message.resource
        editors = [
            FieldEditor(
                self.store, self.dataset_id, f, message.values.get(f["key"]), labels=message.labels,
                creating=self.record_id is None,
            )
            for f in message.resource.fields
        ]  # fmt: skip
        await self.query_one("#form-fields").mount_all(editors)
        self._preview()
        if editors:
            # The first field is at the top already: scrolling to it while the layout settles could move it.
            editors[0].query_one(".field-input, .picker-search").focus(scroll_visible=False)

    @property
    def editors(self) -> list[FieldEditor]:
        return list(self.query(FieldEditor))

    @on(FieldEditor.Changed)
    def _edited(self, _: FieldEditor.Changed) -> None:
        self.query_one("#form-error", Static).update("")
        self._preview()

    def _preview(self) -> None:
        """Computed fields: the formula and its value for the values typed so far (worked out in a worker)."""
        if self.definition is None or not self.definition.computed:
            return
        self._compute_preview(self.definition, {e.name_text: e.typed for e in self.editors})

    @work(thread=True, exclusive=True, group="record-form-preview", exit_on_error=False)
    def _compute_preview(self, res: Resource, record: dict[str, Any]) -> None:
        worker = get_current_worker()
        text = Text()
        for c in res.computed:
            with self.store.lock:
                if worker.is_cancelled:
                    return
                result = formula_preview.evaluate(
                    self.store, c["formula"], [record], result_type=c["type"], dataset_id=self.dataset_id,
                    definition=res.definition,
                )  # fmt: skip
            text.append(f"{c['name']} ", style="bold")
            text.append(f"= {c['formula']}")
            text.append(f"  → {result[0]}", style="red" if result[0].startswith("#ERR") else "")
            text.append("\n")
        text.rstrip()
        if not worker.is_cancelled:
            self.post_message(self.Previewed(text))

    @on(Previewed)
    def _show_preview(self, message: Previewed) -> None:
        self.query_one("#form-computed", Static).update(message.text)

    def action_save(self) -> None:
        if self.definition is None or self.saving:
            return
        editors = self.editors
        if self.record_id is None:
            values = {e.name_text: e.raw for e in editors if e.wanted}
        else:
            values = {e.name_text: e.raw for e in editors if e.changed}
            if not values:
                self.notify("Nothing changed.")
                self.dismiss(self.record_id)
                return
        for e in editors:
            if e.touched or e.raw is not None:
                e.show_problem()
        self.saving = True
        self._save(values)

    @work(thread=True, exclusive=True, group="record-form-save")
    def _save(self, values: dict[str, Any]) -> None:
        try:
            with self.store.lock:
                if self.record_id is None:
                    rid = records.create_record(
                        self.store, self.dataset_id, self.resource, values, from_text=True
                    )
                else:
                    records.update_record(
                        self.store, self.dataset_id, self.resource, self.record_id, values, from_text=True
                    )
                    rid = self.record_id
        except Exception as exc:
            self.post_message(self.Failed(str(exc)))
            return
        self.post_message(self.Saved(rid))

    @on(Saved)
    def _saved(self, message: Saved) -> None:
        self.saving = False
        self.dismiss(message.record_id)

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.saving = False
        self.query_one("#form-error", Static).update(Text(message.text))
        self.notify(message.text, severity="error", title="Not saved")

    def action_cancel(self) -> None:
        self.dismiss(None)
