"""Checks on events from outside that need the dataset: the schema as of an event, and its ops against it.

The schema an event is checked against is the one in its causal past: for each resource, the latest schema event
by (clock, id) among the event's ancestors. That set is fixed once the event's parents are stored, so every
replica decides the same way whatever else it has received. It is computed by merging the parents' states (a
per-resource maximum), so a chain of events shares one state object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.field_types import ValueProblem, canonical
from engine.protocol import KIND_SCHEMA

if TYPE_CHECKING:
    from engine.store import Store


@dataclass(frozen=True)
class SchemaEntry:
    clock: int
    event_id: str
    definition: dict[str, Any]


SchemaState = dict[str, SchemaEntry]  # resource key -> its current definition; never mutated once built


def merge(states: Iterable[SchemaState]) -> SchemaState:
    """The schema state of an event whose parents have these states (latest definition per resource)."""
    states = list(states)
    if not states:
        return {}
    first = states[0]
    if all(s is first for s in states[1:]):
        return first
    out: SchemaState = dict(first)
    for s in states[1:]:
        for key, entry in s.items():
            cur = out.get(key)
            if cur is None or (entry.clock, entry.event_id) > (cur.clock, cur.event_id):
                out[key] = entry
    return out


def with_schema_event(
    state: SchemaState, clock: int, event_id: str, definition: dict[str, Any]
) -> SchemaState:
    cur = state.get(definition["key"])
    if cur is not None and (cur.clock, cur.event_id) > (clock, event_id):
        return state
    return {**state, definition["key"]: SchemaEntry(clock, event_id, definition)}


class SchemaTracker:
    """Schema states of a dataset's stored events, computed on demand from the stored DAG."""

    def __init__(
        self, store: Store, dataset_id: str, base: dict[str, SchemaState] | None = None,
        root: SchemaState | None = None,
    ) -> None:  # fmt: skip
        self._states: dict[str, SchemaState] = dict(base or {})
        self._root = root or {}  # a fork's genesis starts from its origin's schema at the fork point
        rows = store.con.execute(
            "SELECT id, clock, parents, kind FROM events WHERE dataset_id = ? ORDER BY clock, id",
            [dataset_id],
        ).fetchall()
        schema_ids = [r[0] for r in rows if r[3] == KIND_SCHEMA]
        definitions: dict[str, dict[str, Any]] = {}
        if schema_ids:
            for event_id, raw in store.con.execute(
                "SELECT id, raw FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))", [schema_ids]
            ).fetchall():
                definitions[event_id] = json.loads(json.loads(raw)["content"])["definition"]
        for event_id, clock, parents, _kind in rows:
            self.add(event_id, clock, parents, definitions.get(event_id))

    def add(
        self, event_id: str, clock: int, parents: list[str], definition: dict[str, Any] | None
    ) -> SchemaState:
        state = merge(self._states.get(p, {}) for p in parents) if parents else self._root
        if definition is not None:
            state = with_schema_event(state, clock, event_id, definition)
        self._states[event_id] = state
        return state

    def state_of(self, event_id: str) -> SchemaState:
        return self._states.get(event_id, {})


def op_problem(i: int, op: dict[str, Any], state: SchemaState) -> str | None:
    """Why op `i` (shape-checked already) does not fit the schema state, or None if it fits."""
    entry = state.get(op["r"])
    if entry is None or entry.definition.get("removed"):
        return f"op {i}: unknown resource {op['r']!r}"
    fields = {f["key"]: f for f in entry.definition["fields"] if not f.get("removed")}
    for key, value in (op.get("f") or {}).items():
        field = fields.get(key)
        if field is None:
            return f"op {i}: {op['r']} has no field {key!r}"
        if value is None:
            continue
        if not value_fits(field, value):
            return f"op {i}: {op['r']}.{key} holds a value that is not a canonical {field['type']}"
    return None


def value_fits(field: dict[str, Any], value: Any) -> bool:
    """True when `value` is exactly the canonical form of a value of the field's type."""
    try:
        expected = canonical(field, value, from_text=False)
    except ValueProblem:
        return False
    return type(expected) is type(value) and expected == value


def ops_problem(ops: list[dict[str, Any]], state: SchemaState) -> str | None:
    for i, op in enumerate(ops):
        problem = op_problem(i, op, state)
        if problem:
            return problem
    return None


# --- the same checks, set-based, for large batches ----------------------------------------------------------


# Leading or trailing whitespace as Python's str.strip() sees it (str.isspace), for reference ids.
_EDGE_SPACE = "'^[\\t-\\r\\x{1c}-\\x{1f}\\x{85}\\p{Z}]|[\\t-\\r\\x{1c}-\\x{1f}\\x{85}\\p{Z}]$'"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def value_ok_sql(field: dict[str, Any], v: str) -> str:
    """A SQL condition, true when the JSON value `v` (not null) passes `value_fits` for this field.

    It must never accept what `value_fits` refuses; tests/test_ingest_hostile.py checks the two agree.
    """
    t = field["type"]
    s = f"({v} ->> '$')"
    is_str = f"json_type({v}) = 'VARCHAR'"
    if t == "string":
        return f"({is_str} AND NOT contains({s}, chr(10)) AND NOT contains({s}, chr(13)))"
    if t == "text":
        return is_str
    if t == "reference":
        return f"({is_str} AND NOT regexp_matches({s}, {_EDGE_SPACE}))"
    if t == "choice":
        choices = [c for c in field.get("choices") or [] if isinstance(c, str)]
        if not choices:
            return "false"
        return f"({is_str} AND {s} IN ({', '.join(map(_lit, choices))}))"
    if t == "integer":
        return f"(json_type({v}) IN ('BIGINT', 'UBIGINT') AND TRY_CAST({v} AS BIGINT) IS NOT NULL)"
    if t == "decimal":
        scale = int(field.get("scale", 2))
        frac = rf"\.[0-9]{{{scale}}}" if scale > 0 else ""
        pattern = _lit(rf"-?(0|[1-9][0-9]*){frac}")
        return (
            f"({is_str} AND regexp_full_match({s}, {pattern}) "
            f"AND length(regexp_replace(ltrim(regexp_replace({s}, '[-.]', '', 'g'), '0'), '^$', '0')) <= 38)"
        )
    if t == "boolean":
        return f"(json_type({v}) = 'BOOLEAN')"
    if t == "date":
        return (
            f"({is_str} AND regexp_full_match({s}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') AND {s} >= '0001' "
            f"AND strftime(TRY_CAST({s} AS DATE), '%Y-%m-%d') IS NOT DISTINCT FROM {s})"
        )
    if t == "datetime":
        return (
            f"({is_str} AND regexp_full_match({s}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}') "
            f"AND {s} >= '0001' AND strftime(TRY_CAST({s} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S') IS NOT DISTINCT FROM {s})"
        )
    if t == "references":
        items = f"CAST({v} AS JSON[])"
        return (
            f"(json_type({v}) = 'ARRAY' AND len(list_filter({items}, lambda x: json_type(x) <> 'VARCHAR' "
            f"OR regexp_matches(x ->> '$', {_EDGE_SPACE}))) = 0)"
        )
    return "false"


def bad_op_sql(definition: dict[str, Any], f: str, keys: str) -> tuple[str, str]:
    """(SQL list of the live fields' JSON values out of the op's `f` object, condition over it and `keys` (the
    object's keys, already extracted) that is true when some field is unknown or its value does not fit). The
    list is built in one parse of `f`."""
    fields = [x for x in definition["fields"] if not x.get("removed")]
    known = ", ".join(_lit(x["key"]) for x in fields)
    unknown = (
        f"len(list_filter(coalesce({keys}, []), lambda k: k NOT IN ({known}))) > 0"
        if fields
        else f"len(coalesce({keys}, [])) > 0"
    )
    values = "json_extract(" + f + ", [" + ", ".join(_lit("$." + x["key"]) for x in fields) + "])"
    parts = [unknown]
    for i, x in enumerate(fields, start=1):
        v = f"_v[{i}]"
        parts.append(
            f"(coalesce(json_type({v}), 'NULL') <> 'NULL' AND NOT coalesce({value_ok_sql(x, v)}, false))"
        )
    return (values if fields else "[]::JSON[]"), "(" + " OR ".join(parts) + ")"
