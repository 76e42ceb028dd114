"""Record commands: check values against the schema, then sign them as changesets.

Nothing is signed until every value of every op has been checked; an error names the resource, field, value
and what was expected.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine import computed, datasets, writes
from engine.errors import NotFound, ValidationError
from engine.field_types import ValueProblem, canonical
from engine.nostr_event import NostrEvent
from engine.projection import q, table_name
from engine.schema import Resource

if TYPE_CHECKING:
    from engine.store import Store


def new_record_id() -> str:
    """A UUIDv7 as 32 hex characters: unique everywhere and sorted by creation time."""
    ms = int(time.time() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 68) & 0xFFF) << 64 | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return f"{value:032x}"


@dataclass
class Change:
    """One record operation before it is checked: values by field name (or key), as typed or as JSON."""

    op: str
    resource: str
    record_id: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    from_text: bool = False


def create_record(store: Store, dataset_id: str, resource: str, values: Mapping[str, Any], *,
                  from_text: bool = False) -> str:  # fmt: skip
    ops = check(store, dataset_id, [Change("create", resource, None, values, from_text)])
    writes.write_ops(store, dataset_id, ops)
    return str(ops[0]["id"])


def update_record(store: Store, dataset_id: str, resource: str, record_id: str, values: Mapping[str, Any], *,
                  from_text: bool = False) -> NostrEvent:  # fmt: skip
    ops = check(store, dataset_id, [Change("update", resource, record_id, values, from_text)])
    return writes.write_ops(store, dataset_id, ops)[0]


def delete_records(store: Store, dataset_id: str, resource: str, record_ids: list[str]) -> NostrEvent:
    ops = check(store, dataset_id, [Change("delete", resource, rid) for rid in record_ids])
    return writes.write_ops(store, dataset_id, ops)[0]


def apply_changes(store: Store, dataset_id: str, changes: list[Change]) -> list[NostrEvent]:
    """Check and sign several changes as one changeset (multi-row edits, undo, form saves)."""
    return writes.write_ops(store, dataset_id, check(store, dataset_id, changes))


def check(store: Store, dataset_id: str, changes: list[Change]) -> list[dict[str, Any]]:
    """Turn changes into canonical ops, or raise ValidationError for the first problem."""
    if not changes:
        raise ValidationError("Nothing to change.")
    ops: list[dict[str, Any]] = []
    cache: dict[str, Resource] = {}
    for ch in changes:
        res = cache.get(ch.resource) or datasets.resource(store, dataset_id, ch.resource)
        cache[ch.resource] = res
        if ch.op == "create":
            rid = ch.record_id or new_record_id()
            fields = _values(res, ch.values, ch.from_text)
            for f in res.fields:
                if f["key"] not in fields and "default" in f:
                    fields[f["key"]] = f["default"]
            if any(f.get("default_formula") for f in res.fields):
                computed_defaults = computed.default_values(
                    store, dataset_id, res.definition, _by_name(res, fields)
                )
                fields.update(_values(res, computed_defaults, False))
            for f in res.fields:
                if f["required"] and fields.get(f["key"]) is None:
                    raise ValidationError(f"{res.name}.{f['name']} is required; give it a value.")
            ops.append({"o": "create", "r": res.key, "id": rid, "f": fields})
            if computed.has_formulas(res.definition):
                computed.check_record(store, dataset_id, res.definition, _by_name(res, fields))
        elif ch.op == "update":
            rid = _existing(store, dataset_id, res, ch.record_id)
            fields = _values(res, ch.values, ch.from_text)
            if not fields:
                raise ValidationError(f"No fields to change on {res.name} {rid}.")
            for f in res.fields:
                if f["required"] and f["key"] in fields and fields[f["key"]] is None:
                    raise ValidationError(f"{res.name}.{f['name']} is required and cannot be cleared.")
            ops.append({"o": "update", "r": res.key, "id": rid, "f": fields})
            if computed.has_formulas(res.definition):
                current = get_record(store, dataset_id, res.key, rid)
                current.update(_by_name(res, fields))
                computed.check_record(store, dataset_id, res.definition, current)
        elif ch.op == "delete":
            rid = _existing(store, dataset_id, res, ch.record_id)
            ops.append({"o": "delete", "r": res.key, "id": rid})
        elif ch.op == "restore":
            if not ch.record_id:
                raise ValidationError("Restore needs a record id.")
            ops.append({"o": "restore", "r": res.key, "id": ch.record_id})
        else:
            raise ValidationError(f"Unknown operation {ch.op!r}.")
    check_references(store, dataset_id, cache, ops)
    check_unique(store, dataset_id, cache, ops)
    return ops


def _values(res: Resource, values: Mapping[str, Any], from_text: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, raw in values.items():
        if not res.has_field(name):
            if any(c["name"] == name for c in res.computed):
                raise ValidationError(f"{res.name}.{name} is computed by a formula and cannot be set.")
            known = ", ".join(f["name"] for f in res.fields)
            raise ValidationError(f"{res.name} has no field {name!r} (fields: {known}).")
        f = res.field(name)
        try:
            out[f["key"]] = canonical(f, raw, from_text=from_text)
        except ValueProblem as exc:
            raise ValidationError(f"{res.name}.{f['name']}: {raw!r} does not fit: {exc}.") from None
    return out


def _by_name(res: Resource, fields: dict[str, Any]) -> dict[str, Any]:
    """Canonical values by field key → values by field name as formulas see them (decimals as numbers)."""
    out: dict[str, Any] = {}
    for f in res.fields:
        if f["key"] in fields:
            value = fields[f["key"]]
            out[f["name"]] = float(value) if f["type"] == "decimal" and value is not None else value
    return out


def _existing(store: Store, dataset_id: str, res: Resource, record_id: str | None) -> str:
    if not record_id:
        raise ValidationError(f"Give the id of the {res.name} record.")
    tbl = table_name(dataset_id, res.key)
    if store.con.execute(f"SELECT 1 FROM {q(tbl)} WHERE _id = ?", [record_id]).fetchone():
        return record_id
    rows = store.con.execute(
        f"SELECT _id FROM {q(tbl)} WHERE length(?) >= 6 AND starts_with(_id, ?) LIMIT 2",
        [record_id, record_id],
    ).fetchall()
    if not rows:
        raise NotFound(f"No {res.name} record {record_id!r} in this dataset.")
    if len(rows) > 1:
        raise ValidationError(f"{record_id!r} matches several {res.name} records; give more of the id.")
    return str(rows[0][0])


def check_references(
    store: Store, dataset_id: str, cache: dict[str, Resource], ops: list[dict[str, Any]]
) -> None:
    created = {(op["r"], op["id"]) for op in ops if op["o"] == "create"}
    for op in ops:
        res = next(r for r in cache.values() if r.key == op["r"])
        for key, value in (op.get("f") or {}).items():
            f = res.field(key)
            if f["type"] not in ("reference", "references") or value is None:
                continue
            target = datasets.resource(store, dataset_id, f["target"])
            wanted = value if isinstance(value, list) else [value]
            found = {
                r[0]
                for r in store.con.execute(
                    f"SELECT _id FROM {q(table_name(dataset_id, target.key))} WHERE _id IN (SELECT unnest(?::VARCHAR[]))",
                    [wanted],
                ).fetchall()
            } | {rid for (rk, rid) in created if rk == target.key}
            missing = [w for w in wanted if w not in found]
            if missing:
                raise ValidationError(
                    f"{res.name}.{f['name']}: {missing[0]!r} is not a {target.name} record of this dataset; "
                    f"pick an existing {target.name}."
                )


def check_unique(
    store: Store, dataset_id: str, cache: dict[str, Resource], ops: list[dict[str, Any]]
) -> None:
    for res in cache.values():
        tbl = q(table_name(dataset_id, res.key))
        for f in res.fields:
            if not f["unique"]:
                continue
            seen: dict[Any, str] = {}
            for op in ops:
                value = (op.get("f") or {}).get(f["key"]) if op["r"] == res.key else None
                if value is None:
                    continue
                if value in seen and seen[value] != op["id"]:
                    raise ValidationError(f"{res.name}.{f['name']} must be unique; {value!r} is given twice.")
                seen[value] = op["id"]
                clash = store.con.execute(
                    f"SELECT _id FROM {tbl} WHERE {q(f['key'])} = ? AND _id <> ? LIMIT 1", [value, op["id"]]
                ).fetchone()
                if clash:
                    raise ValidationError(
                        f"{res.name}.{f['name']} must be unique; {value!r} is already used by record {clash[0]}."
                    )


def get_record(store: Store, dataset_id: str, resource: str, record_id: str) -> dict[str, Any]:
    """A live record's values by field name, with `_id`."""
    res = datasets.resource(store, dataset_id, resource)
    rid = _existing(store, dataset_id, res, record_id)
    cols = ", ".join(q(f["key"]) for f in res.fields)
    row = store.con.execute(
        f"SELECT _id{', ' + cols if cols else ''} FROM {q(table_name(dataset_id, res.key))} WHERE _id = ?",
        [rid],
    ).fetchone()
    if row is None:
        raise NotFound(f"No {res.name} record {record_id!r}.")
    out: dict[str, Any] = {"_id": row[0]}
    out.update({f["name"]: v for f, v in zip(res.fields, row[1:], strict=True)})
    return out


def derived(store: Store, dataset_id: str, resource: str, record_id: str) -> dict[str, Any]:
    """A record's computed values by name, formula errors by field, and validation messages (or None)."""
    res = datasets.resource(store, dataset_id, resource)
    keys = [c["key"] for c in res.computed]
    cols = ", ".join([*(q(k) for k in keys), "_errors", "_invalid"])
    row = store.con.execute(
        f"SELECT {cols} FROM {q(table_name(dataset_id, res.key))} WHERE _id = ?", [record_id]
    ).fetchone()
    if row is None:
        raise NotFound(f"No {res.name} record {record_id!r}.")
    values = dict(zip((c["name"] for c in res.computed), row[: len(keys)], strict=True))
    errors = json.loads(row[len(keys)]) if row[len(keys)] else {}
    return {"computed": values, "errors": errors, "invalid": row[len(keys) + 1]}
