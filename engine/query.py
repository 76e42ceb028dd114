"""Reading records: filter, quick search, stable sort and paging, all as DuckDB queries.

Deep pages of a large sorted view are served from a position table (row number → rowid) built once per
(sort, filter) and kept until the data changes, so page N costs milliseconds whatever N is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine import datasets
from engine.errors import ValidationError
from engine.field_types import ValueProblem, canonical
from engine.projection import q, table_name
from engine.schema import Resource

if TYPE_CHECKING:
    from engine.store import Store

OPERATORS = ("=", "!=", "<", ">", "<=", ">=", "contains", "empty", "not_empty")
_SQL_OPS = {"=": "=", "!=": "<>", "<": "<", ">": ">", "<=": "<=", ">=": ">="}


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class Query:
    resource: str
    conditions: tuple[Condition, ...] = ()
    search: str | None = None
    sort: tuple[tuple[str, bool], ...] = ()  # (field name, descending)


@dataclass
class Page:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    total: int
    offset: int
    matched: int
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dicts(self) -> list[dict[str, Any]]:
        out = []
        for row in self.rows:
            item = dict(zip(self.columns, (jsonable(v) for v in row), strict=True))
            if isinstance(item.get("_errors"), str):
                item["_errors"] = json.loads(item["_errors"])
            out.append(item)
        return out


def parse_condition(text: str) -> Condition:
    """`field=value`, `field!=v`, `field<v`, `field>v`, `field<=v`, `field>=v`, `field~text` (contains), `field=` (empty)."""
    for token, op in (
        ("!=", "!="),
        ("<=", "<="),
        (">=", ">="),
        ("~", "contains"),
        ("=", "="),
        ("<", "<"),
        (">", ">"),
    ):
        if token in text:
            name, value = text.split(token, 1)
            if op == "=" and value == "":
                return Condition(name.strip(), "empty")
            if op == "!=" and value == "":
                return Condition(name.strip(), "not_empty")
            return Condition(name.strip(), op, value)
    raise ValidationError(
        f"{text!r} is not a filter; write FIELD=VALUE, FIELD!=VALUE, FIELD<VALUE, FIELD>VALUE or FIELD~TEXT."
    )


def parse_sort(text: str) -> tuple[str, bool]:
    return (text[1:], True) if text.startswith("-") else (text, False)


def _where(res: Resource, query: Query) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    for cond in query.conditions:
        f = _column(res, cond.field)
        col = q(f["key"])
        if cond.op == "empty":
            parts.append(
                f"({col} IS NULL" + (f" OR {col} = ''" if f["type"] in ("string", "text") else "") + ")"
            )
        elif cond.op == "not_empty":
            parts.append(
                f"({col} IS NOT NULL" + (f" AND {col} <> ''" if f["type"] in ("string", "text") else "") + ")"
            )
        elif cond.op == "contains":
            parts.append(f"CAST({col} AS VARCHAR) ILIKE ?")
            params.append(f"%{_escape_like(str(cond.value))}%")
        elif cond.op in _SQL_OPS:
            try:
                value = canonical(f, cond.value, from_text=True)
            except ValueProblem as exc:
                raise ValidationError(f"Filter {f['name']}{cond.op}{cond.value}: {exc}.") from None
            if f["type"] == "references":
                parts.append(f"list_contains({col}, ?)")
                params.append(value[0] if value else None)
            else:
                parts.append(f"{col} {_SQL_OPS[cond.op]} ?")
                params.append(value)
        else:
            raise ValidationError(f"Unknown filter operator {cond.op!r}; use one of {', '.join(OPERATORS)}.")
    if query.search:
        cols = [f"CAST({q(f['key'])} AS VARCHAR)" for f in res.fields] or ["_id"]
        parts.append("(" + " OR ".join(f"{c} ILIKE ?" for c in cols) + ")")
        params += [f"%{_escape_like(query.search)}%"] * len(cols)
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _order(res: Resource, query: Query) -> str:
    terms = []
    for name, desc in query.sort:
        f = _column(res, name)
        terms.append(f"{q(f['key'])} {'DESC' if desc else 'ASC'} NULLS LAST")
    return " ORDER BY " + ", ".join([*terms, "_id"])


def count(store: Store, dataset_id: str, query: Query) -> int:
    res = datasets.resource(store, dataset_id, query.resource)
    where, params = _where(res, query)
    row = store.con.execute(
        f"SELECT count(*) FROM {q(table_name(dataset_id, res.key))}{where}", params
    ).fetchone()
    return int(row[0]) if row else 0


def page(store: Store, dataset_id: str, query: Query, offset: int = 0, limit: int = 100) -> Page:
    """One page of matching records, columns by field name with `_id` first."""
    res = datasets.resource(store, dataset_id, query.resource)
    tbl = q(table_name(dataset_id, res.key))
    where, params = _where(res, query)
    cols = ["_id", *(q(k) for k in _keys(res)), "_errors", "_invalid"]
    rows = store.con.execute(
        f"SELECT {', '.join(cols)} FROM {tbl}{where}{_order(res, query)} LIMIT ? OFFSET ?",
        [*params, max(limit, 0), max(offset, 0)],
    ).fetchall()
    total_row = store.con.execute(f"SELECT count(*) FROM {tbl}").fetchone()
    total = int(total_row[0]) if total_row else 0
    matched = total if not where else count(store, dataset_id, query)
    return Page(["_id", *_names(res), "_errors", "_invalid"], rows, total, offset, matched)


def _column(res: Resource, name: str) -> dict[str, Any]:
    """A stored or computed field by name, for filtering and sorting."""
    for c in res.computed:
        if c["name"] == name:
            return {**c, "scale": 18} if c["type"] == "decimal" else c
    return res.field(name)


def _keys(res: Resource) -> list[str]:
    """Stored then computed column keys: everything a person sees as a column."""
    return [f["key"] for f in res.fields] + [c["key"] for c in res.computed]


def _names(res: Resource) -> list[str]:
    return [f["name"] for f in res.fields] + [c["name"] for c in res.computed]


class PositionIndex:
    """Row positions of one (resource, filter, sort) view: any page is a range lookup."""

    def __init__(self, store: Store, dataset_id: str, query: Query) -> None:
        self.store = store
        self.res = datasets.resource(store, dataset_id, query.resource)
        self.tbl = q(table_name(dataset_id, self.res.key))
        where, params = _where(self.res, query)
        digest = hashlib.sha1(repr((dataset_id, query)).encode()).hexdigest()[:12]
        self.name = f"_pos_{digest}"
        store.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {self.name} AS SELECT (row_number() OVER ({_order(self.res, query)}))::BIGINT - 1 "
            f"AS pos, rowid AS rid FROM {self.tbl}{where}",
            params,
        )
        row = store.con.execute(f"SELECT count(*) FROM {self.name}").fetchone()
        self.matched = int(row[0]) if row else 0
        self.columns = ["_id", *_names(self.res), "_errors", "_invalid"]

    def rows(self, offset: int, limit: int) -> list[tuple[Any, ...]]:
        cols = ", ".join(["t._id", *(f"t.{q(k)}" for k in _keys(self.res)), "t._errors", "t._invalid"])
        return self.store.con.execute(
            f"SELECT {cols} FROM {self.name} p JOIN {self.tbl} t ON t.rowid = p.rid "
            f"WHERE p.pos >= ? AND p.pos < ? ORDER BY p.pos",
            [offset, offset + limit],
        ).fetchall()

    def drop(self) -> None:
        self.store.con.execute(f"DROP TABLE IF EXISTS {self.name}")


def jsonable(value: Any) -> Any:
    """DuckDB values as JSON: decimals as exact strings, dates and times in ISO form."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value
