"""The state hash: a digest of a dataset's schemas and live records, the same on every replica that holds the
same events, whatever their arrival order, and blind to local bookkeeping (sequence numbers, rowids, caches).

Definition (docs/PROTOCOL.md, "State hash"):
  row line   = record_id + "\\t" + JSON object of the live fields' values keyed by field key, keys sorted
  rows hash  = sha256 of the concatenated hex sha256 of each row line, in record id order
  state hash = sha256 of "kobold-state-v1\\n" + for each resource by key:
               key + " " + sha256(canonical definition JSON) + " " + rows hash + "\\n"
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from engine import datasets
from engine.projection import q, table_name
from engine.schema import Resource, canonical_json

if TYPE_CHECKING:
    import duckdb

    from engine.store import Store


def compute(store: Store, dataset_id: str) -> str:
    return compute_on(store.con, dataset_id, datasets.resources(store, dataset_id))


def compute_on(con: duckdb.DuckDBPyConnection, dataset_id: str, resources: list[Resource]) -> str:
    """The state hash of these resources, read through `con` (a cursor lets `verify` run it in a thread)."""
    lines = ["kobold-state-v1\n"]
    for res in sorted(resources, key=lambda r: r.key):
        fields = sorted(res.fields, key=lambda f: f["key"])
        struct = (
            "{" + ", ".join(f"'{f['key']}': {q(f['key'])}" for f in fields) + "}" if fields else "{'_': NULL}"
        )
        # The row hashes are concatenated in id order and hashed inside DuckDB (64 bytes a row in memory), which
        # holds no GIL while it works: `verify` runs this in a thread beside its Python checks.
        row = con.execute(
            f"""SELECT sha256(coalesce(string_agg(sha256(_id || chr(9) || to_json({struct})::VARCHAR), ''
                                                  ORDER BY _id), ''))
                FROM {q(table_name(dataset_id, res.key))}"""
        ).fetchone()
        assert row is not None  # an aggregate without GROUP BY returns one row
        rows_hash = str(row[0])
        def_hash = hashlib.sha256(canonical_json(res.definition).encode()).hexdigest()
        lines.append(f"{res.key} {def_hash} {rows_hash}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


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
    return json.dumps([heads[0] if heads else None, n[0] if n else 0])
