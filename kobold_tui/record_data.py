"""Read-only views of records for the screens: values, labels, relationships both ways, history and blame.

Plain functions over the engine (no Textual); screens call them from worker threads holding `store.lock`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine import datasets, query, records
from engine.history import HistoryEntry, blame, history
from engine.identity import short_npub
from engine.projection import q, table_name
from engine.query import Condition, Query, jsonable
from engine.schema import Resource

if TYPE_CHECKING:
    from engine.store import Store

REFERENCE_TYPES = ("reference", "references")


@dataclass(frozen=True)
class FieldLine:
    """One stored field of a record as the detail screen shows it."""

    name: str
    type: str
    value: str
    description: str
    required: bool
    blame: str  # "npub1…wxyz · abcd1234" (author, event), empty when never set


@dataclass(frozen=True)
class ComputedLine:
    name: str
    type: str
    formula: str
    value: str | None  # None when the formula gave no value
    error: str | None = None  # the "#ERR …" message when the formula failed


@dataclass(frozen=True)
class Link:
    """A relationship: this record's reference (`out`) or another record pointing here (`in`)."""

    direction: str
    via: str  # "Resource.field" that holds the reference
    resource: str
    record_id: str
    label: str


@dataclass(frozen=True)
class RecordDetail:
    resource: str
    record_id: str
    title: str
    dataset_name: str
    fields: list[FieldLine]
    computed: list[ComputedLine]
    links: list[Link]
    history: list[HistoryEntry]
    origin: dict[str, Any] | None
    validation: list[str] = field(default_factory=list)


def format_value(value: Any) -> str:
    """A stored value as text on screen."""
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def format_time(created_at: int) -> str:
    return dt.datetime.fromtimestamp(created_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def table_columns(store: Store, dataset_id: str, res: Resource) -> list[str]:
    rows = store.con.execute(f"DESCRIBE {q(table_name(dataset_id, res.key))}").fetchall()
    return [str(r[0]) for r in rows]


def _label_expr(res: Resource, columns: list[str]) -> str:
    """The SQL expression naming a record: its `display_name` column, else its first text field, else its id
    (a `display_name` whose formula failed falls back too)."""
    parts = []
    if "display_name" in columns:
        parts.append(f"CAST({q('display_name')} AS VARCHAR)")
    texts = [f for f in res.fields if f["type"] in ("string", "choice")]
    texts.sort(key=lambda f: not f["required"])
    if texts:
        parts.append(f"CAST({q(texts[0]['key'])} AS VARCHAR)")
    return f"coalesce({', '.join([*parts, '_id'])})"


def record_labels(store: Store, dataset_id: str, resource: str, ids: list[str]) -> dict[str, str]:
    """Display labels of records by id; ids that are not live records are left out."""
    if not ids:
        return {}
    res = datasets.resource(store, dataset_id, resource)
    expr = _label_expr(res, table_columns(store, dataset_id, res))
    rows = store.con.execute(
        f"SELECT _id, {expr} FROM {q(table_name(dataset_id, res.key))} WHERE _id IN (SELECT unnest(?::VARCHAR[]))",
        [ids],
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def search_records(
    store: Store, dataset_id: str, resource: str, text: str, limit: int = 6
) -> list[tuple[str, str]]:
    """(id, label) of records of `resource` matching a quick search, for reference pickers."""
    page = query.page(store, dataset_id, Query(resource, search=text.strip() or None), limit=limit)
    ids = [str(r[0]) for r in page.rows]
    labels = record_labels(store, dataset_id, resource, ids)
    return [(rid, labels.get(rid, rid)) for rid in ids]


def record_values(store: Store, dataset_id: str, resource: str, record_id: str) -> dict[str, Any]:
    """Every column of a live record by field key (stored and materialized computed), with `_id`."""
    from engine.errors import NotFound

    res = datasets.resource(store, dataset_id, resource)
    cur = store.con.execute(f"SELECT * FROM {q(table_name(dataset_id, res.key))} WHERE _id = ?", [record_id])
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"No {res.name} record {record_id} (it may have been deleted).")
    names = [d[0] for d in cur.description or []]
    return dict(zip(names, row, strict=True))


def links_of(store: Store, dataset_id: str, res: Resource, values: dict[str, Any]) -> list[Link]:
    """Outgoing references with their targets' labels, then records of this dataset pointing here."""
    links: list[Link] = []
    for f in res.fields:
        if f["type"] not in REFERENCE_TYPES or values.get(f["key"]) is None:
            continue
        value = values[f["key"]]
        ids = [str(v) for v in (value if isinstance(value, list) else [value])]
        target = datasets.resource(store, dataset_id, f["target"])
        labels = record_labels(store, dataset_id, target.name, ids)
        for rid in ids:
            label = labels.get(rid, f"{rid} (missing)")
            links.append(Link("out", f"{res.name}.{f['name']}", target.name, rid, label))
    record_id = str(values["_id"])
    for other in datasets.resources(store, dataset_id):
        for f in other.fields:
            if f["type"] not in REFERENCE_TYPES or f["target"] != res.name:
                continue
            page = query.page(
                store, dataset_id, Query(other.name, (Condition(f["name"], "=", record_id),)), limit=200
            )
            ids = [str(r[0]) for r in page.rows]
            labels = record_labels(store, dataset_id, other.name, ids)
            for rid in ids:
                links.append(Link("in", f"{other.name}.{f['name']}", other.name, rid, labels.get(rid, rid)))
    return links


def load_detail(store: Store, dataset_id: str, resource: str, record_id: str) -> RecordDetail:
    """Everything the record detail screen shows, read in one go."""
    res = datasets.resource(store, dataset_id, resource)
    values = record_values(store, dataset_id, res.name, record_id)
    who = blame(store, dataset_id, res.name, record_id)
    links = links_of(store, dataset_id, res, values)
    out_labels = {link.record_id: link.label for link in links if link.direction == "out"}
    fields = []
    for f in res.fields:
        b = who.get(f["name"])
        value = values.get(f["key"])
        if f["type"] in REFERENCE_TYPES and value is not None:
            ids = value if isinstance(value, list) else [value]
            shown = ", ".join(out_labels.get(str(v), str(v)) for v in ids)
        else:
            shown = format_value(value)
        fields.append(
            FieldLine(
                f["name"], _type_label(f), shown, f.get("description", ""), bool(f["required"]),
                f"{b.get('author_name') or short_npub(b['author'])} · {b['event'][:8]}" if b else "",
            )
        )  # fmt: skip
    derived = records.derived(store, dataset_id, res.name, record_id)
    computed = []
    for c in res.computed:
        value = derived["computed"].get(c["name"])
        error = derived["errors"].get(c["key"]) or derived["errors"].get(c["name"])
        text = format_value(value) if value is not None else None
        computed.append(ComputedLine(c["name"], c["type"], c["formula"], text, error))
    labels = record_labels(store, dataset_id, res.name, [record_id])
    info = datasets.info(store, dataset_id)
    return RecordDetail(
        resource=res.name,
        record_id=record_id,
        title=labels.get(record_id, record_id),
        dataset_name=info.name,
        fields=fields,
        computed=computed,
        links=links,
        history=history(store, dataset_id, res.name, record_id),
        origin=info.origin,
        validation=split_messages(derived["invalid"]),
    )


def split_messages(invalid: str | None) -> list[str]:
    """The validation messages of a record (`_invalid` joins them with "; ")."""
    return [m for m in (invalid or "").split("; ") if m]


def _type_label(f: dict[str, Any]) -> str:
    if f["type"] in REFERENCE_TYPES:
        return f"{f['type']} → {f['target']}"
    if f["type"] == "decimal":
        return f"decimal({f.get('scale', 2)})"
    return str(f["type"])
