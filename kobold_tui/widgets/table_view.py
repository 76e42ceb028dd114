"""One resource as a table: the grid, its (sort, filter, search) view, the workers that build it, and
cell editing with undo.

Views are built in a thread worker under the store lock: first one page (painted at once), then the
position index that serves every other page. A newer request cancels an older one; a stale result is
dropped.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import duckdb
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.worker import get_current_worker

from engine import records
from engine.errors import KoboldError
from engine.query import Condition, PositionIndex, Query, count, jsonable, page
from engine.schema import Resource
from engine.store import Store
from kobold_tui import undo
from kobold_tui.widgets.cell_editor import EditBar
from kobold_tui.widgets.grid import Column, DataGrid, format_value, row_errors, row_invalid
from kobold_tui.widgets.page_cache import PageCache, Row

OP_LABELS = {"=": "=", "!=": "≠", "<": "<", ">": ">", "<=": "≤", ">=": "≥", "contains": "~", "empty": "is empty",
             "not_empty": "is not empty"}  # fmt: skip


class TableView(Vertical):
    """The generic view of a resource (the fallback of `kobold_tui.views`)."""

    DEFAULT_CSS = "TableView { height: 1fr; } TableView > DataGrid { height: 1fr; }"

    class StatusChanged(Message):
        def __init__(self, view: TableView) -> None:
            super().__init__()
            self.view = view

    class Preview(Message):
        def __init__(
            self, generation: int, rows: list[Row], labels: dict[str, str], matched: int, total: int
        ):
            super().__init__()
            self.generation, self.rows, self.labels = generation, rows, labels
            self.matched, self.total = matched, total

    class IndexReady(Message):
        def __init__(self, generation: int, index: PositionIndex, focus: int | None) -> None:
            super().__init__()
            self.generation, self.index, self.focus = generation, index, focus

    class LoadFailed(Message):
        def __init__(self, generation: int, error: str) -> None:
            super().__init__()
            self.generation, self.error = generation, error

    def __init__(self, store: Store, dataset_id: str, res: Resource, history: undo.UndoStack, **kwargs: Any):
        super().__init__(**kwargs)
        self.store = store
        self.dataset_id = dataset_id
        self.res = res
        self.history = history
        self.view_query = Query(res.name)
        self.cache = PageCache(store, dataset_id, res)
        self.grid = DataGrid(self.cache)
        self.edit_bar = EditBar(store, dataset_id, self.submit_edit)
        self.total = 0
        self.matched = 0
        self.loading = False
        self.loaded = False
        self.generation = 0
        self._indexes: dict[str, PositionIndex] = {}
        # record id, field name, text shown when opened, stored value when opened
        self._editing: tuple[str, str, str, Any] | None = None
        self._remote_stale = False
        self.preview_generation = 0

    def compose(self) -> ComposeResult:
        yield self.grid
        yield self.edit_bar

    def on_unmount(self) -> None:
        with self.store.lock:
            for index in self._indexes.values():
                index.drop()
        self._indexes.clear()

    # the view -------------------------------------------------------------------------------------

    def ensure_loaded(self) -> None:
        if not self.loaded and not self.loading:
            self.reload()

    def reload(self, focus_record: str | None = None) -> None:
        """Build the view of `self.view_query` again (after a sort, filter, or a change of rows)."""
        self.generation += 1
        self.loading = True
        self.loaded = True
        self.grid.sort = self.view_query.sort[0] if self.view_query.sort else None
        self.post_message(self.StatusChanged(self))
        self._load(self.generation, self.view_query, focus_record)

    @work(thread=True, exclusive=True, group="view", exit_on_error=False)
    def _load(self, generation: int, query: Query, focus_record: str | None) -> None:
        worker = get_current_worker()
        try:
            with self.store.lock:
                if worker.is_cancelled:
                    return
                first = page(self.store, self.dataset_id, query, 0, self.cache.page_size)
                labels = self.cache.labels_for(list(first.rows))
            self.post_message(self.Preview(generation, first.rows, labels, first.matched, first.total))
            with self.store.lock:
                if worker.is_cancelled:
                    return
                index = PositionIndex(self.store, self.dataset_id, query)
                focus = None
                if focus_record:
                    found = self.store.con.execute(
                        f"SELECT p.pos FROM {index.name} p JOIN {index.tbl} t ON t.rowid = p.rid WHERE t._id = ?",
                        [focus_record],
                    ).fetchone()
                    focus = int(found[0]) if found else None
            self.post_message(self.IndexReady(generation, index, focus))
        except (KoboldError, duckdb.Error) as exc:
            self.post_message(self.LoadFailed(generation, str(exc)))

    def on_table_view_preview(self, event: Preview) -> None:
        event.stop()
        if event.generation != self.generation:
            return
        self.cache.index = None
        self.cache.set_preview(event.rows, event.labels)
        self.preview_generation = event.generation
        self.matched, self.total = event.matched, event.total
        self.grid.set_row_count(event.matched)
        self.post_message(self.StatusChanged(self))

    def on_table_view_index_ready(self, event: IndexReady) -> None:
        event.stop()
        self._indexes[event.index.name] = event.index
        if event.generation != self.generation:
            if not self.loading and self.cache.index and event.index.name != self.cache.index.name:
                self._drop(event.index.name)
            return
        self.loading = False
        self.cache.set_index(event.index)
        self.matched = event.index.matched
        self.grid.set_row_count(self.matched)
        for name in [n for n in self._indexes if n != event.index.name]:
            self._drop(name)
        if event.focus is not None:
            self.grid.move_to(row=event.focus)
        self.grid.refresh()
        self.post_message(self.StatusChanged(self))

    def on_table_view_load_failed(self, event: LoadFailed) -> None:
        event.stop()
        if event.generation == self.generation:
            self.loading = False
            self.notify(event.error, severity="error")
            self.post_message(self.StatusChanged(self))

    def _drop(self, name: str) -> None:
        index = self._indexes.pop(name)
        with self.store.lock:
            index.drop()

    def set_sort(self, field: str | None, descending: bool = False) -> None:
        self.view_query = replace(self.view_query, sort=((field, descending),) if field else ())
        self.reload()

    def set_search(self, text: str | None) -> None:
        self.view_query = replace(self.view_query, search=text or None)
        self.grid.move_to(row=0)
        self.reload()

    def add_condition(self, condition: Condition) -> None:
        kept = tuple(c for c in self.view_query.conditions if c.field != condition.field)
        self.view_query = replace(self.view_query, conditions=(*kept, condition))
        self.grid.move_to(row=0)
        self.reload()

    def clear_filters(self) -> None:
        self.view_query = replace(self.view_query, conditions=(), search=None)
        self.reload()

    def describe_filter(self) -> str:
        parts = [
            f"{c.field} {OP_LABELS.get(c.op, c.op)}"
            + (f" {c.value}" if c.op not in ("empty", "not_empty") else "")
            for c in self.view_query.conditions
        ]
        if self.view_query.search:
            parts.append(f"/{self.view_query.search}")
        return ", ".join(parts)

    def describe_sort(self) -> str:
        return ", ".join(f"{name} {'↓' if desc else '↑'}" for name, desc in self.view_query.sort)

    def refresh_rows(self, structural: bool = False, changed_fields: tuple[str, ...] = ()) -> None:
        """Show the data as it is now: re-read pages, or rebuild the view when rows may have moved."""
        used = {name for name, _ in self.view_query.sort} | {c.field for c in self.view_query.conditions}
        # Any change may move a computed value (and rows sorted or filtered by it).
        moved = used & set(changed_fields) or used & {c["name"] for c in self.res.computed}
        if structural or self.view_query.search or moved:
            current = self.grid.current_row
            self.reload(focus_record=current[0] if current and not structural else None)
        else:
            self.cache.clear()
            self.grid.refresh()
            self.post_message(self.StatusChanged(self))

    # editing --------------------------------------------------------------------------------------

    @property
    def current_record_id(self) -> str | None:
        row = self.grid.current_row
        return str(row[0]) if row else None

    def selected_ids(self) -> list[str]:
        """The selected records, else the current one."""
        if self.grid.selected:
            return sorted(self.grid.selected)
        rid = self.current_record_id
        return [rid] if rid else []

    @property
    def current_problems(self) -> str | None:
        """For the status line: the formula error of the cell under the cursor (its column is too narrow
        for the whole message) and the validation messages of its record."""
        row = self.grid.current_row
        column = self.grid.current_column
        found = []
        if row is not None and column is not None and column.computed:
            errors = row_errors(row)
            error = errors.get(column.key) or errors.get(column.name)
            if error:
                found.append(f"{column.name}: {error}")
        invalid = row_invalid(row)
        if invalid:
            found.append(invalid)
        return "; ".join(found) or None

    def refuse_computed(self, column: Column) -> bool:
        """Tell that a computed column cannot be edited; True when `column` is one."""
        if column.computed:
            self.notify(f"{column.name} is computed by a formula", severity="warning")
        return column.computed

    def start_edit(self) -> bool:
        row = self.grid.current_row
        column = self.grid.current_column
        if row is None or column is None or self.refuse_computed(column):
            return False
        field = self.res.field(column.key)
        value = row[self.grid.cursor_col + 1]
        text = (
            ",".join(value)
            if field["type"] == "references" and value
            else format_value(value, field["type"], {})
        )
        if field["type"] == "text" and value:
            text = str(value)
        self._editing = (str(row[0]), field["name"], text, value)
        self.edit_bar.open(field, value, text, f"row {self.grid.cursor_row + 1}")
        return True

    def submit_edit(self, key: str, value: Any) -> bool:
        """The editor's Enter / Tab / Escape: commit (unless unchanged), then move on or close."""
        if self._editing is None:
            return False
        if key == "escape":
            self.stop_edit()
            return True
        record_id, name, shown, stored = self._editing
        field_type = self.res.field(name)["type"]
        if field_type in ("boolean", "choice", "reference"):
            unchanged = value == self._stored_value()
        else:
            unchanged = value == shown
        if not unchanged and not self.commit(record_id, name, value, stored):
            return False
        grid = self.grid
        if key == "enter":
            if grid.cursor_row >= grid.row_count - 1:
                self.stop_edit()
                return True
            grid.move_to(row=grid.cursor_row + 1)
        else:
            editable = [i for i, c in enumerate(grid.columns) if not c.computed]
            after = [i for i in editable if i > grid.cursor_col]
            if after:
                grid.move_to(col=after[0])
            elif grid.cursor_row < grid.row_count - 1 and editable:
                grid.move_to(row=grid.cursor_row + 1, col=editable[0])
            else:
                self.stop_edit()
                return True
        if not self.start_edit():
            self.stop_edit()
        return True

    def _stored_value(self) -> Any:
        row = self.grid.current_row
        return row[self.grid.cursor_col + 1] if row else None

    def stop_edit(self) -> None:
        self._editing = None
        self.edit_bar.close()
        self.grid.focus()
        if self._remote_stale:
            self.show_remote_changes()

    def show_remote_changes(self) -> None:
        """Events arrived from a relay: show them, keeping the cursor on its record; an edit in progress
        is never interrupted (the refresh waits until it closes)."""
        if self._editing is not None:
            self._remote_stale = True
            return
        self._remote_stale = False
        if self.loaded:
            row = self.grid.current_row
            self.reload(focus_record=str(row[0]) if row else None)

    def commit(self, record_id: str, field: str, value: Any, stored: Any) -> bool:
        """Write one cell (`stored` is its value before, kept for undo); on a refused value the editor
        stays open with the engine's reason and nothing is written."""
        from_text = isinstance(value, str) or value is None
        if value is None:
            value = ""
        try:
            with self.store.lock:
                event = records.update_record(
                    self.store, self.dataset_id, self.res.name, record_id, {field: value}, from_text=from_text
                )
        except KoboldError as exc:
            self.edit_bar.show_error(str(exc))
            return False
        key = self.res.field(field)["key"]
        new = next(op["f"][key] for op in json.loads(event.content)["ops"] if op["id"] == record_id)
        old = {record_id: {field: jsonable(stored)}}
        self.history.push(undo.update_entry(f"edit {field}", self.res.name, old, {record_id: {field: new}}))
        self.refresh_rows(changed_fields=(field,))
        return True

    def set_column(self, field: str, text: str) -> int:
        """Set one column on every selected record in one changeset; returns how many."""
        ids = self.selected_ids()
        with self.store.lock:
            old = undo.current_values(self.store, self.dataset_id, self.res.name, ids, [field])
            records.apply_changes(
                self.store,
                self.dataset_id,
                [records.Change("update", self.res.name, rid, {field: text}, from_text=True) for rid in ids],
            )
            new = undo.current_values(self.store, self.dataset_id, self.res.name, ids, [field])
        self.history.push(undo.update_entry(f"set {field} on {len(ids)} rows", self.res.name, old, new))
        self.refresh_rows(changed_fields=(field,))
        return len(ids)

    def delete(self, ids: list[str]) -> None:
        with self.store.lock:
            records.delete_records(self.store, self.dataset_id, self.res.name, ids)
        self.history.push(undo.delete_entry(self.res.name, ids))
        self.grid.selected.difference_update(ids)
        self.refresh_rows(structural=True)

    def toggle_select(self) -> None:
        rid = self.current_record_id
        if rid is None:
            return
        self.grid.selected.symmetric_difference_update({rid})
        self.grid.move_to(row=self.grid.cursor_row + 1)
        self.post_message(self.StatusChanged(self))

    def count_all(self) -> int:
        with self.store.lock:
            return count(self.store, self.dataset_id, Query(self.res.name))
