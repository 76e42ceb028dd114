"""Record detail: fields with blame, computed values, relationships both ways, history and provenance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Label, OptionList, Static
from textual.widgets.option_list import Option

from engine.identity import short_npub
from kobold_tui.record_data import RecordDetail, format_time, format_value, load_detail

if TYPE_CHECKING:
    from engine.store import Store


class RecordDetailScreen(Screen[None]):
    """Everything known about one record; Enter on a relationship opens that record."""

    DEFAULT_CSS = """
    RecordDetailScreen { layout: vertical; }
    RecordDetailScreen #detail-body { height: 1fr; padding: 0 1; }
    RecordDetailScreen .detail-title { text-style: bold; color: $accent; }
    RecordDetailScreen .section { margin-top: 1; text-style: bold; color: $text-primary; }
    RecordDetailScreen #validation { color: $error; display: none; }
    RecordDetailScreen #validation.-has-messages { display: block; }
    RecordDetailScreen #links { height: auto; max-height: 10; border: none; padding: 0; }
    RecordDetailScreen #detail-error { color: $error; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "back", "Back", id="record_detail.back"),
        Binding("escape", "back", "Back", show=False, id="record_detail.back_escape"),
        Binding("e", "edit", "Edit", id="record_detail.edit"),
    ]

    class Loaded(Message):
        def __init__(self, detail: RecordDetail) -> None:
            super().__init__()
            self.detail = detail

    class Failed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, store: Store, dataset_id: str, resource: str, record_id: str) -> None:
        super().__init__()
        self.store = store
        self.dataset_id = dataset_id
        self.resource = resource
        self.record_id = record_id
        self.detail: RecordDetail | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-body"):
            yield Static(f"{self.resource} {self.record_id}", id="title", classes="detail-title")
            yield Static("", id="provenance")
            yield Static("", id="detail-error")
            yield Label("Fields", classes="section")
            yield Static("", id="fields")
            yield Label("Computed", classes="section", id="computed-title")
            yield Static("", id="computed")
            yield Static("", id="validation")
            yield Label("Relationships (enter opens)", classes="section")
            yield OptionList(id="links")
            yield Label("History", classes="section")
            yield Static("", id="history")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="record-detail")
    def _load(self) -> None:
        try:
            with self.store.lock:
                detail = load_detail(self.store, self.dataset_id, self.resource, self.record_id)
        except Exception as exc:
            self.post_message(self.Failed(str(exc)))
            return
        self.post_message(self.Loaded(detail))

    @on(Failed)
    def _show_failure(self, message: Failed) -> None:
        self.query_one("#detail-error", Static).update(message.text)
        self.notify(message.text, severity="error")

    @on(Loaded)
    def _show(self, message: Loaded) -> None:
        d = self.detail = message.detail
        self.query_one("#title", Static).update(
            Text.assemble((d.resource, "bold"), " · ", d.title, ("  " + d.record_id, "dim"))
        )
        origin = f"  forked from {_origin_text(d.origin)}" if d.origin else ""
        self.query_one("#provenance", Static).update(Text(f"Dataset {d.dataset_name}{origin}", style="dim"))
        self.query_one("#fields", Static).update(_fields_table(d))
        self.query_one("#computed", Static).update(_computed_table(d))
        self.query_one("#computed-title").display = bool(d.computed)
        validation = self.query_one("#validation", Static)
        validation.update("\n".join(f"✗ {m}" for m in d.validation))
        validation.set_class(bool(d.validation), "-has-messages")
        links = self.query_one("#links", OptionList)
        links.clear_options()
        if d.links:
            links.add_options(
                Option(
                    Text.assemble(
                        ("→ " if link.direction == "out" else "← ", "bold"),
                        (f"{link.via}  ", "dim"),
                        link.label,
                        (f"  {link.resource}", "dim"),
                    ),
                    id=f"{link.resource}\t{link.record_id}",
                )
                for link in d.links
            )
            links.highlighted = 0
        else:
            links.add_option(Option("(no relationships)", disabled=True))
        self.query_one("#history", Static).update(_history_table(d))
        links.focus(scroll_visible=False)

    @on(OptionList.OptionSelected, "#links")
    def _jump(self, event: OptionList.OptionSelected) -> None:
        if not event.option_id:
            return
        resource, record_id = event.option_id.split("\t", 1)
        self.app.push_screen(RecordDetailScreen(self.store, self.dataset_id, resource, record_id))

    def action_back(self) -> None:
        self.dismiss(None)

    def action_edit(self) -> None:
        from kobold_tui.screens.record_form import RecordFormScreen

        def edited(result: str | None) -> None:
            if result:
                self.reload()

        self.app.push_screen(
            RecordFormScreen(self.store, self.dataset_id, self.resource, self.record_id), edited
        )


def _origin_text(origin: dict[str, Any]) -> str:
    parts = [str(origin.get("name") or origin.get("dataset", "?"))]
    for key in ("dataset", "event", "at"):
        if origin.get(key) and key != "name":
            parts.append(f"{key} {str(origin[key])[:12]}")
    return " · ".join(parts)


def _fields_table(d: RecordDetail) -> Table:
    table = Table(box=None, show_header=True, header_style="dim", expand=True, padding=(0, 1))
    table.add_column("Field", no_wrap=True)
    table.add_column("Type", style="dim", no_wrap=True)
    table.add_column("Value", ratio=1)
    table.add_column("Last set by · event", style="dim", no_wrap=True)
    for f in d.fields:
        name = Text(f.name + (" *" if f.required else ""), style="bold" if f.required else "")
        table.add_row(name, f.type, f.value, f.blame)
    return table


def _computed_table(d: RecordDetail) -> Table:
    table = Table(box=None, show_header=False, expand=True, padding=(0, 1))
    table.add_column("Name", no_wrap=True)
    table.add_column("Value")
    table.add_column("Formula", style="dim")
    for c in d.computed:
        if c.error:
            value = Text(c.error, style="bold red")
        elif c.value is not None:
            value = Text(c.value)
        else:
            value = Text("empty", style="dim italic")
        table.add_row(Text("ƒ " + c.name), value, c.formula)
    return table


def _history_table(d: RecordDetail) -> Table | Text:
    if not d.history:
        return Text("No history.", style="dim")
    table = Table(box=None, show_header=True, header_style="dim", expand=True, padding=(0, 1))
    table.add_column("", no_wrap=True, width=1)
    table.add_column("When", no_wrap=True)
    table.add_column("Who", no_wrap=True)
    table.add_column("Op", no_wrap=True)
    table.add_column("Changes", ratio=1)
    table.add_column("Event", style="dim", no_wrap=True)
    for h in reversed(d.history):
        mark = Text("✓", style="green") if h.verified else Text("✗", style="bold red")
        changes = "; ".join(f"{k}: {_short(o)} → {_short(n)}" for k, (o, n) in h.changes.items())
        table.add_row(
            mark,
            format_time(h.created_at),
            h.author_name or short_npub(h.author),
            h.op,
            changes,
            h.event_id[:8],
        )
    return table


def _short(value: Any) -> str:
    text = format_value(value) if value is not None else "∅"
    return text if len(text) <= 40 else text[:39] + "…"
