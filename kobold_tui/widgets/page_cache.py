"""A few pages of one table view, read from DuckDB through a `PositionIndex`: all the grid ever holds.

Pages are fetched on the main thread only when the store lock is free right away (a page is a 1–5 ms
range lookup); while a worker holds the lock the grid paints placeholders and asks again shortly.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from engine import datasets
from engine.projection import q, table_name
from engine.query import PositionIndex
from engine.schema import Resource

if TYPE_CHECKING:
    from engine.store import Store

# (_id, stored field values in `Resource.fields` order, computed values in `Resource.computed` order,
#  _errors, _invalid): the column order of `engine.query.page`.
Row = tuple[Any, ...]
REFERENCE_TYPES = ("reference", "references")


class PageCache:
    """Rows by position of the current (sort, filter) view, at most `max_pages` pages of `page_size`."""

    def __init__(
        self, store: Store, dataset_id: str, res: Resource, page_size: int = 100, max_pages: int = 4
    ):
        self.store = store
        self.dataset_id = dataset_id
        self.res = res
        self.page_size = page_size
        self.max_pages = max_pages
        self.index: PositionIndex | None = None
        self._pages: OrderedDict[int, tuple[list[Row | None], dict[str, str]]] = OrderedDict()
        self._label_columns: dict[str, tuple[str, str]] = {}

    @property
    def cached_rows(self) -> int:
        """How many rows are held in memory right now."""
        return sum(len(rows) for rows, _ in self._pages.values())

    def clear(self) -> None:
        self._pages.clear()

    def set_preview(self, rows: list[Row], labels: dict[str, str]) -> None:
        """The first page, read before the position index exists (so the grid paints at once)."""
        self._pages.clear()
        self._pages[0] = (list(rows), labels)

    def set_index(self, index: PositionIndex) -> None:
        self.index = index
        self._pages.clear()

    def row(self, pos: int) -> tuple[Row | None, dict[str, str]] | None:
        """The row at `pos` and the labels of its references, or None while it cannot be read yet."""
        number, offset = divmod(pos, self.page_size)
        page = self._pages.get(number)
        if page is None:
            page = self._fetch(number)
            if page is None:
                return None
        else:
            self._pages.move_to_end(number)
        rows, labels = page
        if offset >= len(rows):
            return None
        return rows[offset], labels

    def _fetch(self, number: int) -> tuple[list[Row | None], dict[str, str]] | None:
        if self.index is None or not self.store.lock.acquire(blocking=False):
            return None
        try:
            rows = self.read_rows(number * self.page_size, self.page_size)
            labels = self.labels_for(rows)
        finally:
            self.store.lock.release()
        page = (rows, labels)
        self._pages[number] = page
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)
        return page

    def read_rows(self, offset: int, limit: int) -> list[Row | None]:
        """Rows at positions [offset, offset+limit); a record deleted since the index was built is None."""
        assert self.index is not None
        keys = [f["key"] for f in self.res.fields] + [c["key"] for c in self.res.computed]
        cols = ", ".join(["t._id", *(f"t.{q(k)}" for k in keys), "t._errors", "t._invalid"])
        fetched = self.store.con.execute(
            f"SELECT {cols} FROM {self.index.name} p LEFT JOIN {self.index.tbl} t ON t.rowid = p.rid "
            f"WHERE p.pos >= ? AND p.pos < ? ORDER BY p.pos",
            [offset, offset + limit],
        ).fetchall()
        return [row if row[0] is not None else None for row in fetched]

    def labels_for(self, rows: list[Row | None]) -> dict[str, str]:
        """Display values of the records the rows refer to: the target's `display_name`, else its first
        string field, else its id. Call with the store lock held."""
        wanted: dict[str, set[str]] = {}
        for i, f in enumerate(self.res.fields, start=1):
            if f["type"] not in REFERENCE_TYPES:
                continue
            for row in rows:
                value = row[i] if row else None
                if value:
                    wanted.setdefault(f["target"], set()).update(
                        value if isinstance(value, list) else [value]
                    )
        labels: dict[str, str] = {}
        for target, ids in wanted.items():
            tbl, col = self._label_column(target)
            found = self.store.con.execute(
                f"SELECT _id, CAST({col} AS VARCHAR) FROM {tbl} WHERE _id IN (SELECT unnest(?::VARCHAR[]))",
                [sorted(ids)],
            ).fetchall()
            labels.update({rid: label or rid for rid, label in found})
        return labels

    def _label_column(self, target: str) -> tuple[str, str]:
        cached = self._label_columns.get(target)
        if cached is None:
            cached = self._label_columns[target] = label_column(self.store, self.dataset_id, target)
        return cached


def label_column(store: Store, dataset_id: str, target: str) -> tuple[str, str]:
    """(quoted table, quoted column) that shows a record of `target` to a person."""
    res = datasets.resource(store, dataset_id, target)
    tbl = table_name(dataset_id, res.key)
    columns = {
        r[0] for r in store.con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [tbl]
        ).fetchall()
    }  # fmt: skip
    if "display_name" in columns:
        return q(tbl), q("display_name")
    first = next((f["key"] for f in res.fields if f["type"] == "string"), "_id")
    return q(tbl), q(first)
