"""The datasets in this store: type, visibility, record counts and lineage; create one or the demo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import duckdb
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Select, Static

from engine import datasets, demo, forks
from engine.errors import KoboldError
from engine.protocol import VISIBILITIES
from engine.query import Query, count
from engine.store import Store
from kobold_tui import commands
from kobold_tui.widgets.sync_line import SyncLine

DEFAULT_TYPE = "org.tribes.kobold.dataset"


@dataclass(frozen=True)
class DatasetRow:
    info: datasets.DatasetInfo
    counts: dict[str, int]
    merges: int = 0  # merge decisions in its log (accepted proposals, pulls from upstream)

    @property
    def lineage(self) -> str:
        merges = f"{self.merges} merge{'s' if self.merges != 1 else ''}" if self.merges else ""
        if not self.info.origin:
            return merges
        origin = f"fork of {self.info.origin.get('name') or self.info.origin['dataset'][:12]}"
        return f"{origin} · {merges}" if merges else origin


def read_datasets(store: Store) -> list[DatasetRow]:
    """Every dataset with the record count of each resource. Call with the store lock held."""
    rows = []
    for info in datasets.list_datasets(store):
        counts = {r.name: count(store, info.id, Query(r.name)) for r in datasets.resources(store, info.id)}
        merges = len([m for m in forks.lineage(store, info.id)["merges"] if m["status"] != "rejected"])
        rows.append(DatasetRow(info, counts, merges))
    return rows


class HomeScreen(Screen[None]):
    COMMAND_SCOPES = ("home",)
    BINDINGS: ClassVar[list[BindingType]] = commands.bindings("home")
    DEFAULT_CSS = """
    HomeScreen #datasets { height: 1fr; }
    HomeScreen #empty { height: 1fr; padding: 2 4; display: none; }
    HomeScreen.-empty #empty { display: block; }
    HomeScreen.-empty #datasets { display: none; }
    HomeScreen #empty Button { margin: 1 2 0 0; }
    """

    class Loaded(Message):
        def __init__(self, rows: list[DatasetRow]) -> None:
            super().__init__()
            self.rows = rows

    class Failed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.rows: list[DatasetRow] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        table: DataTable[str] = DataTable(id="datasets", cursor_type="row", zebra_stripes=True)
        for label, width in (
            ("Name", 26),
            ("Type", 28),
            ("Visibility", 10),
            ("Records", 30),
            ("Lineage", 22),
        ):
            table.add_column(label, width=width)
        yield table
        with Vertical(id="empty"):
            yield Static(
                "[b]Welcome to Kobold.[/b]\n\nThis store has no datasets yet. Start with the demo — a community "
                "seed catalog with suppliers — or create an empty dataset."
            )
            yield Button("Create the demo dataset (D)", id="demo", variant="primary")
            yield Button("New dataset (n)", id="new")
        yield SyncLine()
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Kobold"
        self.sub_title = "datasets"
        self.action_refresh()

    def on_screen_resume(self) -> None:
        if self.loaded:
            self.action_refresh()

    def action_refresh(self) -> None:
        self._load()

    def remote_changes(self, dataset_ids: set[str]) -> None:
        self._load()

    def action_sync(self) -> None:
        from kobold_tui.screens.sync import SyncScreen

        self.app.push_screen(SyncScreen(self.store))

    @work(thread=True, exclusive=True, group="home", exit_on_error=False)
    def _load(self) -> None:
        try:
            with self.store.lock:
                rows = read_datasets(self.store)
        except (KoboldError, duckdb.Error) as exc:
            self.post_message(self.Failed(str(exc)))
            return
        self.post_message(self.Loaded(rows))

    def on_home_screen_loaded(self, event: Loaded) -> None:
        self.rows = event.rows
        self.loaded = True
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for row in event.rows:
            records = ", ".join(f"{name} {n:,}" for name, n in row.counts.items()) or "no resources yet"
            table.add_row(
                row.info.name, row.info.type, row.info.visibility, records, row.lineage, key=row.info.id
            )
        self.set_class(not event.rows, "-empty")
        if event.rows:
            table.move_cursor(row=min(cursor, len(event.rows) - 1))
            table.focus()
        else:
            self.query_one("#demo", Button).focus()

    def on_home_screen_failed(self, event: Failed) -> None:
        self.notify(event.error, severity="error")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_dataset()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "demo":
            self.action_create_demo()
        elif event.button.id == "new":
            self.action_new_dataset()

    def action_open_dataset(self) -> None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row >= len(self.rows):
            return
        from kobold_tui.screens.dataset import DatasetScreen

        self.app.push_screen(DatasetScreen(self.store, self.rows[table.cursor_row].info.id))

    def action_create_demo(self) -> None:
        self._create_demo()

    @work(thread=True, exclusive=True, group="home-write", exit_on_error=False)
    def _create_demo(self) -> None:
        try:
            with self.store.lock:
                demo.create_demo(self.store)
        except KoboldError as exc:
            self.post_message(self.Failed(str(exc)))
            return
        self.app.call_from_thread(self.notify, f"Created the demo dataset “{demo.DEMO_NAME}”.")
        self._load()

    def action_new_dataset(self) -> None:
        self.app.push_screen(NewDatasetScreen(self.store), self._created)

    def _created(self, dataset_id: str | None) -> None:
        if dataset_id:
            self.action_refresh()


class NewDatasetScreen(ModalScreen[str | None]):
    """Name, type and visibility of a new dataset; dismisses with its id."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="new-dataset.cancel")]
    DEFAULT_CSS = """
    NewDatasetScreen { align: center middle; }
    NewDatasetScreen > Vertical { width: 70; height: auto; border: thick $primary; background: $surface;
                                  padding: 1 2; }
    NewDatasetScreen Input, NewDatasetScreen Select { margin-bottom: 1; }
    NewDatasetScreen #error { color: $error; }
    """

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]New dataset[/b]   (Enter creates, Esc cancels)")
            yield Input(placeholder="name", id="name")
            yield Input(DEFAULT_TYPE, placeholder="type", id="type")
            yield Select([(v, v) for v in VISIBILITIES], value="private", allow_blank=False, id="visibility")
            yield Label("", id="error")
            yield Button("Create", id="create", variant="primary")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._create()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._create()

    def _create(self) -> None:
        name = self.query_one("#name", Input).value
        dtype = self.query_one("#type", Input).value.strip() or DEFAULT_TYPE
        visibility = str(self.query_one("#visibility", Select).value)
        try:
            with self.store.lock:
                dataset_id = datasets.create_dataset(self.store, name, dtype, visibility)
        except KoboldError as exc:
            self.query_one("#error", Label).update(str(exc))
            return
        self.dismiss(dataset_id)

    def action_cancel(self) -> None:
        self.dismiss(None)
