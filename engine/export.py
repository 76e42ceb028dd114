"""Export a resource's live records as CSV or JSON, written by DuckDB (set-based, any size)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from engine import datasets
from engine.errors import KoboldError
from engine.projection import q, table_name

if TYPE_CHECKING:
    from engine.store import Store

FORMATS = ("csv", "json")


def export(store: Store, dataset_id: str, resource: str, fmt: str, output: Path) -> int:
    """Write records to `output` with field names as columns and `_id` first; returns the row count."""
    if fmt not in FORMATS:
        raise KoboldError(f"Export format is csv or json, not {fmt!r}.")
    res = datasets.resource(store, dataset_id, resource)
    cols = ", ".join(["_id", *(f"{q(f['key'])} AS {q(f['name'])}" for f in res.fields)])
    options = "HEADER, DELIMITER ','" if fmt == "csv" else "FORMAT json, ARRAY true"
    select = f"SELECT {cols} FROM {q(table_name(dataset_id, res.key))} ORDER BY _id"
    if fmt == "csv":
        # Lists (references) as comma-separated ids, the form `import` reads back.
        select = (
            f"SELECT * REPLACE ({', '.join(_list_to_text(f['name']) for f in res.fields if f['type'] == 'references') or ''}) FROM ({select})"
            if any(f["type"] == "references" for f in res.fields)
            else select
        )
    try:
        store.con.execute(f"COPY ({select}) TO '{_path_literal(output)}' ({options})")
    except duckdb.IOException as exc:
        raise KoboldError(f"Cannot write {output}: {str(exc).splitlines()[0]}.") from None
    row = store.con.execute(f"SELECT count(*) FROM {q(table_name(dataset_id, res.key))}").fetchone()
    return int(row[0]) if row else 0


def _list_to_text(name: str) -> str:
    return f"array_to_string({q(name)}, ',') AS {q(name)}"


def _path_literal(path: Path) -> str:
    return str(path).replace("'", "''")
