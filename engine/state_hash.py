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
from engine.schema import canonical_json

if TYPE_CHECKING:
    from engine.store import Store


def compute(store: Store, dataset_id: str) -> str:
    lines = ["kobold-state-v1\n"]
    for res in sorted(datasets.resources(store, dataset_id), key=lambda r: r.key):
        fields = sorted(res.fields, key=lambda f: f["key"])
        struct = (
            "{" + ", ".join(f"'{f['key']}': {q(f['key'])}" for f in fields) + "}" if fields else "{'_': NULL}"
        )
        # Row hashes stream out in id order and are chained here, so no million-row string is built.
        cur = store.con.execute(
            f"""SELECT sha256(_id || chr(9) || to_json({struct})::VARCHAR)
                FROM {q(table_name(dataset_id, res.key))} ORDER BY _id"""
        )
        digest = hashlib.sha256()
        while batch := cur.fetchmany(100_000):
            digest.update("".join(r[0] for r in batch).encode())
        rows_hash = digest.hexdigest()
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
