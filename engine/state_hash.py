"""The state hash: a digest of a dataset's schemas and live records, the same on every replica that holds the
same events, whatever their arrival order, and blind to local bookkeeping (sequence numbers, rowids, caches).

Definition (docs/PROTOCOL.md, "State hash"):
  row line   = record_id + "\\t" + JSON object of the live fields' values keyed by field key, keys sorted, + "\\n"
  rows hash  = sha256 of the row lines concatenated in record id order
  state hash = sha256 of "kobold-state-v2\\n" + for each resource by key:
               key + " " + sha256(canonical definition JSON) + " " + rows hash + "\\n"

One sha256 over the lines rather than one per row (v1): DuckDB builds the lines and hands them over as Arrow
buffers, which Python's sha256 (SHA-NI) hashes without copying, at about half v1's cost for a million rows.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from engine import arrow_text, datasets
from engine.projection import q, table_name
from engine.schema import Resource, canonical_json

if TYPE_CHECKING:
    import duckdb

    from engine.store import Store


def compute(store: Store, dataset_id: str) -> str:
    return compute_on(store.con, dataset_id, datasets.resources(store, dataset_id))


def compute_on(con: duckdb.DuckDBPyConnection, dataset_id: str, resources: list[Resource]) -> str:
    """The state hash of these resources, read through `con` (a cursor lets `verify` run it in a thread)."""
    lines = ["kobold-state-v2\n"]
    for res in sorted(resources, key=lambda r: r.key):
        fields = sorted(res.fields, key=lambda f: f["key"])
        struct = (
            "{" + ", ".join(f"'{f['key']}': {q(f['key'])}" for f in fields) + "}" if fields else "{'_': NULL}"
        )
        rows_hash = _lines_hash(
            con,
            f"""SELECT _id || chr(9) || to_json({struct})::VARCHAR || chr(10)
                FROM {q(table_name(dataset_id, res.key))} ORDER BY _id""",
        )
        def_hash = hashlib.sha256(canonical_json(res.definition).encode()).hexdigest()
        lines.append(f"{res.key} {def_hash} {rows_hash}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _lines_hash(con: duckdb.DuckDBPyConnection, query: str) -> str:
    """sha256 of the query's one text column, concatenated, read batch by batch straight from Arrow's buffers.

    hashlib releases the GIL on large buffers and DuckDB while it computes, so `verify` can run this in a thread.
    """
    digest = hashlib.sha256()
    con.complete()  # a relation cannot start while an execute() result on this connection is unread
    for batch in con.sql(query).to_arrow_reader(1 << 16):
        digest.update(arrow_text.concatenated(batch.column(0)))
    return digest.hexdigest()


def state_hash(store: Store, dataset_id: str) -> str:
    """The dataset's state hash, cached until its next event."""
    marker = _marker(store, dataset_id)
    row = store.con.execute(
        "SELECT state_hash FROM state_cache WHERE dataset_id = ? AND marker = ?", [dataset_id, marker]
    ).fetchone()
    if row:
        return str(row[0])
    value = compute(store, dataset_id)
    store.con.execute("DELETE FROM state_cache WHERE dataset_id = ?", [dataset_id])
    store.con.execute("INSERT INTO state_cache VALUES (?, ?, ?)", [dataset_id, marker, value])
    return value


def _marker(store: Store, dataset_id: str) -> str:
    heads = store.con.execute(
        "SELECT list(event_id ORDER BY event_id) FROM heads WHERE dataset_id = ?", [dataset_id]
    ).fetchone()
    n = store.con.execute("SELECT count(*) FROM events WHERE dataset_id = ?", [dataset_id]).fetchone()
    return json.dumps(["v2", heads[0] if heads else None, n[0] if n else 0])  # v1 hashes cached before: stale
