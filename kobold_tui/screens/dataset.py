"""A dataset: one tab per resource, each a view (usually the table grid), with a status line.

The screen turns commands into calls on the active view and opens the other screens (record detail,
form, schema editor, import/export), importing them only when asked.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from engine import datasets, records
from engine.errors import KoboldError
from engine.query import Condition, Query
from engine.store import Store
from kobold_tui import commands
from kobold_tui.screens.confirm import ConfirmScreen
from kobold_tui.screens.prompt import FilterScreen, PromptScreen
from kobold_tui.undo import UndoStack, create_entry
from kobold_tui.views import make_view
from kobold_tui.widgets.grid import DataGrid
from kobold_tui.widgets.status_bar import StatusBar
from kobold_tui.widgets.sync_line import SyncLine
from kobold_tui.widgets.table_view import TableView


class DatasetScreen(Screen[None]):
    COMMAND_SCOPES = ("dataset", "grid")
    BINDINGS: ClassVar[list[BindingType]] = commands.bindings("dataset")
    DEFAULT_CSS = """
    DatasetScreen TabbedContent { height: 1fr; }
    DatasetScreen TabPane { padding: 0; height: 1fr; }
    DatasetScreen ContentSwitcher { height: 1fr; }
    """

    def __init__(self, store: Store, dataset_id: str, resource: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.dataset_id = dataset_id
        self.first_resource = resource
        self.history = UndoStack()
        with store.lock:
            self.info = datasets.info(store, dataset_id)
            self.resources = datasets.resources(store, dataset_id)
        self.views: dict[str, TableView] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        initial = f"tab-{self._resource_key(self.first_resource)}" if self.first_resource else ""
        self.views = {}
        with TabbedContent(initial=initial):
            for res in self.resources:
                view = make_view(self.store, self.info.type, self.dataset_id, res, self.history)
                self.views[res.name] = view
                with TabPane(res.name, id=f"tab-{res.key}"):
                    yield view
        yield StatusBar()
        yield SyncLine()
        yield Footer()

    def _resource_key(self, name: str) -> str:
        return next((r.key for r in self.resources if name in (r.name, r.key)), name)

    def on_mount(self) -> None:
        self.title = self.info.name
        self.sub_title = f"{self.info.type} · {self.info.visibility}"
        if not self.resources:
            self.query_one(StatusBar).update("This dataset has no resources yet; press S to define one.")
        self._activate()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._activate()

    def _activate(self) -> None:
        view = self.active_view
        if view is None:
            return
        view.ensure_loaded()
        view.grid.focus()
        self._show_status(view)

    # the active view ------------------------------------------------------------------------------

    @property
    def active_view(self) -> TableView | None:
        if not self.views:
            return None
        active = self.query_one(TabbedContent).active
        for res in self.resources:
            if f"tab-{res.key}" == active:
                return self.views[res.name]
        return next(iter(self.views.values()))

    def command_target(self, scope: str) -> DOMNode:
        """Where the palette runs a command of `scope`."""
        view = self.active_view
        return view.grid if scope == "grid" and view else self

    def on_table_view_status_changed(self, event: TableView.StatusChanged) -> None:
        if event.view is self.active_view:
            self._show_status(event.view)

    def on_data_grid_cell_clicked(self, event: DataGrid.CellClicked) -> None:
        self.action_edit_cell()

    def on_data_grid_cursor_moved(self, event: DataGrid.CursorMoved) -> None:
        view = self.active_view
        if view is not None and event.grid is view.grid:
            self._show_status(view)

    def _show_status(self, view: TableView) -> None:
        self.query_one(StatusBar).show(
            resource=view.res.name, matched=view.matched, total=view.total, sort=view.describe_sort(),
            filter=view.describe_filter(), selected=len(view.grid.selected), loading=view.loading,
            invalid=view.current_problems,
        )  # fmt: skip

    def _column(self) -> tuple[TableView, str] | None:
        view = self.active_view
        column = view.grid.current_column if view else None
        if view is None or column is None:
            return None
        return view, column.name

    # commands -------------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(None)

    def action_edit_cell(self) -> None:
        view = self.active_view
        if view is not None:
            view.start_edit()

    def action_toggle_select(self) -> None:
        if self.active_view:
            self.active_view.toggle_select()

    def action_clear_selection(self) -> None:
        if self.active_view:
            self.active_view.grid.selected.clear()
            self.active_view.grid.refresh()
            self._show_status(self.active_view)

    def action_sort(self, descending: bool) -> None:
        found = self._column()
        if found:
            found[0].set_sort(found[1], descending)

    def action_unsort(self) -> None:
        if self.active_view:
            self.active_view.set_sort(None)

    def action_search(self) -> None:
        view = self.active_view
        if view is None:
            return

        def done(text: str | None) -> None:
            if text is not None:
                view.set_search(text.strip())

        self.app.push_screen(PromptScreen("Search every column for:", view.view_query.search or ""), done)

    def action_filter(self) -> None:
        found = self._column()
        if not found:
            return
        view, field = found

        def done(condition: Condition | None) -> None:
            if condition is not None:
                view.add_condition(condition)

        self.app.push_screen(FilterScreen(field), done)

    def action_clear_filters(self) -> None:
        if self.active_view:
            self.active_view.clear_filters()

    def action_goto_row(self) -> None:
        view = self.active_view
        if view is None:
            return

        def done(text: str | None) -> None:
            if text and text.strip().isdigit():
                view.grid.move_to(row=int(text.strip()) - 1)
            elif text:
                self.notify(f"{text!r} is not a row number.", severity="warning")

        self.app.push_screen(PromptScreen(f"Go to row (1–{view.matched:,}):"), done)

    def action_set_column(self) -> None:
        found = self._column()
        if not found:
            return
        view, field = found
        column = view.grid.current_column
        if column is not None and view.refuse_computed(column):
            return
        ids = view.selected_ids()
        if not ids:
            return

        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                n = view.set_column(field, text)
            except KoboldError as exc:
                self.notify(str(exc), severity="error")
                return
            self.notify(f"Set {field} on {n} record(s).")

        self.app.push_screen(PromptScreen(f"Set {field} on {len(ids)} record(s) to:"), done)

    def action_delete_records(self) -> None:
        view = self.active_view
        ids = view.selected_ids() if view else []
        if view is None or not ids:
            return

        def done(yes: bool | None) -> None:
            if not yes:
                return
            try:
                view.delete(ids)
            except KoboldError as exc:
                self.notify(str(exc), severity="error")
                return
            self.notify(f"Deleted {len(ids)} record(s); u undoes.")

        what = "this record" if len(ids) == 1 else f"these {len(ids)} records"
        self.app.push_screen(ConfirmScreen(f"Delete {what} from {view.res.name}?", "Delete"), done)

    def action_undo(self) -> None:
        entry = self.history.next_undo()
        if entry is None:
            self.notify("Nothing to undo.")
            return
        if self._apply(entry.undo, entry.resource, entry.structural):
            self.history.undone()
            self.notify(f"Undid: {entry.description}.")

    def action_redo(self) -> None:
        entry = self.history.next_redo()
        if entry is None:
            self.notify("Nothing to redo.")
            return
        if self._apply(entry.redo, entry.resource, entry.structural):
            self.history.redone()
            self.notify(f"Redid: {entry.description}.")

    def _apply(self, changes: list[records.Change], resource: str, structural: bool) -> bool:
        try:
            with self.store.lock:
                records.apply_changes(self.store, self.dataset_id, changes)
        except KoboldError as exc:
            self.notify(str(exc), severity="error")
            return False
        view = self.views.get(resource)
        if view is not None and view.loaded:
            fields = tuple(name for change in changes for name in change.values)
            view.refresh_rows(structural=structural, changed_fields=fields)
        return True

    def action_jump_reference(self) -> None:
        view = self.active_view
        row = view.grid.current_row if view else None
        column = view.grid.current_column if view else None
        if view is None or row is None or column is None:
            return
        if column.computed:
            self.notify("The current cell does not refer to a record.", severity="warning")
            return
        field = view.res.field(column.key)
        value = row[view.grid.cursor_col + 1]
        if field["type"] not in ("reference", "references") or not value:
            self.notify("The current cell does not refer to a record.", severity="warning")
            return
        target_id = value[0] if isinstance(value, list) else value
        target = self.views.get(field["target"])
        if target is None:
            self.notify(f"{field['target']} is not shown here.", severity="warning")
            return
        target.view_query = Query(target.res.name)
        self.query_one(TabbedContent).active = f"tab-{target.res.key}"
        target.reload(focus_record=target_id)
        target.grid.focus()

    def remote_changes(self, dataset_ids: set[str]) -> None:
        if self.dataset_id in dataset_ids:
            for view in self.views.values():
                view.show_remote_changes()

    def action_reload(self) -> None:
        if self.active_view:
            self.active_view.reload()

    def action_open_members(self) -> None:
        screen = self._screen("roles", "RolesScreen", self.store, self.dataset_id)
        if screen:
            self.app.push_screen(screen)

    # other screens --------------------------------------------------------------------------------

    def _screen(self, module: str, name: str, *args: Any) -> Screen[Any] | None:
        """An instance of a screen built elsewhere, or None (with a notice) when it is not available."""
        try:
            cls = getattr(importlib.import_module(f"kobold_tui.screens.{module}"), name)
        except (ImportError, AttributeError):
            self.notify(f"The {module.replace('_', ' ')} screen is not available yet.", severity="warning")
            return None
        screen: Screen[Any] = cls(*args)
        return screen

    def action_open_record(self) -> None:
        view = self.active_view
        rid = view.current_record_id if view else None
        if view is None or rid is None:
            return
        screen = self._screen(
            "record_detail", "RecordDetailScreen", self.store, self.dataset_id, view.res.name, rid
        )
        if screen:
            self.app.push_screen(screen, lambda _: view.refresh_rows())

    def action_add_record(self) -> None:
        view = self.active_view
        if view is None:
            return
        screen = self._screen("record_form", "RecordFormScreen", self.store, self.dataset_id, view.res.name)
        if screen is None:
            return

        def done(record_id: str | None) -> None:
            if record_id:
                self.history.push(create_entry(view.res.name, record_id))
                view.reload(focus_record=record_id)

        self.app.push_screen(screen, done)

    def action_edit_schema(self) -> None:
        screen = self._screen("schema_editor", "SchemaEditorScreen", self.store, self.dataset_id)
        if screen:
            self.app.push_screen(screen, self._schema_closed)

    async def _schema_closed(self, _: object) -> None:
        with self.store.lock:
            resources = datasets.resources(self.store, self.dataset_id)
        if [r.definition for r in resources] != [r.definition for r in self.resources]:
            self.resources = resources
            await self.recompose()
            self._activate()

    def action_import_records(self) -> None:
        view = self.active_view
        if view is None:
            return
        screen = self._screen("import_export", "ImportScreen", self.store, self.dataset_id, view.res.name)
        if screen:
            self.app.push_screen(screen, lambda _: view.refresh_rows(structural=True))

    def action_open_merges(self) -> None:
        screen = self._screen("merge_review", "MergeInboxScreen", self.store, self.dataset_id)
        if screen:
            self.app.push_screen(
                screen, lambda _: self.active_view.refresh_rows() if self.active_view else None
            )

    def action_export_records(self) -> None:
        view = self.active_view
        if view is None:
            return
        screen = self._screen("import_export", "ExportScreen", self.store, self.dataset_id, view.res.name)
        if screen:
            self.app.push_screen(screen)
