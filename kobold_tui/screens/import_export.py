"""CSV import with a preview and a column → field mapping, and CSV/JSON export; the work runs in workers."""

from __future__ import annotations

import csv
import shutil
import tempfile
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, ProgressBar, Select, Static

from engine import datasets
from engine.csv_import import import_csv
from engine.export import FORMATS, export

if TYPE_CHECKING:
    from engine.store import Store

SKIP = "(skip)"
KEEP_ID = "_id"
PREVIEW_ROWS = 5

_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 90%; max-width: 110; height: auto; max-height: 95%; border: thick $primary; background: $surface;
    padding: 0 1;
}}
{name} .dialog-title {{ text-style: bold; color: $accent; }}
{name} .dialog-keys {{ color: $text-muted; }}
{name} .dialog-message {{ color: $error; height: auto; }}
{name} .dialog-message.-ok {{ color: $success; }}
"""


def read_preview(path: Path, rows: int = PREVIEW_ROWS) -> tuple[list[str], list[list[str]]]:
    """The header and first rows of a CSV file; OSError/ValueError when it cannot be read as CSV."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise ValueError(f"{path.name} has no header row.")
        return [h.strip() for h in header], [list(r) for r in islice(reader, rows)]


def write_mapped(source: Path, target: Path, header: list[str], mapping: list[str | None]) -> None:
    """Copy a CSV, keeping mapped columns only and naming them after their fields."""
    keep = [i for i, m in enumerate(mapping) if m]
    with (
        source.open(newline="", encoding="utf-8") as src,
        target.open("w", newline="", encoding="utf-8") as dst,
    ):
        reader, writer = csv.reader(src), csv.writer(dst)
        next(reader, None)
        writer.writerow([mapping[i] for i in keep])
        for row in reader:
            writer.writerow([row[i] if i < len(row) else "" for i in keep])


class ImportScreen(ModalScreen[str | None]):
    """Pick a CSV, check the preview and mapping, import; dismisses with a summary or None."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="ImportScreen")
        + """
    ImportScreen #import-mapping { height: auto; max-height: 10; }
    ImportScreen #import-mapping Horizontal { height: 1; }
    ImportScreen #import-mapping Label { width: 24; }
    ImportScreen #import-mapping Select { width: 30; }
    ImportScreen #import-progress { display: none; }
    ImportScreen #import-progress.-running { display: block; }
    """
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "import", "Import", priority=True, id="import.run"),
        Binding("escape", "cancel", "Cancel", id="import.cancel"),
    ]

    class Progress(Message):
        def __init__(self, phase: str, done: int, total: int) -> None:
            super().__init__()
            self.phase = phase
            self.done = done
            self.total = total

    class Done(Message):
        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

    class Failed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, store: Store, dataset_id: str, resource: str) -> None:
        super().__init__()
        self.store = store
        self.dataset_id = dataset_id
        self.resource = resource
        self.path: Path | None = None
        self.header: list[str] = []
        self.running = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Import CSV into {self.resource}", classes="dialog-title")
            yield Input(placeholder="path of a CSV file, then enter", id="import-path")
            yield Static("", id="import-preview")
            yield VerticalScroll(id="import-mapping")
            yield ProgressBar(id="import-progress", show_eta=False)
            yield Static("", id="import-message", classes="dialog-message")
            yield Label("enter preview · ctrl+s import · esc cancel", classes="dialog-keys")

    @on(Input.Submitted, "#import-path")
    async def preview(self) -> None:
        """Read the header and first rows, and propose a mapping by field name."""
        text = self.query_one("#import-path", Input).value.strip()
        path = Path(text).expanduser()
        mapping_box = self.query_one("#import-mapping")
        await mapping_box.remove_children()
        self.path, self.header = None, []
        self.query_one("#import-preview", Static).update("")
        try:
            header, rows = read_preview(path)
        except FileNotFoundError:
            self._message(f"No file {path}; give the path of a CSV file.")
            return
        except (OSError, ValueError, csv.Error) as exc:
            self._message(f"{path.name} cannot be read as CSV: {exc}")
            return
        with self.store.lock:
            fields = [f["name"] for f in datasets.resource(self.store, self.dataset_id, self.resource).fields]
        by_lower = {f.lower(): f for f in fields}
        options = [(SKIP, SKIP), (f"{KEEP_ID} (record id)", KEEP_ID), *((f, f) for f in fields)]
        rows_ui = []
        for i, column in enumerate(header):
            guess = KEEP_ID if column == KEEP_ID else by_lower.get(column.lower(), SKIP)
            select = Select(options, value=guess, allow_blank=False, id=f"map-{i}", compact=True)
            rows_ui.append(Horizontal(Label(f"{column or '(blank)'} →"), select))
        await mapping_box.mount_all(rows_ui)
        self.query_one("#import-preview", Static).update(_preview_table(header, rows))
        self.path, self.header = path, header
        self._message(f"{len(header)} column(s); map each to a field or skip it, then ctrl+s.", ok=True)

    def mapping(self) -> list[str | None]:
        out: list[str | None] = []
        for i in range(len(self.header)):
            value = self.query_one(f"#map-{i}", Select).value
            out.append(None if value in (SKIP, Select.NULL) else str(value))
        return out

    def action_import(self) -> None:
        if self.running:
            return
        if self.path is None:
            self._message("Give the path of a CSV file and press enter to preview it first.")
            return
        mapping = self.mapping()
        if not any(mapping):
            self._message("Every column is skipped; map at least one to a field.")
            return
        taken = [m for m in mapping if m]
        if len(taken) != len(set(taken)):
            self._message("Two columns map to the same field; skip one of them.")
            return
        self.running = True
        self.query_one("#import-progress").set_class(True, "-running")
        self._message("Importing…", ok=True)
        self._import(self.path, list(self.header), mapping)

    @work(thread=True, exclusive=True, group="csv-import")
    def _import(self, path: Path, header: list[str], mapping: list[str | None]) -> None:
        workdir: Path | None = None
        try:
            source = path
            if mapping != header:
                # Same file name in a private folder, so the engine's messages name the user's file.
                workdir = Path(tempfile.mkdtemp(prefix="kobold-import-"))
                source = workdir / path.name
                write_mapped(path, source, header, mapping)

            def report(phase: str, done: int, total: int) -> None:
                self.post_message(self.Progress(phase, done, total))

            with self.store.lock:
                count = import_csv(self.store, self.dataset_id, self.resource, source, progress=report)
        except Exception as exc:
            self.post_message(self.Failed(str(exc)))
            return
        finally:
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
        self.post_message(self.Done(count))

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        self.query_one("#import-progress", ProgressBar).update(
            total=max(message.total, 1), progress=message.done
        )
        self._message(f"{message.phase}…", ok=True)

    @on(Done)
    def _done(self, message: Done) -> None:
        self.running = False
        self.dismiss(f"Imported {message.count} {self.resource} record(s).")

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.running = False
        self.query_one("#import-progress").set_class(False, "-running")
        self._message(message.text)
        self.notify(message.text, severity="error", title="Nothing imported")

    def _message(self, text: str, *, ok: bool = False) -> None:
        widget = self.query_one("#import-message", Static)
        widget.update(Text(text))
        widget.set_class(ok, "-ok")

    def action_cancel(self) -> None:
        if not self.running:
            self.dismiss(None)


def _preview_table(header: list[str], rows: list[list[str]]) -> Table:
    table = Table(expand=True, show_edge=False, header_style="bold")
    for column in header:
        table.add_column(column or "(blank)", overflow="ellipsis", no_wrap=True)
    for row in rows:
        table.add_row(*(row + [""] * (len(header) - len(row)))[: len(header)])
    return table


class ExportScreen(ModalScreen[str | None]):
    """Write a resource's records as CSV or JSON to a path; dismisses with a summary or None."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="ExportScreen")
        + """
    ExportScreen Horizontal { height: 1; margin-bottom: 1; }
    ExportScreen Horizontal > Label { width: 10; }
    ExportScreen Horizontal > Select { width: 20; }
    ExportScreen Horizontal > Input { width: 1fr; }
    """
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "export", "Export", priority=True, id="export.run"),
        Binding("escape", "cancel", "Cancel", id="export.cancel"),
    ]

    class Done(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Failed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, store: Store, dataset_id: str, resource: str) -> None:
        super().__init__()
        self.store = store
        self.dataset_id = dataset_id
        self.resource = resource
        self.running = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Export {self.resource}", classes="dialog-title")
            with Horizontal():
                yield Label("Format")
                yield Select([(f, f) for f in FORMATS], value="csv", allow_blank=False, id="export-format",
                             compact=True)  # fmt: skip
            with Horizontal():
                yield Label("Path")
                yield Input(str(Path.cwd() / f"{self.resource}.csv"), id="export-path", compact=True)
            yield Static("", id="export-message", classes="dialog-message")
            yield Label("enter or ctrl+s export · esc cancel", classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    @on(Select.Changed, "#export-format")
    def _format_changed(self, event: Select.Changed) -> None:
        box = self.query_one("#export-path", Input)
        path = Path(box.value)
        if path.suffix in (".csv", ".json"):
            box.value = str(path.with_suffix(f".{event.value}"))

    @on(Input.Submitted, "#export-path")
    def action_export(self) -> None:
        if self.running:
            return
        text = self.query_one("#export-path", Input).value.strip()
        if not text:
            self.query_one("#export-message", Static).update("Give a path to write to.")
            return
        fmt = str(self.query_one("#export-format", Select).value)
        self.running = True
        self._export(fmt, Path(text).expanduser())

    @work(thread=True, exclusive=True, group="export")
    def _export(self, fmt: str, path: Path) -> None:
        try:
            with self.store.lock:
                count = export(self.store, self.dataset_id, self.resource, fmt, path)
        except Exception as exc:
            self.post_message(self.Failed(str(exc)))
            return
        self.post_message(self.Done(f"Exported {count} {self.resource} record(s) to {path}."))

    @on(Done)
    def _done(self, message: Done) -> None:
        self.running = False
        self.dismiss(message.text)

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.running = False
        self.query_one("#export-message", Static).update(Text(message.text))
        self.notify(message.text, severity="error", title="Not exported")

    def action_cancel(self) -> None:
        if not self.running:
            self.dismiss(None)
