"""Putting checked events into the store: the log tables, the heads, and the projections, in one transaction.

Callers hand in events whose signatures were checked (or that this store just signed) and whose parents
are stored or come earlier in the same batch.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine import computed, content, forks, projection
from engine.nostr_event import NostrEvent
from engine.protocol import KIND_CHANGESET, KIND_DECISION, KIND_GENESIS, KIND_MANIFEST, KIND_ROLE, KIND_SCHEMA

if TYPE_CHECKING:
    from engine.store import Store


@dataclass(frozen=True)
class Checked:
    """An event with its extracted envelope fields and parsed content."""

    event: NostrEvent
    dataset_id: str
    clock: int
    parents: list[str]
    body: Any
    raw: str | None = None  # the event's JSON as the log stores it, when the checks already built it

    def raw_json(self) -> str:
        return self.raw if self.raw is not None else self.event.to_json()


def check_envelope(ev: NostrEvent) -> Checked:
    """Extract dataset, clock, parents and content; raises EventRejected on any malformation."""
    content.version_of(ev)
    ds = content.dataset_of(ev)
    clock = content.clock_of(ev)
    parents = content.parents_of(ev)
    parser = content.PARSERS.get(ev.kind)
    body = parser(ev) if parser else content.load_json_object(ev)
    if ev.kind == KIND_GENESIS and (parents or clock != 0):
        from engine.errors import EventRejected

        raise EventRejected("a genesis event has no parents and clock 0")
    return Checked(ev, ds, clock, parents, body)


def apply_events(store: Store, batch: list[Checked], *, fresh: bool = False) -> None:
    """Store a batch of checked events and bring the projections up to date, in one transaction.

    `fresh` marks events this store has just signed: nothing can name them as a parent yet.
    """
    if not batch:
        return
    con = store.con
    with store.transaction():
        insert_event_rows(store, batch)
        update_heads(store, batch, fresh)
        touched: dict[tuple[str, str], set[str]] = defaultdict(set)
        schema_changed: set[tuple[str, str]] = set()
        op_rows: list[tuple[Any, ...]] = []
        forks_born: list[Checked] = []
        for c in batch:
            if c.event.kind == KIND_GENESIS:
                _insert_dataset(store, c)
                if isinstance(c.body, dict) and c.body.get("origin"):
                    forks_born.append(c)
            elif c.event.kind == KIND_MANIFEST:
                refresh_manifest(store, c.dataset_id)
            elif c.event.kind == KIND_SCHEMA:
                if _apply_schema(store, c):
                    schema_changed.add((c.dataset_id, c.body["definition"]["key"]))
            elif c.event.kind in (KIND_CHANGESET, KIND_DECISION):
                for i, op in enumerate(_record_ops(c)):
                    op_rows.append(projection.op_row(c.dataset_id, c.event.id, c.clock, i, op))
                    touched[(c.dataset_id, op["r"])].add(op["id"])
        projection.insert_ops(con, op_rows)
        for c in forks_born:  # after the batch's ops are indexed: a fork starts from its origin's state
            forks.inherit(store, c.dataset_id, c.body["origin"])
        for ds, key in schema_changed:
            definition = current_definition(store, ds, key)
            if definition is not None:
                projection.rebuild_resource(con, ds, definition)
                computed.refresh(store, ds, definition, None)
        for (ds, key), ids in touched.items():
            if (ds, key) in schema_changed:
                continue
            definition = current_definition(store, ds, key)
            if definition is None:
                continue
            changed = ids
            if fresh:
                ops = [op for c in batch for op in _record_ops(c) if op["r"] == key]
                ids = set(projection.apply_newest(con, ds, definition, ops))
            projection.reproject(con, ds, definition, ids)
            computed.refresh(store, ds, definition, changed)


def _record_ops(c: Checked) -> list[dict[str, Any]]:
    """The record ops an event carries: a changeset's, or those a merge decision accepted."""
    if c.event.kind == KIND_CHANGESET:
        return list(c.body)
    if c.event.kind == KIND_DECISION:
        from engine.merge_content import ops_of

        return ops_of(c)
    return []


def insert_event_rows(store: Store, batch: list[Checked]) -> None:
    """Append the raw signed events and their extracted columns to the log."""
    from engine import roles

    for ds in {c.dataset_id for c in batch if c.event.kind in (KIND_ROLE, KIND_GENESIS)}:
        roles.forget_state(store, ds)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    store.con.execute(
        """INSERT INTO events SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), unnest($3::INTEGER[]),
           unnest($4::VARCHAR[]), unnest($5::BIGINT[]), unnest($6::BIGINT[]), unnest($7::VARCHAR[][]),
           unnest($8::VARCHAR[]), $9, nextval('event_seq'), $10""",
        [
            [c.event.id for c in batch], [c.dataset_id for c in batch], [c.event.kind for c in batch],
            [c.event.pubkey for c in batch], [c.event.created_at for c in batch], [c.clock for c in batch],
            [c.parents for c in batch], [c.raw_json() for c in batch], True, now,
        ],
    )  # fmt: skip


def current_definition(store: Store, dataset_id: str, key: str) -> dict[str, Any] | None:
    for d in store.definitions(dataset_id):
        if d["key"] == key:
            return d
    return None


def update_heads(store: Store, batch: list[Checked], fresh: bool) -> None:
    con = store.con
    replaced = {p for c in batch for p in c.parents}
    if fresh and len(batch) == 1 and len(replaced) == 1:
        # The common interactive case, one statement instead of two: the new event replaces its only parent.
        c = batch[0]
        con.execute(
            "UPDATE heads SET event_id = ?, clock = ? WHERE dataset_id = ? AND event_id = ?",
            [c.event.id, c.clock, c.dataset_id, c.parents[0]],
        )
        return
    con.execute("DELETE FROM heads WHERE event_id IN (SELECT unnest(?::VARCHAR[]))", [sorted(replaced)])
    candidates = [c.event.id for c in batch if c.event.id not in replaced]
    # An event that arrives after a child of its own (out of order) is not a head.
    has_child = (
        set()
        if fresh
        else {
            r[0]
            for r in con.execute(
                """SELECT DISTINCT p FROM (SELECT unnest(parents) AS p FROM events
               WHERE dataset_id IN (SELECT unnest($1::VARCHAR[]))) WHERE p IN (SELECT unnest($2::VARCHAR[]))""",
                [sorted({c.dataset_id for c in batch}), candidates],
            ).fetchall()
        }
    )
    new_heads = [c for c in batch if c.event.id not in replaced and c.event.id not in has_child]
    if new_heads:
        con.execute(
            "INSERT INTO heads SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::BIGINT[])",
            [
                [c.dataset_id for c in new_heads],
                [c.event.id for c in new_heads],
                [c.clock for c in new_heads],
            ],
        )


def _insert_dataset(store: Store, c: Checked) -> None:
    body = c.body
    store.con.execute(
        "INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            c.dataset_id, body["name"], body["type"], body["visibility"], c.event.pubkey,
            str(body.get("description", "")), c.event.id, c.event.created_at,
            json.dumps(body["origin"]) if body.get("origin") else None,
        ],
    )  # fmt: skip


def refresh_manifest(store: Store, dataset_id: str) -> None:
    """Re-derive name/description/type/visibility: genesis, then manifest changes by (clock, id), per key."""
    rows = store.con.execute(
        # The semi-join finds the few ids first: filtering the log directly reads every event's raw JSON.
        """SELECT raw FROM events WHERE id IN (
               SELECT id FROM events WHERE dataset_id = ? AND kind IN (?, ?)) ORDER BY clock, id""",
        [dataset_id, KIND_GENESIS, KIND_MANIFEST],
    ).fetchall()
    from engine.snapshot import base_of

    base = base_of(store, dataset_id)  # a snapshot-based dataset starts from the snapshot's manifest
    state: dict[str, str] = {}
    for (raw,) in rows:
        data = json.loads(json.loads(raw)["content"])
        state.update({k: v for k, v in data.items() if k in ("name", "description", "type", "visibility")})
        if base is not None:
            state.update(base.manifest)
            base = None
    store.con.execute(
        "UPDATE datasets SET name = ?, description = ?, type = ?, visibility = ? WHERE id = ?",
        [state["name"], state.get("description", ""), state["type"], state["visibility"], dataset_id],
    )


def _apply_schema(store: Store, c: Checked) -> bool:
    """Last-writer-wins per resource on the whole definition; True if this event became the current one."""
    definition = c.body["definition"]
    key = definition["key"]
    row = store.con.execute(
        "SELECT clock, event_id FROM resources WHERE dataset_id = ? AND key = ?", [c.dataset_id, key]
    ).fetchone()
    if row is not None and (row[0], row[1]) > (c.clock, c.event.id):
        return False
    store.forget_definitions(c.dataset_id)
    store.con.execute("DELETE FROM resources WHERE dataset_id = ? AND key = ?", [c.dataset_id, key])
    store.con.execute(
        "INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?)",
        [
            c.dataset_id, key, json.dumps(definition, ensure_ascii=False), c.event.id, c.clock,
            projection.table_name(c.dataset_id, key),
        ],
    )  # fmt: skip
    return True
