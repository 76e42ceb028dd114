"""Pick one record (reference) or several (references) of a target resource, with a quick search."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from kobold_tui.record_data import search_records

if TYPE_CHECKING:
    from engine.store import Store


class ReferencePicker(Vertical):
    """Type to search the target resource; Enter on a match picks it (toggles it for a multi-pick)."""

    DEFAULT_CSS = """
    ReferencePicker { height: auto; }
    ReferencePicker > .picker-chosen { height: auto; }
    ReferencePicker > Input { background: $boost; }
    ReferencePicker > OptionList { height: auto; max-height: 4; border: none; padding: 0; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "clear", "Clear", id="reference_picker.clear")]

    class Changed(Message):
        def __init__(self, picker: ReferencePicker) -> None:
            super().__init__()
            self.picker = picker

    class Results(Message):
        def __init__(self, matches: list[tuple[str, str]]) -> None:
            super().__init__()
            self.matches = matches

    def __init__(
        self, store: Store, dataset_id: str, target: str, *, multiple: bool, chosen: dict[str, str],
        id: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(id=id)
        self.store = store
        self.dataset_id = dataset_id
        self.target = target
        self.multiple = multiple
        self.chosen: dict[str, str] = dict(chosen)  # id -> label, in pick order

    def compose(self) -> ComposeResult:
        yield Static(self._chosen_text(), classes="picker-chosen")
        yield Input(placeholder=f"search {self.target}…", classes="picker-search", compact=True)
        yield OptionList(classes="picker-matches")

    def on_mount(self) -> None:
        self.search("")

    @property
    def value(self) -> str | list[str] | None:
        ids = list(self.chosen)
        if self.multiple:
            return ids or None
        return ids[0] if ids else None

    def _chosen_text(self) -> Text:
        if not self.chosen:
            return Text("nothing picked", style="dim italic")
        return Text(", ".join(self.chosen.values()))

    @on(Input.Changed, ".picker-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.search(event.value)

    @on(Input.Submitted, ".picker-search")
    def _pick_first(self, event: Input.Submitted) -> None:
        event.stop()
        matches = self.query_one(OptionList)
        if matches.option_count:
            option = matches.get_option_at_index(0)
            if option.id:
                self._toggle(option.id, str(option.prompt))

    @work(thread=True, exclusive=True, group="reference-search")
    def search(self, text: str) -> None:
        try:
            with self.store.lock:
                found = search_records(self.store, self.dataset_id, self.target, text)
        except Exception:
            found = []
        self.post_message(self.Results(found))

    @on(Results)
    def _show_results(self, message: Results) -> None:
        matches = self.query_one(OptionList)
        matches.clear_options()
        matches.add_options(Option(label, id=rid) for rid, label in message.matches)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_id:
            self._toggle(event.option_id, str(event.option.prompt))

    def _toggle(self, record_id: str, label: str) -> None:
        if self.multiple:
            if record_id in self.chosen:
                del self.chosen[record_id]
            else:
                self.chosen[record_id] = label
        else:
            self.chosen = {record_id: label}
        self.query_one(".picker-chosen", Static).update(self._chosen_text())
        self.post_message(self.Changed(self))

    def action_clear(self) -> None:
        self.chosen = {}
        self.query_one(".picker-chosen", Static).update(self._chosen_text())
        self.post_message(self.Changed(self))
