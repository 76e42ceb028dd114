"""Undo and redo of this session's own changes, as new compensating changesets (history is never rewritten).

Before a change, the old values of the touched fields are read; undoing writes them back as a new update,
and a delete is undone by a restore (and a create by a delete).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine import datasets
from engine.projection import q, table_name
from engine.query import jsonable
from engine.records import Change

if TYPE_CHECKING:
    from engine.store import Store


@dataclass(frozen=True)
class UndoEntry:
    description: str
    resource: str
    undo: list[Change]
    redo: list[Change]
    structural: bool = False  # records appear or disappear: views need a new position index


class UndoStack:
    """Two stacks of entries; a new change clears the redo stack."""

    def __init__(self, limit: int = 200) -> None:
        self.limit = limit
        self._undo: list[UndoEntry] = []
        self._redo: list[UndoEntry] = []

    def push(self, entry: UndoEntry) -> None:
        self._undo.append(entry)
        del self._undo[: -self.limit]
        self._redo.clear()

    def next_undo(self) -> UndoEntry | None:
        return self._undo[-1] if self._undo else None

    def next_redo(self) -> UndoEntry | None:
        return self._redo[-1] if self._redo else None

    def undone(self) -> None:
        self._redo.append(self._undo.pop())

    def redone(self) -> None:
        self._undo.append(self._redo.pop())


def current_values(
    store: Store, dataset_id: str, resource: str, record_ids: list[str], fields: list[str]
) -> dict[str, dict[str, Any]]:
    """The stored values of `fields` (names) of some records, by record id, as the engine accepts them back."""
    res = datasets.resource(store, dataset_id, resource)
    keys = [res.field(name)["key"] for name in fields]
    cols = "".join(f", {q(k)}" for k in keys)
    rows = store.con.execute(
        f"SELECT _id{cols} FROM {q(table_name(dataset_id, res.key))} WHERE _id IN (SELECT unnest(?::VARCHAR[]))",
        [record_ids],
    ).fetchall()
    return {row[0]: {name: jsonable(v) for name, v in zip(fields, row[1:], strict=True)} for row in rows}


def update_entry(
    description: str, resource: str, old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]
) -> UndoEntry:
    """An entry for updates: `old` and `new` values by record id (new values as the engine accepted them)."""
    return UndoEntry(
        description,
        resource,
        [Change("update", resource, rid, values) for rid, values in old.items()],
        [Change("update", resource, rid, new[rid]) for rid in old],
    )


def delete_entry(resource: str, record_ids: list[str]) -> UndoEntry:
    return UndoEntry(
        f"delete {len(record_ids)} record(s)",
        resource,
        [Change("restore", resource, rid) for rid in record_ids],
        [Change("delete", resource, rid) for rid in record_ids],
        structural=True,
    )


def create_entry(resource: str, record_id: str) -> UndoEntry:
    return UndoEntry(
        "add a record",
        resource,
        [Change("delete", resource, record_id)],
        [Change("restore", resource, record_id)],
        structural=True,
    )
