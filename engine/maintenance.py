"""Verify the log, rebuild projections, and read the log: the tools that prove the projection is derived."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
import orjson

from engine import computed, content, datasets, forks, projection, state_hash
from engine.apply import Checked, refresh_manifest
from engine.errors import EventRejected
from engine.identity import short_npub
from engine.nostr_event import NostrEvent
from engine.protocol import KIND_CHANGESET, KIND_DECISION, KIND_NAMES, KIND_ROLE, KIND_SCHEMA
from engine.schema import Resource, describe_change

if TYPE_CHECKING:
    import duckdb

    from engine.snapshot import Base
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
    """Re-check every stored event (id, signature, envelope, lineage, authorization), the op index against the
    events, and every stored value against the schema; returns the problems found and the state hash."""
    from engine.snapshot import base_of

    base = base_of(store, dataset_id)  # a snapshot-based dataset: the snapshot's heads stand for its past
    resources = datasets.resources(store, dataset_id)
    # The SQL-heavy checks and the state hash run on a cursor of their own in a second thread while this one
    # checks the events: DuckDB releases the GIL, so the two overlap.
    cursor = store.con.cursor()
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            derived = pool.submit(_derived_checks, cursor, dataset_id, resources)
            checked = _check_events(store, dataset_id, base)
            auth = _authorization_problems(store, checked.judged)
            indexed, schema_problems, digest = derived.result()
    finally:
        cursor.close()
    problems = checked.problems + auth
    indexed.pop(base.snapshot_id if base else "", None)  # the snapshot's records, not an event's ops
    for event_id in sorted((set(checked.op_counts) | set(indexed)) - checked.failed):
        if checked.op_counts.get(event_id) != indexed.get(event_id):
            problems.append(
                {
                    "event": event_id,
                    "reason": "the op index does not match the event; run `kobold rebuild --full`",
                }
            )
    problems += schema_problems
    return VerifyReport(not problems, checked.events, digest, problems)


@dataclass
class _CheckedEvents:
    events: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)
    op_counts: dict[str, int] = field(default_factory=dict)
    judged: list[Checked] = field(default_factory=list)  # the events authorization must judge, parsed once


@dataclass
class _StoredEvent:
    """One stored event's checks. They are made out of log order (the signatures in a thread), so the first
    failing check in the order below is what gets reported."""

    id: str
    stored_clock: int
    stored_parents: list[str]
    event: NostrEvent | None = None
    clock: int | None = None  # from the clock tag
    unreadable: str | None = None  # the JSON, the clock tag and the stored id
    unsigned: str | None = None  # the id and the signature (engine/nostr_event.py `verify`)
    envelope: str | None = None  # version, dataset, parent tags
    parents: list[str] = field(default_factory=list)
    body_problem: str | None = None  # the content
    ops: int | None = None
    body: Any = None


_READ_ERRORS = (EventRejected, orjson.JSONDecodeError, AttributeError)


class _OpsOnly(msgspec.Struct):
    """A changeset's content as far as `verify` needs it: the ops stay unparsed byte ranges, which is ~3x faster
    than building them as Python objects (their shape was checked on arrival and the id check covers them)."""

    ops: list[msgspec.Raw]


_OPS_ONLY = msgspec.json.Decoder(_OpsOnly)


def _op_count(text: str) -> int:
    try:
        return len(_OPS_ONLY.decode(text).ops)
    except msgspec.ValidationError as exc:  # valid JSON of the wrong shape
        raise EventRejected(
            "the changeset has no ops" if "ops`" in str(exc) else "the content is not a JSON object"
        ) from None
    except msgspec.DecodeError:
        raise EventRejected("the content is not a JSON object") from None


def _reason(exc: Exception) -> str:
    return exc.reason if isinstance(exc, EventRejected) else "the content is not a JSON object"


def _check_events(store: Store, dataset_id: str, base: Base | None) -> _CheckedEvents:
    """Each stored event's id, signature, envelope, lineage and content; collects its op count and, for the
    authorization check, the parsed event."""
    judge = _events_to_judge(store, dataset_id, base)
    stored: list[_StoredEvent] = []
    # Signatures are checked in a second thread (libsecp256k1 and sha256 release the GIL) while this one parses.
    with ThreadPoolExecutor(max_workers=1) as signatures:
        cur = store.con.execute(
            "SELECT id, raw, clock, parents FROM events WHERE dataset_id = ?", [dataset_id]
        )
        checking = []
        while batch := cur.fetchmany(500):
            read = [_read_event(row, dataset_id) for row in batch]
            signed = [(e, e.event) for e in read if e.event is not None]
            for e in read:
                if judge is not None and e.id not in judge:
                    e.event = None  # only the events authorization judges are kept whole
            stored += read
            checking.append(signatures.submit(_check_signatures, signed))
        for done in checking:
            done.result()
    stored.sort(key=lambda e: (e.stored_clock, e.id))  # log order: parents before children
    out = _CheckedEvents(events=len(stored))
    clocks: dict[str, int] = dict(base.heads) if base else {}
    for e in stored:
        if e.clock is not None:
            # Known even if this event fails below, so its children are judged on their own.
            clocks[e.id] = e.clock
        reason = e.unreadable or e.unsigned or e.envelope or _lineage_problem(e, clocks) or e.body_problem
        if reason is not None:
            out.problems.append({"event": e.id, "reason": reason})
            out.failed.add(e.id)
            continue
        if e.ops is not None:
            out.op_counts[e.id] = e.ops
        if e.event is not None:
            out.judged.append(Checked(e.event, dataset_id, e.stored_clock, e.stored_parents, e.body))
    return out


def _read_event(row: tuple[str, str, int, list[str]], dataset_id: str) -> _StoredEvent:
    event_id, raw, stored_clock, stored_parents = row
    e = _StoredEvent(event_id, int(stored_clock), list(stored_parents))
    try:
        ev = NostrEvent.from_json(raw)
        e.clock = content.clock_of(ev)
        if ev.id != event_id:
            raise EventRejected("the stored id differs from the event's id")
    except _READ_ERRORS as exc:
        e.unreadable = _reason(exc)
        return e
    e.event = ev
    try:
        content.version_of(ev)
        if content.dataset_of(ev) != dataset_id:
            raise EventRejected("the event belongs to another dataset")
        e.parents = content.parents_of(ev)
    except _READ_ERRORS as exc:
        e.envelope = _reason(exc)
        return e
    try:
        if ev.kind in (KIND_CHANGESET, KIND_DECISION):
            e.ops = _op_count(ev.content)  # checked against the op index later
        elif ev.kind in content.PARSERS:
            e.body = content.PARSERS[ev.kind](ev)
    except _READ_ERRORS as exc:
        e.body_problem = _reason(exc)
    return e


def _check_signatures(events: list[tuple[_StoredEvent, NostrEvent]]) -> None:
    for e, ev in events:
        try:
            ev.verify()
        except EventRejected as exc:
            e.unsigned = exc.reason


def _lineage_problem(e: _StoredEvent, clocks: dict[str, int]) -> str | None:
    """Each parent must come earlier in the log, with a smaller clock."""
    assert e.clock is not None
    for p in e.parents:
        if p not in clocks:
            return f"parent {p[:12]} is missing or not older"
        if clocks[p] >= e.clock:
            return f"parent {p[:12]} does not have a smaller clock"
    return None


def _events_to_judge(store: Store, dataset_id: str, base: Base | None) -> set[str] | None:
    """The events whose authorization needs judging: all of them (None) once the dataset has roles; without role
    events only the genesis author may write, so just the others' events."""
    if (base is not None and bool(base.roles)) or store.con.execute(
        "SELECT 1 FROM events WHERE dataset_id = ? AND kind = ? LIMIT 1", [dataset_id, KIND_ROLE]
    ).fetchone() is not None:
        return None
    rows = store.con.execute(
        "SELECT id FROM events WHERE dataset_id = $1 AND pubkey <> (SELECT owner FROM datasets WHERE id = $1)",
        [dataset_id],
    ).fetchall()
    return {r[0] for r in rows}


def _derived_checks(
    con: duckdb.DuckDBPyConnection, dataset_id: str, resources: list[Resource]
) -> tuple[dict[str, int], list[dict[str, str]], str]:
    """The op index's count per event, the schema problems and the state hash, all read through `con`."""
    indexed = dict(
        con.execute(
            # clock < 0: the ops a fork shares with its origin (engine/forks.py), checked on the origin
            "SELECT event_id, count(*) FROM record_ops WHERE dataset_id = ? AND clock >= 0 GROUP BY event_id",
            [dataset_id],
        ).fetchall()
    )
    return (
        indexed,
        _schema_problems(con, dataset_id, resources),
        state_hash.compute_on(con, dataset_id, resources),
    )


def _schema_problems(
    con: duckdb.DuckDBPyConnection, dataset_id: str, resources: list[Resource]
) -> list[dict[str, str]]:
    """Ops on resources or fields that never existed, and stored values that do not fit their field's type."""
    out = []
    for res in con.execute(
        "SELECT DISTINCT resource FROM record_ops WHERE dataset_id = ? AND resource NOT IN "
        "(SELECT key FROM resources WHERE dataset_id = ?)",
        [dataset_id, dataset_id],
    ).fetchall():
        out.append({"event": "", "reason": f"record operations on unknown resource {res[0]!r}"})
    for r in resources:
        known = [f["key"] for f in r.definition["fields"]]
        row = con.execute(
            "SELECT count(*) FROM (SELECT unnest(json_keys(fields)) AS k FROM record_ops "
            "WHERE dataset_id = ? AND resource = ? AND fields IS NOT NULL) "
            "WHERE k NOT IN (SELECT unnest(?::VARCHAR[]))",
            [dataset_id, r.key, known],
        ).fetchone()
        if row and row[0]:
            out.append({"event": "", "reason": f"{row[0]} value(s) on fields {r.name} never had"})
        misfits = projection.misfit_counts(con, dataset_id, r.definition)
        for name, count in misfits.items():
            out.append({"event": "", "reason": f"{count} value(s) of {r.name}.{name} do not fit its type"})
    return out


def _authorization_problems(store: Store, judged: list[Checked]) -> list[dict[str, str]]:
    """Judge the events again by the roles in each one's causal past, as a receiver would."""
    from engine import authorization, snapshot

    refused, held = authorization.check_batch(store, judged, snapshot.bases(store))
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
