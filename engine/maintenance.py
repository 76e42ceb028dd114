"""Verify the log, rebuild projections, and read the log: the tools that prove the projection is derived."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from engine import computed, content, datasets, forks, projection, state_hash
from engine.apply import refresh_manifest
from engine.errors import EventRejected
from engine.identity import short_npub
from engine.nostr_event import NostrEvent
from engine.protocol import KIND_CHANGESET, KIND_DECISION, KIND_NAMES, KIND_ROLE, KIND_SCHEMA
from engine.schema import describe_change

if TYPE_CHECKING:
    from engine.store import Store


@dataclass
class VerifyReport:
    ok: bool
    events: int
    state_hash: str
    problems: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "state_hash": self.state_hash,
            "problems": self.problems,
        }


def verify(store: Store, dataset_id: str) -> VerifyReport:
    """Re-check every stored event (id, signature, envelope, lineage), the op index against the events, and
    every stored value against the schema; returns the problems found and the state hash."""
    from engine.snapshot import base_of

    problems: list[dict[str, str]] = []
    base = base_of(store, dataset_id)  # a snapshot-based dataset: the snapshot's heads stand for its past
    clocks: dict[str, int] = dict(base.heads) if base else {}
    op_counts: dict[str, int] = {}
    failed: set[str] = set()
    cur = store.con.execute(
        "SELECT id, raw FROM events WHERE dataset_id = ? ORDER BY clock, id", [dataset_id]
    )
    n = 0
    while batch := cur.fetchmany(500):
        for event_id, raw in batch:
            n += 1
            try:
                ev = NostrEvent.from_json(raw)
                clock = content.clock_of(ev)
                # Known even if this event fails below, so its children are judged on their own.
                clocks[event_id] = clock
                if ev.id != event_id:
                    raise EventRejected("the stored id differs from the event's id")
                ev.verify()
                content.version_of(ev)
                if content.dataset_of(ev) != dataset_id:
                    raise EventRejected("the event belongs to another dataset")
                for p in content.parents_of(ev):
                    if p not in clocks:
                        raise EventRejected(f"parent {p[:12]} is missing or not older")
                    if clocks[p] >= clock:
                        raise EventRejected(f"parent {p[:12]} does not have a smaller clock")
                if ev.kind in (KIND_CHANGESET, KIND_DECISION):
                    # The op index is checked against the events below; the ops' shape was checked on arrival.
                    ops = orjson.loads(ev.content).get("ops")
                    if not isinstance(ops, list):
                        raise EventRejected("the changeset has no ops")
                    op_counts[ev.id] = len(ops)
                elif ev.kind in content.PARSERS:
                    content.PARSERS[ev.kind](ev)
            except (EventRejected, orjson.JSONDecodeError, AttributeError) as exc:
                reason = exc.reason if isinstance(exc, EventRejected) else "the content is not a JSON object"
                problems.append({"event": event_id, "reason": reason})
                failed.add(event_id)
    problems += _authorization_problems(store, dataset_id, failed)
    indexed = dict(
        store.con.execute(
            # clock < 0: the ops a fork shares with its origin (engine/forks.py), checked on the origin
            "SELECT event_id, count(*) FROM record_ops WHERE dataset_id = ? AND clock >= 0 GROUP BY event_id",
            [dataset_id],
        ).fetchall()
    )
    indexed.pop(base.snapshot_id if base else "", None)  # the snapshot's records, not an event's ops
    for event_id in sorted((set(op_counts) | set(indexed)) - failed):
        if op_counts.get(event_id) != indexed.get(event_id):
            problems.append(
                {
                    "event": event_id,
                    "reason": "the op index does not match the event; run `kobold rebuild --full`",
                }
            )
    problems += _schema_problems(store, dataset_id)
    return VerifyReport(not problems, n, state_hash.compute(store, dataset_id), problems)


def _schema_problems(store: Store, dataset_id: str) -> list[dict[str, str]]:
    """Ops on resources or fields that never existed, and stored values that do not fit their field's type."""
    out = []
    for res in store.con.execute(
        "SELECT DISTINCT resource FROM record_ops WHERE dataset_id = ? AND resource NOT IN "
        "(SELECT key FROM resources WHERE dataset_id = ?)",
        [dataset_id, dataset_id],
    ).fetchall():
        out.append({"event": "", "reason": f"record operations on unknown resource {res[0]!r}"})
    for r in datasets.resources(store, dataset_id):
        known = [f["key"] for f in r.definition["fields"]]
        row = store.con.execute(
            "SELECT count(*) FROM (SELECT unnest(json_keys(fields)) AS k FROM record_ops "
            "WHERE dataset_id = ? AND resource = ? AND fields IS NOT NULL) "
            "WHERE k NOT IN (SELECT unnest(?::VARCHAR[]))",
            [dataset_id, r.key, known],
        ).fetchone()
        if row and row[0]:
            out.append({"event": "", "reason": f"{row[0]} value(s) on fields {r.name} never had"})
        misfits = projection.misfit_counts(store.con, dataset_id, r.definition)
        for name, count in misfits.items():
            out.append({"event": "", "reason": f"{count} value(s) of {r.name}.{name} do not fit its type"})
    return out


def _authorization_problems(store: Store, dataset_id: str, failed: set[str]) -> list[dict[str, str]]:
    """Judge every stored event again by the roles in its own causal past, as a receiver would."""
    from engine import authorization, snapshot
    from engine.apply import Checked

    base = snapshot.base_of(store, dataset_id)
    has_roles = (base is not None and bool(base.roles)) or store.con.execute(
        "SELECT 1 FROM events WHERE dataset_id = ? AND kind = ? LIMIT 1", [dataset_id, KIND_ROLE]
    ).fetchone() is not None
    # Without role events only the genesis author may write: just the others' events need judging (and parsing).
    others = "" if has_roles else "AND pubkey <> (SELECT owner FROM datasets WHERE id = $1)"
    rows = store.con.execute(
        f"SELECT raw, clock, parents FROM events WHERE dataset_id = $1 {others} ORDER BY clock, id",
        [dataset_id],
    ).fetchall()
    batch = []
    for raw, clock, parents in rows:
        ev = NostrEvent.from_json(raw)
        if ev.id in failed:
            continue
        body = (
            content.PARSERS[ev.kind](ev) if ev.kind in content.PARSERS and ev.kind != KIND_CHANGESET else None
        )
        batch.append(Checked(ev, dataset_id, int(clock), list(parents), body))
    refused, held = authorization.check_batch(store, batch, snapshot.bases(store))
    out = [{"event": e, "reason": f"not authorized: {r}"} for e, r in sorted(refused.items())]
    return out + [
        {"event": e, "reason": "not authorized by the roles this store knows"} for e in sorted(held)
    ]


def rebuild(store: Store, dataset_id: str, *, full: bool = False) -> str:
    """Drop the dataset's projections and re-derive them from the log; returns the state hash.

    `record_ops` is the log's op index, written with each event in the same transaction; `full=True` also
    re-extracts it from the raw signed events (slower: DuckDB parses every event's JSON again).
    """
    with store.transaction():
        con = store.con
        for (tbl,) in con.execute("SELECT tbl FROM resources WHERE dataset_id = ?", [dataset_id]).fetchall():
            con.execute(f"DROP TABLE IF EXISTS {projection.q(tbl)}")
        con.execute("DELETE FROM resources WHERE dataset_id = ?", [dataset_id])
        con.execute("DELETE FROM state_cache WHERE dataset_id = ?", [dataset_id])
        store.forget_definitions(dataset_id)
        if full:
            _reextract_ops(store, dataset_id)
        from engine.snapshot import base_of, restore_base_ops

        base = base_of(
            store, dataset_id
        )  # a snapshot-based dataset starts from the snapshot's schemas and ops
        if full:
            restore_base_ops(store, dataset_id)
            forks.restore_inherited_ops(store, dataset_id)
        latest: dict[str, tuple[int, str, dict[str, Any]]] = {
            r["definition"]["key"]: (r["clock"], r["event"], r["definition"])
            for r in [*(base.resources if base else []), *forks.inherited_resources(store, dataset_id)]
        }
        for event_id, clock, raw in con.execute(
            """SELECT id, clock, raw FROM events WHERE id IN (
                   SELECT id FROM events WHERE dataset_id = ? AND kind = ?) ORDER BY clock, id""",
            [dataset_id, KIND_SCHEMA],
        ).fetchall():
            d = json.loads(json.loads(raw)["content"])["definition"]
            if d["key"] not in latest or latest[d["key"]][:2] < (clock, event_id):
                latest[d["key"]] = (clock, event_id, d)
        for key, (clock, event_id, d) in latest.items():
            con.execute(
                "INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?)",
                [
                    dataset_id,
                    key,
                    json.dumps(d, ensure_ascii=False),
                    event_id,
                    clock,
                    projection.table_name(dataset_id, key),
                ],
            )
            projection.rebuild_resource(con, dataset_id, d)
            # Formulas read the dataset's definitions (refs); the cache must not keep this half-built list.
            store.forget_definitions(dataset_id)
            computed.refresh(store, dataset_id, d, None)
        store.forget_definitions(dataset_id)
        refresh_manifest(store, dataset_id)
    return state_hash.state_hash(store, dataset_id)


def _reextract_ops(store: Store, dataset_id: str) -> None:
    store.con.execute("DELETE FROM record_ops WHERE dataset_id = ?", [dataset_id])
    store.con.execute(
        """INSERT INTO record_ops
               SELECT dataset_id, op ->> 'r', op ->> 'id', id, clock, (i - 1)::INTEGER, op ->> 'o',
                      CASE WHEN json_keys(op -> 'f') <> [] THEN (op -> 'f')::VARCHAR END
               FROM (SELECT dataset_id, id, clock, ops[i] AS op, i
                     FROM (SELECT dataset_id, id, clock, ops, generate_subscripts(ops, 1) AS i
                           FROM (SELECT dataset_id, id, clock,
                                        json_extract(json_extract_string(raw, '$.content'), '$.ops[*]') AS ops
                                 FROM events WHERE dataset_id = ? AND kind IN (?, ?))))""",
        [dataset_id, KIND_CHANGESET, KIND_DECISION],
    )


def log(store: Store, dataset_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Events newest first with type, author, time and a one-line summary; the signed JSON under "event"."""
    sql = "SELECT raw, clock, sig_ok FROM events WHERE dataset_id = ? ORDER BY clock DESC, id DESC"
    rows = store.con.execute(sql + (f" LIMIT {int(limit)}" if limit else ""), [dataset_id]).fetchall()
    out = []
    from engine.names import display_name

    for raw, clock, sig_ok in rows:
        ev = json.loads(raw)
        out.append(
            {
                "id": ev["id"],
                "type": KIND_NAMES.get(ev["kind"], str(ev["kind"])),
                "author": ev["pubkey"],
                "author_short": display_name(store, ev["pubkey"]),
                "created_at": ev["created_at"],
                "clock": clock,
                "verified": bool(sig_ok),
                "summary": summarize(ev),
                "event": ev,
            }
        )
    return out


def summarize(ev: dict[str, Any]) -> str:
    try:
        body = json.loads(ev["content"])
    except ValueError:
        return "unreadable content"
    kind = KIND_NAMES.get(ev["kind"], "")
    if kind == "genesis":
        return f"created dataset {body.get('name')!r} ({body.get('visibility')})"
    if kind == "schema":
        changes = body.get("changes") or []
        what = ", ".join(describe_change(c) for c in changes[:4]) or "no change"
        return f"schema {body['definition']['name']}: {what}"
    if kind == "changeset":
        ops = body.get("ops") or []
        counts: dict[str, int] = {}
        for op in ops:
            counts[op.get("o", "?")] = counts.get(op.get("o", "?"), 0) + 1
        return ", ".join(f"{n} {o}" for o, n in counts.items())
    if kind == "manifest":
        return "manifest: " + ", ".join(f"{k}={v!r}" for k, v in body.items() if k != "v")
    if kind in ("proposal", "decision"):
        from engine.merge_content import summary_text

        return summary_text(kind, body)
    if kind == "role":
        return "roles: " + ", ".join(
            f"{short_npub(r['p'])} → {r['role']}"
            + (f" ({', '.join(r['resources'])})" if r.get("resources") else "")
            for r in body.get("roles") or []
        )
    return kind or f"kind {ev['kind']}"
