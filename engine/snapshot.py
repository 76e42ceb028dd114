"""Snapshots: a signed checkpoint of a dataset (heads, state hash, schemas and live records) in kind-4876 events.

A store bootstraps from one without the history before it. Until that history arrives, the dataset's *history
base* records the snapshot: its heads count as stored parents, its records are `record_ops` rows of a synthetic
create op at the snapshot's clock (so any later event wins, by the usual order), and events at or below that
clock wait until the whole history is present. When it is, the base is dropped and the projection re-derived
from the real events; the state hash stays the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine import projection, roles, state_hash, writes
from engine.errors import EventRejected, KoboldError
from engine.event_checks import SchemaEntry, SchemaState
from engine.nostr_event import NostrEvent, sign_event
from engine.protocol import KIND_SNAPSHOT, PROTOCOL_VERSION

if TYPE_CHECKING:
    from engine.apply import Checked
    from engine.roles import RoleState
    from engine.store import Store

TAG_SNAPSHOT = "S"  # on every data chunk: the id of its snapshot's header (indexed: {"#S": [header id]})
TAG_PART = "P"  # the part number, so a relay can serve headers ({"#P": ["0"]}) and chunks by number
_CHUNK_OVERHEAD = 64 + 64 + 128 + 20 + 8 + 200 + 3 * 70  # envelope, D/v/clock/S tags, content prefix

DDL = """
CREATE TABLE IF NOT EXISTS history_base (
    dataset_id VARCHAR PRIMARY KEY, snapshot_id VARCHAR NOT NULL, clock BIGINT NOT NULL,
    heads VARCHAR[] NOT NULL, head_clocks BIGINT[] NOT NULL, state_hash VARCHAR NOT NULL,
    manifest JSON NOT NULL, resources JSON NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot_events (
    snapshot_id VARCHAR NOT NULL, dataset_id VARCHAR NOT NULL, part INTEGER NOT NULL, event_id VARCHAR NOT NULL,
    raw VARCHAR NOT NULL
);
-- added with permissions: the role state at the snapshot's heads (older stores lack the column)
ALTER TABLE history_base ADD COLUMN IF NOT EXISTS roles JSON;
"""


def ensure_tables(store: Store) -> None:
    store.prepare("snapshot", DDL)


@dataclass(frozen=True)
class Base:
    """The snapshot a partial-history dataset starts from."""

    dataset_id: str
    snapshot_id: str
    clock: int
    heads: dict[str, int]
    manifest: dict[str, str]
    resources: list[dict[str, Any]]  # {"event", "clock", "definition"}
    roles: RoleState | None = None  # the role state at the heads; None: the snapshot carries none

    def schema_state(self) -> SchemaState:
        return {
            r["definition"]["key"]: SchemaEntry(r["clock"], r["event"], r["definition"])
            for r in self.resources
        }


def bases(store: Store) -> dict[str, Base]:
    ensure_tables(store)
    out = {}
    for ds, sid, clock, heads, clocks, manifest, resources, role_rows in store.con.execute(
        "SELECT dataset_id, snapshot_id, clock, heads, head_clocks, manifest, resources, roles FROM history_base"
    ).fetchall():
        role_state = roles.state_from_json(json.loads(role_rows)) if role_rows else None
        out[ds] = Base(ds, sid, clock, dict(zip(heads, clocks, strict=True)), json.loads(manifest),
                       json.loads(resources), role_state)  # fmt: skip
    return out


def base_of(store: Store, dataset_id: str) -> Base | None:
    return bases(store).get(dataset_id)


def history_status(store: Store, dataset_id: str) -> str:
    """ "partial" while the dataset rests on a snapshot without the history before it, else "complete"."""
    return "partial" if base_of(store, dataset_id) else "complete"


# --- making a snapshot ---------------------------------------------------------------------------------------


def create(store: Store, dataset_id: str) -> list[NostrEvent]:
    """Sign a snapshot of the dataset at its current heads: a header event, then data chunks under the size limit."""
    from engine import datasets

    info = datasets.info(store, dataset_id)
    if info.owner != store.identity.pubkey:
        raise KoboldError(
            "Only the dataset's owner can sign a snapshot; export the full history instead (without --snapshot)."
        )
    con = store.con
    heads = con.execute(
        "SELECT event_id, clock FROM heads WHERE dataset_id = ? ORDER BY event_id", [dataset_id]
    ).fetchall()
    clock = max(c for _, c in heads)
    resources = con.execute(
        "SELECT key, definition, event_id, clock FROM resources WHERE dataset_id = ? ORDER BY key",
        [dataset_id],
    ).fetchall()
    budget = store.config.max_event_bytes - _CHUNK_OVERHEAD
    con.execute("CREATE OR REPLACE TEMP TABLE _snap_rows (resource VARCHAR, _id VARCHAR, j VARCHAR)")
    for key, definition_json, _, _ in resources:
        definition = json.loads(definition_json)
        if definition.get("removed"):
            continue
        fields = projection.live_fields(definition)
        obj = ", ".join(
            f"'{f['key']}': {projection.canonical_value_sql(f, projection.q(f['key']))}" for f in fields
        )
        struct = "to_json({" + obj + "})" if fields else "'{}'::JSON"
        con.execute(
            f"""INSERT INTO _snap_rows SELECT ?, _id, '[' || to_json(_id) || ',' || {struct} || ']'
                FROM {projection.q(projection.table_name(dataset_id, key))}""",
            [key],
        )
    row = con.execute("SELECT max(strlen(j) + 2 * length(j) // 8) FROM _snap_rows").fetchone()
    largest = int(row[0]) if row and row[0] is not None else 0
    if largest * 2 > budget:
        raise KoboldError(
            f"A record is {largest} bytes, too large for a snapshot chunk; raise max_event_bytes."
        )
    # Escaping inside the event's JSON string can grow a row; count quotes and backslashes twice.
    size = (
        "strlen(j) + (length(j) - length(replace(j, '\"', ''))) + (length(j) - length(replace(j, '\\', '')))"
    )
    chunks = con.execute(
        f"""SELECT resource, '[' || string_agg(j, ',' ORDER BY _id) || ']' FROM (
                SELECT resource, _id, j,
                       (sum({size} + 1) OVER (PARTITION BY resource ORDER BY _id ROWS UNBOUNDED PRECEDING)
                        // {budget - largest - 1})::BIGINT AS run
                FROM _snap_rows)
            GROUP BY resource, run ORDER BY resource, run"""
    ).fetchall()
    con.execute("DROP TABLE _snap_rows")
    manifest = {"name": info.name, "description": info.description, "type": info.type,
                "visibility": info.visibility}  # fmt: skip
    header_body = {
        "v": PROTOCOL_VERSION, "part": 0, "parts": len(chunks) + 1,
        "heads": [[h, c] for h, c in heads], "state_hash": state_hash.state_hash(store, dataset_id),
        "manifest": manifest,
        "resources": [{"event": e, "clock": c, "definition": json.loads(d)} for _, d, e, c in resources],
        "roles": roles.state_to_json(roles.current_state(store, dataset_id)),
    }  # fmt: skip
    tags = writes.envelope_tags(dataset_id, clock, [])
    secret, now = store.identity.secret, store.now()
    header = sign_event(secret, now, KIND_SNAPSHOT, (*tags, (TAG_PART, "0")), writes.dumps(header_body))
    out = [header]
    for i, (key, rows) in enumerate(chunks, start=1):
        body = f'{{"v":{PROTOCOL_VERSION},"part":{i},"resource":{json.dumps(key)},"rows":{rows}}}'
        chunk_tags = (*tags, (TAG_SNAPSHOT, header.id), (TAG_PART, str(i)))
        out.append(sign_event(secret, now, KIND_SNAPSHOT, chunk_tags, body))
    return out


# --- receiving one -------------------------------------------------------------------------------------------


def header_body(ev: NostrEvent) -> dict[str, Any]:
    """Shape-check a snapshot header's content."""
    try:
        data = json.loads(ev.content)
    except ValueError:
        raise EventRejected("the snapshot header is not valid JSON") from None
    ok = (
        isinstance(data, dict)
        and data.get("part") == 0
        and isinstance(data.get("parts"), int)
        and 1 <= data["parts"] <= 10_000_000
        and isinstance(data.get("state_hash"), str)
        and isinstance(data.get("manifest"), dict)
        and all(isinstance(data["manifest"].get(k), str) for k in ("name", "type", "visibility"))
        and isinstance(data.get("heads"), list)
        and len(data["heads"]) > 0
        and all(
            isinstance(h, list) and len(h) == 2 and isinstance(h[0], str) and len(h[0]) == 64
            and isinstance(h[1], int) for h in data["heads"]
        )
        and isinstance(data.get("resources"), list)
        and all(
            isinstance(r, dict) and isinstance(r.get("event"), str) and isinstance(r.get("clock"), int)
            and isinstance(r.get("definition"), dict) and isinstance(r["definition"].get("key"), str)
            and isinstance(r["definition"].get("fields"), list)
            for r in data["resources"]
        )
    )  # fmt: skip
    if not ok:
        raise EventRejected("the snapshot header is malformed")
    if "roles" in data:
        roles.state_from_json(data["roles"])
    return dict(data)


def receive(store: Store, header: Checked, chunks: list[Checked]) -> str | None:
    """Bootstrap the dataset from a verified snapshot; returns None, or why the whole snapshot is refused.

    Raises nothing for a snapshot that is simply not needed (the store already has history past the genesis).
    """
    ensure_tables(store)
    con = store.con
    ds = header.dataset_id
    owner = con.execute("SELECT owner FROM datasets WHERE id = ?", [ds]).fetchone()
    if owner is None:
        return f"unknown dataset {ds}: a snapshot needs the dataset's genesis first"
    if header.event.pubkey != owner[0]:
        return "only the dataset owner's snapshot is accepted"
    try:
        body = header_body(header.event)
    except EventRejected as exc:
        return exc.reason
    if max(c for _, c in body["heads"]) != header.clock:
        return "the snapshot's clock is not the largest clock of its heads"
    parts = sorted(_part_of(c) for c in chunks)
    if parts != list(range(1, body["parts"])):
        return f"the snapshot is incomplete: {len(chunks)} of {body['parts'] - 1} data chunks"
    for c in chunks:
        if c.event.pubkey != header.event.pubkey or c.clock != header.clock or c.dataset_id != ds:
            return "a snapshot chunk does not match its header (author, dataset or clock)"
    others = con.execute("SELECT count(*) FROM events WHERE dataset_id = ? AND kind <> 4870", [ds]).fetchone()
    if (others and others[0]) or base_of(store, ds):
        return None  # history (or a snapshot) already here: nothing to bootstrap
    problem = _install(store, ds, header, body, chunks)
    # Cached on success (the import reads it next); a refused snapshot is undone, its cache entry with it.
    if problem is None and state_hash.state_hash(store, ds) != body["state_hash"]:
        problem = "the snapshot's content does not match its declared state hash"
    if problem:
        _undo(store, ds, header.event.id)
    return problem


def _part_of(c: Checked) -> int:
    prefix = c.event.content[:64]
    marker = '"part":'
    at = prefix.find(marker)
    if at < 0:
        return -1
    digits = ""
    for ch in prefix[at + len(marker) :]:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else -1


def _install(
    store: Store, ds: str, header: Checked, body: dict[str, Any], chunks: list[Checked]
) -> str | None:
    """Store the snapshot's events, base, schemas, stand-in ops and projection; returns why its chunks are
    unreadable, or None. Set-based: the chunks' contents are staged and their rows parsed once."""
    from engine.apply import refresh_manifest

    con = store.con
    sid = header.event.id
    heads = body["heads"]
    con.execute(
        "INSERT INTO history_base VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [ds, sid, header.clock, [h for h, _ in heads], [c for _, c in heads], body["state_hash"],
         json.dumps(body["manifest"]), json.dumps(body["resources"]),
         json.dumps(body["roles"]) if "roles" in body else None],
    )  # fmt: skip
    roles.forget_state(store, ds)
    _stage_chunks(store, header, chunks)
    con.execute(
        "INSERT INTO snapshot_events SELECT ?, ?, part, id, raw FROM _snap_in ORDER BY part", [sid, ds]
    )
    con.execute("DELETE FROM heads WHERE dataset_id = ?", [ds])
    con.execute(
        "INSERT INTO heads SELECT ?, unnest(?::VARCHAR[]), unnest(?::BIGINT[])",
        [ds, [h for h, _ in heads], [c for _, c in heads]],
    )
    refresh_manifest(store, ds)
    install_resources(store, ds, body["resources"])
    try:
        problem = _staged_rows_problem(store, body)
        if problem:
            return problem
        con.execute(
            """INSERT INTO record_ops
               SELECT ?, resource, record_id, ?, ?, op_index, 'create', CASE WHEN f <> '{}' THEN f::VARCHAR END
               FROM _snap_rows""",
            [ds, sid, header.clock],
        )
    finally:
        for tmp in ("_snap_in", "_snap_chunks", "_snap_rows"):
            con.execute(f"DROP TABLE IF EXISTS {tmp}")
    for r in body["resources"]:
        if not r["definition"].get("removed"):
            _project_base(store, ds, r["definition"], sid)
    con.execute("DELETE FROM state_cache WHERE dataset_id = ?", [ds])
    return None


def _stage_chunks(store: Store, header: Checked, chunks: list[Checked]) -> None:
    """The snapshot's events in `_snap_in` (the header as part 0) and the chunks' rows, parsed once, in
    `_snap_rows`; nothing is checked yet."""
    checked = [header, *chunks]
    store.con.execute(
        """CREATE OR REPLACE TEMP TABLE _snap_in AS SELECT unnest($1::INTEGER[]) AS part,
           unnest($2::VARCHAR[]) AS id, unnest($3::VARCHAR[]) AS raw""",
        [[0, *(_part_of(c) for c in chunks)], [c.event.id for c in checked], [c.raw_json() for c in checked]],
    )
    # One parse of each chunk: its rows as lists of JSON values (NULL where a row is not an array), numbered in
    # (part, position) order across chunks as `restore_base_ops` numbers them.
    store.con.execute(
        """CREATE OR REPLACE TEMP TABLE _snap_chunks AS
           SELECT part, ok, parsed.resource AS resource, parsed.rows AS rows,
                  (coalesce(sum(len(parsed.rows)) OVER (ORDER BY part ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))::BIGINT AS start
           FROM (SELECT part, parsed IS NOT NULL AND parsed.rows IS NOT NULL AS ok, parsed
                 -- content that is not JSON, or not of this shape, parses to NULL: counted as a problem below
                 FROM (SELECT part, try(json_transform(raw ->> '$.content', '{"resource": "VARCHAR", "rows": [["JSON"]]}')) AS parsed
                       FROM _snap_in WHERE part > 0))"""
    )
    store.con.execute(
        """CREATE OR REPLACE TEMP TABLE _snap_rows AS
           SELECT part, resource, op_index, row,
                  CASE WHEN starts_with(row[1], '"') THEN row[1] ->> '$' END AS record_id, row[2] AS f
           FROM (SELECT part, resource, unnest(rows) AS row, (start + generate_subscripts(rows, 1) - 1)::INTEGER AS op_index
                 FROM _snap_chunks WHERE ok)"""
    )


def _staged_rows_problem(store: Store, body: dict[str, Any]) -> str | None:
    """Why the staged chunks cannot be read (malformed JSON, an unknown resource, a malformed row), or None."""
    keys = [r["definition"]["key"] for r in body["resources"] if not r["definition"].get("removed")]
    row = store.con.execute(
        """SELECT (SELECT count(*) FROM _snap_in WHERE part > 0)
                - (SELECT count(*) FROM _snap_chunks WHERE ok AND coalesce(resource IN (SELECT unnest($1::VARCHAR[])), false))
                + (SELECT count(*) FROM _snap_rows WHERE row IS NULL OR len(row) <> 2
                   OR NOT coalesce(regexp_full_match(record_id, '[0-9A-Za-z_-]{1,64}'), false)
                   OR NOT coalesce(starts_with(f, '{'), false))""",
        [keys],
    ).fetchone()
    return "a snapshot chunk is malformed" if row and row[0] else None


def install_resources(store: Store, ds: str, resources: list[dict[str, Any]]) -> None:
    for r in resources:
        d = r["definition"]
        store.con.execute("DELETE FROM resources WHERE dataset_id = ? AND key = ?", [ds, d["key"]])
        store.con.execute(
            "INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?)",
            [ds, d["key"], json.dumps(d, ensure_ascii=False), r["event"], r["clock"],
             projection.table_name(ds, d["key"])],
        )  # fmt: skip
        projection.create_table(store.con, ds, d)
    store.forget_definitions(ds)


def restore_base_ops(store: Store, ds: str) -> None:
    """(Re)write the synthetic create ops that stand for the snapshot's records in `record_ops`."""
    base = base_of(store, ds)
    if base is None:
        return
    con = store.con
    con.execute("DELETE FROM record_ops WHERE dataset_id = ? AND event_id = ?", [ds, base.snapshot_id])
    con.execute(
        """INSERT INTO record_ops
           SELECT ?, resource, row ->> 0, ?, ?, (row_number() OVER (ORDER BY part, i) - 1)::INTEGER, 'create',
                  CASE WHEN json_keys(row -> 1) <> [] THEN (row -> 1)::VARCHAR END
           FROM (SELECT part, resource, unnest(rows) AS row, generate_subscripts(rows, 1) AS i FROM (
                   SELECT part, json_extract_string(c, '$.resource') AS resource, json_extract(c, '$.rows[*]') AS rows
                   FROM (SELECT part, json_extract_string(raw, '$.content') AS c FROM snapshot_events
                         WHERE snapshot_id = ? AND part > 0)))""",
        [ds, base.snapshot_id, base.clock, base.snapshot_id],
    )


def _project_base(store: Store, ds: str, definition: dict[str, Any], sid: str) -> None:
    from engine.bulk_apply import typed_columns

    cols, exprs = typed_columns(definition, "fields")  # each op's fields parsed once for all columns
    store.con.execute(
        f"""INSERT INTO {projection.q(projection.table_name(ds, definition["key"]))} ({", ".join(cols)})
            SELECT record_id{"".join(", " + e for e in exprs)} FROM record_ops
            WHERE dataset_id = ? AND resource = ? AND event_id = ? ORDER BY record_id""",
        [ds, definition["key"], sid],
    )


def complete_history(store: Store, ds: str) -> None:
    """The history before the snapshot is now stored: drop the base and re-derive everything from the events."""
    from engine import maintenance

    base = base_of(store, ds)
    if base is None:
        return
    store.con.execute("DELETE FROM record_ops WHERE dataset_id = ? AND event_id = ?", [ds, base.snapshot_id])
    store.con.execute("DELETE FROM history_base WHERE dataset_id = ?", [ds])
    roles.forget_state(store, ds)
    maintenance.rebuild(store, ds)


def stored_snapshot(store: Store, ds: str) -> list[str]:
    """The signed events of the snapshot this dataset was bootstrapped from (header first), if it still has one."""
    ensure_tables(store)
    rows = store.con.execute(
        """SELECT raw FROM snapshot_events WHERE dataset_id = ? AND snapshot_id =
           (SELECT snapshot_id FROM history_base WHERE dataset_id = ?) ORDER BY part""",
        [ds, ds],
    ).fetchall()
    return [r[0] for r in rows]


def _undo(store: Store, ds: str, sid: str) -> None:
    """Take a refused bootstrap back out (the dataset had nothing but its genesis before it)."""
    from engine.apply import refresh_manifest

    con = store.con
    for (tbl,) in con.execute("SELECT tbl FROM resources WHERE dataset_id = ?", [ds]).fetchall():
        con.execute(f"DROP TABLE IF EXISTS {projection.q(tbl)}")
    for sql in (
        "DELETE FROM resources WHERE dataset_id = ?", "DELETE FROM record_ops WHERE dataset_id = ?",
        "DELETE FROM history_base WHERE dataset_id = ?", "DELETE FROM heads WHERE dataset_id = ?",
        "DELETE FROM state_cache WHERE dataset_id = ?",
    ):  # fmt: skip
        con.execute(sql, [ds])
    roles.forget_state(store, ds)
    con.execute("DELETE FROM snapshot_events WHERE snapshot_id = ?", [sid])
    con.execute(
        "INSERT INTO heads SELECT dataset_id, id, clock FROM events WHERE dataset_id = ? AND kind = 4870",
        [ds],
    )
    store.forget_definitions(ds)
    refresh_manifest(store, ds)
