"""Typed projection tables per (dataset, resource), derived from `record_ops` by field-level last-writer-wins.

Order of operations is (clock, event id, op index). A field takes the value of the latest op that named it
(an explicit null clears it); a record is live when its latest create/delete/restore op is not a delete.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import duckdb

from engine.field_types import column_type

# Above this many affected records a full re-derivation of the table is cheaper than a keyed one.
_FULL_REBUILD_THRESHOLD = 20_000


def table_name(dataset_id: str, key: str) -> str:
    return f"p_{dataset_id}_{key}"


def q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def live_fields(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in definition["fields"] if not f.get("removed")]


def create_table(con: duckdb.DuckDBPyConnection, dataset_id: str, definition: dict[str, Any]) -> str:
    tbl = table_name(dataset_id, definition["key"])
    from engine.computed import extra_columns

    pairs = [(f["key"], column_type(f)) for f in live_fields(definition)] + extra_columns(definition)
    cols = ", ".join(f"{q(k)} {t}" for k, t in pairs)
    con.execute(f"DROP TABLE IF EXISTS {q(tbl)}")
    con.execute(f"CREATE TABLE {q(tbl)} (_id VARCHAR NOT NULL{', ' + cols if cols else ''})")
    return tbl


def _from_text(field: dict[str, Any], text: str) -> str:
    """Typed value from the field's JSON value rendered as text (json_extract_string)."""
    ctype = column_type(field)
    return text if ctype == "VARCHAR" else f"TRY_CAST({text} AS {ctype})"


def _from_json(field: dict[str, Any], expr: str) -> str:
    """Typed value from a JSON value; objects and arrays are not values of scalar fields."""
    ctype = column_type(field)
    if ctype == "VARCHAR[]":
        return f"TRY_CAST({expr} AS VARCHAR[])"
    text = f"CASE WHEN json_type({expr}) NOT IN ('ARRAY', 'OBJECT') THEN json_extract_string({expr}, '$') END"
    return _from_text(field, text)


def misfit_counts(
    con: duckdb.DuckDBPyConnection, dataset_id: str, definition: dict[str, Any]
) -> dict[str, int]:
    """Per field, how many stored op values are not null yet do not convert to the field's current type.

    Values written before a retype may legitimately not fit; `verify` reports them so people can see it.
    """
    fields = [f for f in live_fields(definition) if column_type(f) not in ("VARCHAR", "VARCHAR[]")]
    if not fields:
        return {}
    paths = "[" + ", ".join(_lit("$." + f["key"]) for f in fields) + "]"
    sums = ", ".join(
        f"count(*) FILTER (WHERE v[{i + 1}] IS NOT NULL AND TRY_CAST(v[{i + 1}] AS {column_type(f)}) IS NULL)"
        for i, f in enumerate(fields)
    )
    row = con.execute(
        f"SELECT {sums} FROM (SELECT json_extract_string(fields, {paths}) AS v FROM record_ops "
        "WHERE dataset_id = ? AND resource = ? AND fields IS NOT NULL)",
        [dataset_id, definition["key"]],
    ).fetchone()
    return {f["name"]: int(c) for f, c in zip(fields, row or (), strict=False) if c}


def _select_sql(dataset_id: str, definition: dict[str, Any], keyed: bool) -> tuple[str, list[Any]]:
    """Rows of live records by last-writer-wins. Records with a single create op (most of them after an
    import) skip the aggregation: their values are that op's values, read in one JSON pass."""
    fields = live_fields(definition)
    where = "dataset_id = ? AND resource = ?"
    if keyed:
        where += " AND record_id IN (SELECT id FROM _affected)"
    scalar = [f for f in fields if column_type(f) != "VARCHAR[]"]
    paths = "[" + ", ".join(_lit("$." + f["key"]) for f in scalar) + "]"
    single_cols = []
    for f in fields:
        if column_type(f) == "VARCHAR[]":
            single_cols.append(_from_json(f, f"(fields -> {_lit('$.' + f['key'])})"))
        else:
            single_cols.append(_from_text(f, f"v[{scalar.index(f) + 1}]"))
    aggs = [
        f"arg_max_null(fields -> {_lit('$.' + f['key'])}, ord) FILTER (WHERE (fields -> {_lit('$.' + f['key'])}) IS NOT NULL) AS f{i}"
        for i, f in enumerate(fields)
    ]
    multi_cols = [_from_json(f, f"f{i}") for i, f in enumerate(fields)]
    sql = f"""
        WITH ops AS (SELECT record_id, op, fields, clock, event_id, op_index,
                            -- a semi-join on the ids alone: a window over the records moved every op's fields
                            CASE WHEN record_id IN (SELECT record_id FROM record_ops WHERE {where}
                                                    GROUP BY record_id HAVING count(*) > 1) THEN 2 ELSE 1 END AS n
                     FROM record_ops WHERE {where})
        SELECT record_id{"".join(", " + c for c in single_cols)}
        FROM (SELECT record_id, fields{", json_extract_string(fields, " + paths + ") AS v" if scalar else ""}
              FROM ops WHERE n = 1 AND op = 'create')
        UNION ALL
        SELECT record_id{"".join(", " + c for c in multi_cols)} FROM (
            SELECT record_id,
                   arg_max_null(op <> 'delete', ord) FILTER (WHERE op <> 'update') AS alive
                   {"".join(", " + a for a in aggs)}
            FROM (SELECT *, {{'c': clock, 'e': event_id, 'i': op_index}} AS ord FROM ops WHERE n > 1)
            GROUP BY record_id
        ) WHERE alive
    """
    return sql, [dataset_id, definition["key"]] * 2


def _stored_columns(definition: dict[str, Any]) -> str:
    return ", ".join(["_id", *(q(f["key"]) for f in live_fields(definition))])


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def rebuild_resource(con: duckdb.DuckDBPyConnection, dataset_id: str, definition: dict[str, Any]) -> None:
    """Drop and re-derive one resource's table from the op log."""
    tbl = create_table(con, dataset_id, definition)
    if definition.get("removed"):
        con.execute(f"DROP TABLE IF EXISTS {q(tbl)}")
        return
    sql, params = _select_sql(dataset_id, definition, keyed=False)
    con.execute(
        f"INSERT INTO {q(tbl)} ({_stored_columns(definition)}) SELECT * FROM ({sql}) ORDER BY record_id",
        params,
    )


def reproject(
    con: duckdb.DuckDBPyConnection, dataset_id: str, definition: dict[str, Any], record_ids: Iterable[str]
) -> None:
    """Re-derive the rows of the given records (new, changed or deleted) from the op log."""
    ids = sorted(set(record_ids))
    if not ids or definition.get("removed"):
        return
    if len(ids) > _FULL_REBUILD_THRESHOLD:
        rebuild_resource(con, dataset_id, definition)
        return
    tbl = table_name(dataset_id, definition["key"])
    con.execute("CREATE OR REPLACE TEMP TABLE _affected AS SELECT unnest(?::VARCHAR[]) AS id", [ids])
    con.execute(f"DELETE FROM {q(tbl)} WHERE _id IN (SELECT id FROM _affected)")
    sql, params = _select_sql(dataset_id, definition, keyed=True)
    con.execute(f"INSERT INTO {q(tbl)} ({_stored_columns(definition)}) {sql}", params)
    con.execute("DROP TABLE _affected")


def insert_ops(con: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
    """Bulk-insert record_ops rows: (dataset, resource, record, event, clock, op_index, op, fields_json)."""
    if not rows:
        return
    cols = list(zip(*rows, strict=True))
    con.execute(
        """INSERT INTO record_ops SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), unnest($3::VARCHAR[]),
           unnest($4::VARCHAR[]), unnest($5::BIGINT[]), unnest($6::INTEGER[]), unnest($7::VARCHAR[]),
           unnest($8::VARCHAR[])""",
        [list(c) for c in cols],
    )


def op_row(dataset_id: str, event_id: str, clock: int, index: int, op: dict[str, Any]) -> tuple[Any, ...]:
    fields = op.get("f") or {}
    return (
        dataset_id, op["r"], op["id"], event_id, clock, index, op["o"],
        json.dumps(fields, separators=(",", ":"), ensure_ascii=False) if fields else None,
    )  # fmt: skip


def apply_newest(con: duckdb.DuckDBPyConnection, dataset_id: str, definition: dict[str, Any],
                 ops: list[dict[str, Any]]) -> list[str]:  # fmt: skip
    """Apply ops known to be newer than every stored op (this store just signed them on its heads).

    Last-writer-wins then reduces to "the op wins", so rows are written directly instead of re-derived from
    the log; a property test checks the result equals a full rebuild. Returns ids that still need the general
    path (restores, which must re-derive the record's values).
    """
    tbl = q(table_name(dataset_id, definition["key"]))
    types = {f["key"]: column_type(f) for f in live_fields(definition)}
    pending = []
    for op in ops:
        fields = {k: v for k, v in (op.get("f") or {}).items() if k in types}
        if op["o"] == "create":
            con.execute(f"DELETE FROM {tbl} WHERE _id = ?", [op["id"]])
            cols = ["_id", *fields]
            marks = ["?", *(f"CAST(? AS {types[k]})" for k in fields)]
            con.execute(
                f"INSERT INTO {tbl} ({', '.join(map(q, cols))}) VALUES ({', '.join(marks)})",
                [op["id"], *fields.values()],
            )
        elif op["o"] == "update":
            if fields:
                sets = ", ".join(f"{q(k)} = CAST(? AS {types[k]})" for k in fields)
                con.execute(f"UPDATE {tbl} SET {sets} WHERE _id = ?", [*fields.values(), op["id"]])
        elif op["o"] == "delete":
            con.execute(f"DELETE FROM {tbl} WHERE _id = ?", [op["id"]])
        else:
            pending.append(op["id"])
    return pending


def canonical_value_sql(field: dict[str, Any], col: str) -> str:
    """SQL for a typed column's canonical JSON value, as changesets carry it (decimals and dates as strings)."""
    if field["type"] == "decimal":
        return f"{col}::VARCHAR"
    if field["type"] == "date":
        return f"strftime({col}, '%Y-%m-%d')"
    if field["type"] == "datetime":
        return f"strftime({col}, '%Y-%m-%dT%H:%M:%S')"
    return col
