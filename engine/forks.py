"""Forks: a dataset whose genesis names an origin dataset and fork point, and starts from the origin's state there.

The fork's own events are ordinary events of the fork dataset. What it shares with its origin is copied into the
store's derived tables when its genesis is applied: the origin's record operations in the causal past of the fork
point go into `record_ops` under the fork's id, and the origin's resource definitions as of the fork point into
`resources`. Both get their clock lowered by `INHERITED_OFFSET`, so they sort before every event of the fork
(clocks are at most 15 digits) and keep their order among themselves; the event ids stay the origin's, so history
and blame still name the original authors. Every replica derives the same copy from the same origin events, so the
fork's state hash at creation equals the origin's state hash at the fork point.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from engine import computed, projection
from engine.errors import KoboldError, NotFound
from engine.event_checks import SchemaEntry, SchemaState
from engine.protocol import KIND_GENESIS, KIND_SCHEMA

if TYPE_CHECKING:
    from engine.apply import Checked
    from engine.store import Store

INHERITED_OFFSET = 10**15  # above any clock a tag may carry (15 digits)


class ForkError(KoboldError):
    """A fork or merge command that cannot run as asked."""


def origin_of(store: Store, dataset_id: str) -> dict[str, Any] | None:
    """The genesis origin of a fork ({"dataset", "heads", "name"}), or None for a dataset that is no fork."""
    row = store.con.execute("SELECT origin FROM datasets WHERE id = ?", [dataset_id]).fetchone()
    if row is None or not row[0]:
        return None
    origin = json.loads(row[0])
    return origin if isinstance(origin, dict) else None


def fork_dataset(store: Store, origin_id: str, name: str | None = None) -> str:
    """Sign the genesis of a new dataset that starts from `origin_id`'s current state; returns its id."""
    from engine import datasets, snapshot, writes  # they import apply, which imports this module

    info = datasets.info(store, origin_id)
    if snapshot.base_of(store, origin_id) is not None:
        raise ForkError(
            f"{info.name} has only partial history here (it started from a snapshot); import its full history "
            "before forking it."
        )
    heads, _ = writes.heads(store, origin_id)
    name = (name or f"{info.name} (fork)").strip()
    if not name:
        raise ForkError("A fork needs a name; give --name NAME.")
    if store.con.execute("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchone():
        raise ForkError(f"A dataset called {name!r} already exists here; give the fork another --name.")
    origin = {"dataset": origin_id, "heads": heads, "name": info.name}
    with store.transaction():
        return writes.create_genesis(store, name, info.type, info.visibility, info.description, origin)


def origin_heads(body: Any) -> list[str]:
    origin = body.get("origin") if isinstance(body, dict) else None
    heads = origin.get("heads") if isinstance(origin, dict) else None
    return [h for h in heads if isinstance(h, str)] if isinstance(heads, list) else []


def origin_ready(store: Store, c: Checked) -> bool:
    """A fork's genesis waits (held like an event with a missing parent) until its fork point is stored here."""
    if c.event.kind != KIND_GENESIS or not isinstance(c.body, dict) or not c.body.get("origin"):
        return True
    heads = origin_heads(c.body)
    if not heads:
        return True
    row = store.con.execute(
        "SELECT count(*) FROM events WHERE dataset_id = ? AND id IN (SELECT unnest(?::VARCHAR[]))",
        [c.body["origin"]["dataset"], heads],
    ).fetchone()
    return bool(row and row[0] == len(set(heads)))


def ancestors(store: Store, dataset_id: str, heads: Iterable[str]) -> set[str]:
    """The events in the causal past of `heads` (included) within one dataset."""
    rows = store.con.execute("SELECT id, parents FROM events WHERE dataset_id = ?", [dataset_id]).fetchall()
    parents = {r[0]: r[1] for r in rows}
    seen: set[str] = set()
    stack = [h for h in heads if h in parents]
    while stack:
        eid = stack.pop()
        if eid in seen:
            continue
        seen.add(eid)
        stack.extend(p for p in parents.get(eid, ()) if p not in seen)
    return seen


def schema_at(store: Store, dataset_id: str, event_ids: set[str]) -> SchemaState:
    """The dataset's schema state over a set of its events: per resource, the latest schema event by (clock, id)
    among them, over the definitions a fork inherited (whose clocks are lowered, so the fork's own win)."""
    state: SchemaState = dict(root_state(store, dataset_id) or {})
    rows = store.con.execute(
        "SELECT id, clock, raw FROM events WHERE dataset_id = ? AND kind = ? ORDER BY clock, id",
        [dataset_id, KIND_SCHEMA],
    ).fetchall()
    for eid, clock, raw in rows:
        if eid not in event_ids:
            continue
        definition = orjson.loads(orjson.loads(raw)["content"])["definition"]
        cur = state.get(definition["key"])
        if cur is None or (cur.clock, cur.event_id) < (clock, eid):
            state[definition["key"]] = SchemaEntry(clock, eid, definition)
    return state


def root_state(store: Store, dataset_id: str, batch: Sequence[Checked] = ()) -> SchemaState | None:
    """The schema a fork starts from (its origin's at the fork point, clocks lowered); None for other datasets.

    `batch` lets ingest find a genesis that arrives in the same batch as the fork's first events.
    """
    origin = origin_of(store, dataset_id)
    if origin is None:
        genesis = next(
            (c for c in batch if c.dataset_id == dataset_id and c.event.kind == KIND_GENESIS), None
        )
        body = genesis.body if genesis is not None else None
        origin = body.get("origin") if isinstance(body, dict) else None
    if not origin:
        return None
    origin_id = origin["dataset"]
    inner = schema_at(store, origin_id, ancestors(store, origin_id, origin_heads({"origin": origin})))
    return {k: SchemaEntry(e.clock - INHERITED_OFFSET, e.event_id, e.definition) for k, e in inner.items()}


def inherit(store: Store, dataset_id: str, origin: dict[str, Any]) -> None:
    """Copy what a new fork shares with its origin into the derived tables and project it (in the caller's
    transaction, after the batch's own ops are indexed)."""
    con = store.con
    origin_id = origin["dataset"]
    past = sorted(ancestors(store, origin_id, origin_heads({"origin": origin})))
    con.execute(
        """INSERT INTO record_ops SELECT ?, resource, record_id, event_id, clock - ?, op_index, op, fields
           FROM record_ops WHERE dataset_id = ? AND (clock < 0 OR event_id IN (SELECT unnest(?::VARCHAR[])))""",
        [dataset_id, INHERITED_OFFSET, origin_id, past],
    )
    root = root_state(store, dataset_id) or {}
    have = {
        r[0]: (r[1], r[2])
        for r in con.execute(
            "SELECT key, clock, event_id FROM resources WHERE dataset_id = ?", [dataset_id]
        ).fetchall()
    }
    for key, entry in root.items():
        if key in have and have[key] > (entry.clock, entry.event_id):
            continue
        con.execute("DELETE FROM resources WHERE dataset_id = ? AND key = ?", [dataset_id, key])
        con.execute(
            "INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?)",
            [dataset_id, key, json.dumps(entry.definition, ensure_ascii=False), entry.event_id, entry.clock,
             projection.table_name(dataset_id, key)],
        )  # fmt: skip
    store.forget_definitions(dataset_id)
    for definition in store.definitions(dataset_id):
        projection.rebuild_resource(con, dataset_id, definition)
        if not definition.get("removed"):
            computed.refresh(store, dataset_id, definition, None)
    con.execute("DELETE FROM state_cache WHERE dataset_id = ?", [dataset_id])


def inherited_resources(store: Store, dataset_id: str) -> list[dict[str, Any]]:
    """The definitions a fork starts from, as `rebuild` seeds them ({"definition", "clock", "event"})."""
    root = root_state(store, dataset_id) or {}
    return [{"definition": e.definition, "clock": e.clock, "event": e.event_id} for e in root.values()]


def restore_inherited_ops(store: Store, dataset_id: str) -> None:
    """Re-copy a fork's inherited ops after `rebuild --full` re-extracted the fork's own."""
    origin = origin_of(store, dataset_id)
    if origin is None:
        return
    store.con.execute("DELETE FROM record_ops WHERE dataset_id = ? AND clock < 0", [dataset_id])
    past = sorted(ancestors(store, origin["dataset"], origin_heads({"origin": origin})))
    store.con.execute(
        """INSERT INTO record_ops SELECT ?, resource, record_id, event_id, clock - ?, op_index, op, fields
           FROM record_ops WHERE dataset_id = ? AND (clock < 0 OR event_id IN (SELECT unnest(?::VARCHAR[])))""",
        [dataset_id, INHERITED_OFFSET, origin["dataset"], past],
    )


# --- states of records over a set of events ----------------------------------------------------------------


@dataclass(slots=True)
class RecordState:
    """One record folded by last-writer-wins over some events: liveness, canonical values, who set them."""

    alive: bool = False
    values: dict[str, Any] = field(default_factory=dict)
    updaters: dict[str, str] = field(
        default_factory=dict
    )  # field key -> event of the update that set it last
    life_event: str | None = None  # the event of the latest create/delete/restore
    created_by: str | None = None  # the event of the latest create (it set the fields no update set since)

    def setter(self, key: str) -> str | None:
        """The event that set a field's current value."""
        return self.updaters.get(key, self.created_by)


States = dict[tuple[str, str], RecordState]  # (resource key, record id) -> state


def touched_records(store: Store, dataset_id: str, events: Iterable[str]) -> list[tuple[str, str]]:
    """(resource, record id) of the records that ops of these events of the dataset touch."""
    rows = store.con.execute(
        """SELECT DISTINCT resource, record_id FROM record_ops
           WHERE dataset_id = ? AND clock >= 0 AND event_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY ALL""",
        [dataset_id, sorted(set(events))],
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


@dataclass(frozen=True)
class View:
    """A dataset over some of its own events (`events` None: all of them); the ops a fork inherited always count."""

    dataset_id: str
    events: Collection[str] | None = None


def fold(
    store: Store, records: Sequence[tuple[str, str]], views: Sequence[View], changed_only: bool = False
) -> list[States]:
    """Fold the records' ops by last-writer-wins once per view, in one SQL statement.

    `changed_only` (a three-way review): keep only the fields that some op not counted by every view names (the
    views agree on every other field), and every field of a record the first view never created or deleted;
    the states then hold those fields only. An op a fork inherited is the same op as its origin's (same event
    and op index), so views of a fork and of its origin share it.
    """
    out: list[States] = [{} for _ in views]
    if not records or not views:
        return out
    sql, params = _fold_sql(records, views, changed_only)
    parsed: dict[str, dict[str, Any]] = {}
    width = len(views)
    key_col = 3 * width + 2
    # per view: its states, then its record columns (life op, life event, created by) and field columns
    # (event, op, fields) in the row
    layout = [(out[v], 3 * v + 2, key_col + 1 + 3 * v) for v in range(width)]
    for row in store.con.execute(sql, params).fetchall():
        key = (row[0], row[1])
        k = row[key_col]
        for states, r, f in layout:
            st = states.get(key)
            if st is None:
                life_op = row[r]
                st = states[key] = RecordState(life_op is not None and life_op != "delete", {}, {}, row[r + 1],
                                               row[r + 2])  # fmt: skip
            text = row[f + 2]
            if text is None:
                continue  # no op of this view names the field (or the record has no field to compare)
            fields = parsed.get(text)
            if fields is None:
                fields = parsed[text] = orjson.loads(text)
            value = fields[k]
            if value is not None:  # null clears the field
                st.values[k] = value
            if row[f + 1] != "create":
                st.updaters[k] = row[f]
    return out


def _fold_sql(
    records: Sequence[tuple[str, str]], views: Sequence[View], changed_only: bool
) -> tuple[str, dict[str, Any]]:
    """One row per record and wanted field: per view the record's latest create/delete/restore (op, event), its
    latest create that set fields, then the field, and per view the field's latest op (event, op, fields)."""
    n = range(len(views))
    ctes, params = _fold_ctes(records, views, changed_only)
    sql = f"""{ctes}
        SELECT r.resource, r.record_id, {", ".join(f"lo{v}, le{v}, c{v}" for v in n)}, f.k,
               {", ".join(f"e{v}, o{v}, f{v}" for v in n)}
        FROM lives r LEFT JOIN latest f ON f.resource = r.resource AND f.record_id = r.record_id
    """
    return sql, params


def _fold_ctes(
    records: Sequence[tuple[str, str]], views: Sequence[View], changed_only: bool
) -> tuple[str, dict[str, Any]]:
    """The WITH clause of a fold: `lives` (per record and view: latest create/delete/restore op `lo`, its event
    `le`, latest create that set fields `c`) and `latest` (per record, wanted field `k` and view: the field's latest
    op's event `e`, op `o` and fields `f`). Ops order by (clock, event id, op index); a view holds one dataset's
    ops only."""
    params: dict[str, Any] = {"res": [r[0] for r in records], "ids": [r[1] for r in records]}
    member = []
    for v, view in enumerate(views):
        params[f"d{v}"] = view.dataset_id
        cond = f"dataset_id = $d{v}"
        if view.events is not None:
            params[f"e{v}"] = sorted(view.events)
            cond += f" AND (clock < 0 OR event_id IN (SELECT unnest($e{v}::VARCHAR[])))"
        member.append(f"({cond}) AS in{v}")
    n = range(len(views))
    lives = ", ".join(
        f"arg_max(op, i) FILTER (in{v} AND op <> 'update') AS lo{v}, "
        f"arg_max(event_id, i) FILTER (in{v} AND op <> 'update') AS le{v}, "
        f"arg_max(event_id, i) FILTER (in{v} AND op = 'create' AND len(keys) > 0) AS c{v}"
        for v in n
    )
    latest = ", ".join(
        f"arg_max(event_id, i) FILTER (in{v}) AS e{v}, arg_max(op, i) FILTER (in{v}) AS o{v}, "
        f"arg_max(fields, i) FILTER (in{v}) AS f{v}"
        for v in n
    )
    if changed_only:
        wanted = f"""
        shared AS (SELECT event_id, op_index FROM ops GROUP BY event_id, op_index
                   HAVING {" AND ".join(f"bool_or(in{v})" for v in n)}),
        wanted AS (
            SELECT resource, record_id, unnest(keys) AS k FROM ops ANTI JOIN shared USING (event_id, op_index)
            UNION
            SELECT resource, record_id, unnest(keys) AS k FROM ops
            SEMI JOIN (SELECT resource, record_id FROM lives WHERE lo0 IS NULL) USING (resource, record_id)
        ),"""
    else:
        wanted = "wanted AS (SELECT DISTINCT resource, record_id, unnest(keys) AS k FROM ops),"
    sql = f"""
        WITH recs AS (SELECT unnest($res::VARCHAR[]) AS resource, unnest($ids::VARCHAR[]) AS record_id),
        ops AS MATERIALIZED (
            SELECT row_number() OVER (ORDER BY clock, event_id, op_index) AS i, resource, record_id, event_id,
                   op_index, op, fields, json_keys(fields) AS keys, {", ".join(member)}
            FROM record_ops SEMI JOIN recs USING (resource, record_id)
            WHERE dataset_id IN ({", ".join(f"$d{v}" for v in n)})
        ),
        lives AS MATERIALIZED (SELECT resource, record_id, {lives} FROM ops GROUP BY resource, record_id),
        {wanted}
        latest AS (
            SELECT w.resource, w.record_id, w.k, {latest}
            FROM wanted w JOIN ops p
              ON p.resource = w.resource AND p.record_id = w.record_id AND list_contains(p.keys, w.k)
            GROUP BY w.resource, w.record_id, w.k
        )"""
    return sql, params


FieldChange = tuple[str, Any, Any, Any, str | None, str | None]
"""A field whose value differs between views: key, base, target and incoming values, and the events that set the
incoming and the target value."""


def changed_fields(
    store: Store, records: Sequence[tuple[str, str]], base: View, target: View, incoming: View
) -> tuple[dict[tuple[str, str], list[FieldChange]], list[tuple[str, str]]]:
    """The three-way comparison's SQL part: for the records live in all three views, the fields whose incoming
    value differs from the base and the target's differs from the incoming one, compared by their JSON text (equal
    text is an equal value; values that differ in text but are equal in Python, `1` and `true`, are in the result
    for the caller to compare again); and, apart, the other records (created, deleted or restored on some side),
    whose states the caller folds (`fold`). A live record with no such field is in neither."""
    if not records:
        return {}, []
    ctes, params = _fold_ctes(records, [base, target, incoming], changed_only=True)
    live = " AND ".join(f"coalesce(lo{v} <> 'delete', false)" for v in range(3))
    value = "nullif(json_extract(f{v}, '/' || replace(replace(k, '~', '~0'), '/', '~1'))::VARCHAR, 'null')"
    setter = "CASE WHEN f.o{v} IS NULL OR f.o{v} = 'create' THEN r.c{v} ELSE f.e{v} END"  # RecordState.setter
    sql = f"""{ctes},
        cmp AS (
            SELECT resource, record_id, k, e1, o1, e2, o2, {value.format(v=0)} AS b, {value.format(v=1)} AS t,
                   {value.format(v=2)} AS i
            FROM latest
        )
        SELECT r.resource, r.record_id, {live} AS live, f.k, f.b, f.t, f.i, {setter.format(v=2)},
               {setter.format(v=1)}
        FROM lives r LEFT JOIN cmp f ON f.resource = r.resource AND f.record_id = r.record_id
             AND f.i IS DISTINCT FROM f.b AND f.t IS DISTINCT FROM f.i
        WHERE NOT ({live}) OR f.k IS NOT NULL
    """
    changed: dict[tuple[str, str], list[FieldChange]] = {}
    others: list[tuple[str, str]] = []
    loads = orjson.loads
    for resource, rid, live_now, k, b, t, i, si, st in store.con.execute(sql, params).fetchall():
        if not live_now:
            others.append((resource, rid))
            continue
        change = (k, None if b is None else loads(b), None if t is None else loads(t),
                  None if i is None else loads(i), si, st)  # fmt: skip
        found = changed.get((resource, rid))
        if found is None:
            changed[(resource, rid)] = [change]
        else:
            found.append(change)
    return changed, others


def current_base(store: Store, fork_id: str) -> list[str]:
    """The origin heads a fork has incorporated: those of its latest pull-upstream, else its fork point."""
    origin = origin_of(store, fork_id)
    if origin is None:
        raise NotFound("This dataset is not a fork; only a fork has an upstream.")
    from engine.merge_content import decisions_in

    pulls = [d for d in decisions_in(store, fork_id) if d.body.get("direction") == "pull" and d.part == 0]
    if pulls:
        return list(pulls[-1].body.get("heads") or [])
    return origin_heads({"origin": origin})


def lineage(store: Store, dataset_id: str) -> dict[str, Any]:
    """Origin, fork point, forks of it and merges recorded in its log, for `dataset show` and the home screen."""
    from engine.merge_content import decisions_in

    origin = origin_of(store, dataset_id)
    merges = [
        {"decision": d.event_id, "direction": d.body.get("direction"), "status": d.body.get("status"),
         "fork": d.body.get("fork"), "proposal": d.body.get("proposal"), "by": d.author, "created_at": d.created_at}
        for d in decisions_in(store, dataset_id) if d.part == 0
    ]  # fmt: skip
    forks = [
        {"id": r[0], "name": r[1]}
        for r in store.con.execute(
            "SELECT id, name FROM datasets WHERE json_extract_string(origin, '$.dataset') = ? ORDER BY name",
            [dataset_id],
        ).fetchall()
    ]
    out: dict[str, Any] = {"forks": forks, "merges": merges}
    if origin is not None:
        out["origin"] = origin["dataset"]
        out["origin_name"] = origin.get("name", "")
        out["fork_point"] = origin_heads({"origin": origin})
    return out
