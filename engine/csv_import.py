"""Set-based CSV import: DuckDB reads and checks the whole file, then its rows become signed changesets.

Per-row work happens in SQL; Python only packs the op texts DuckDB produced into events and signs them.
The import is one transaction: a bad row stops it with the row's line number and nothing is applied.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from engine import arrow_text, authorization, computed, datasets, writes
from engine.apply import Checked, update_heads
from engine.errors import ImportFailed
from engine.field_types import _FALSE, _TRUE
from engine.nostr_event import NostrEvent, signer
from engine.projection import canonical_value_sql, q, table_name
from engine.protocol import KIND_CHANGESET
from engine.schema import Resource

if TYPE_CHECKING:
    from engine.store import Store

Progress = Callable[[str, int, int], None]


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _typed(f: dict[str, Any], col: str) -> tuple[str, str]:
    """(typed SQL expression, SQL condition that is true when a non-empty value does not fit)."""
    v = f"nullif(trim({col}), '')" if f["type"] != "text" else col
    t = f["type"]
    if t in ("string",):
        return v, f"{v} LIKE '%' || chr(10) || '%' OR {v} LIKE '%' || chr(13) || '%'"
    if t in ("text",):
        return v, "false"
    if t == "integer":
        return f"TRY_CAST({v} AS BIGINT)", f"TRY_CAST({v} AS BIGINT) IS NULL"
    if t == "decimal":
        scale = int(f.get("scale", 2))
        pattern = (
            _lit(rf"[+-]?(\d+(\.\d{{0,{scale}}})?|\.\d{{1,{scale}}})") if scale else _lit(r"[+-]?\d+\.?")
        )
        return (
            f"TRY_CAST({v} AS DECIMAL(38,{scale}))",
            f"NOT regexp_full_match({v}, {pattern}) OR TRY_CAST({v} AS DECIMAL(38,{scale})) IS NULL",
        )
    if t == "boolean":
        trues = ", ".join(map(_lit, sorted(_TRUE)))
        falses = ", ".join(map(_lit, sorted(_FALSE)))
        return (
            f"CASE WHEN lower({v}) IN ({trues}) THEN true WHEN lower({v}) IN ({falses}) THEN false END",
            f"lower({v}) NOT IN ({trues}, {falses})",
        )
    if t == "date":
        return (
            f"TRY_CAST({v} AS DATE)",
            f"strftime(TRY_CAST({v} AS DATE), '%Y-%m-%d') IS DISTINCT FROM {v}",
        )
    if t == "datetime":
        return f"date_trunc('second', TRY_CAST({v} AS TIMESTAMP))", f"TRY_CAST({v} AS TIMESTAMP) IS NULL"
    if t == "choice":
        return v, f"{v} NOT IN ({', '.join(map(_lit, f['choices']))})"
    if t == "reference":
        return v, "false"
    if t == "references":
        return f"list_filter(list_transform(string_split({v}, ','), x -> trim(x)), x -> x <> '')", "false"
    raise ImportFailed(f"Cannot import into a field of type {t}.")


def _expected(f: dict[str, Any]) -> str:
    expected: dict[str, str] = {
        "integer": "a whole number", "decimal": f"a decimal with at most {f.get('scale', 2)} digits after the point",
        "boolean": "true or false", "date": "a date like 2026-04-30", "datetime": "a date and time like 2026-04-30T14:05:00",
        "choice": "one of " + ", ".join(f.get("choices", [])), "string": "a single line of text",
    }  # fmt: skip
    return expected.get(f["type"], str(f["type"]))


def import_csv(
    store: Store, dataset_id: str, resource: str, path: Path, progress: Progress | None = None
) -> int:
    """Import every row of a CSV file as new records; returns how many. All or nothing."""
    res = datasets.resource(store, dataset_id, resource)
    authorization.check_local(store, dataset_id, KIND_CHANGESET, resources=[res.key])  # before any work
    report = progress or (lambda phase, done, total: None)
    if not path.is_file():
        raise ImportFailed(f"No file {path}; give the path of a CSV file.")
    con = store.con
    report("reading", 0, 1)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _stage AS SELECT (row_number() OVER ())::BIGINT AS _pos, * "
            "FROM read_csv(?, all_varchar = true, header = true, auto_detect = true)",
            [str(path)],
        )
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise ImportFailed(f"{path} cannot be read as CSV: {first}") from None
    try:
        return _import_stage(store, dataset_id, res, path, report)
    finally:
        for tmp in ("_stage", "_typed", "_ops", "_placed", "_runs", "_signed"):
            con.execute(f"DROP TABLE IF EXISTS {tmp}")


def _import_stage(store: Store, dataset_id: str, res: Resource, path: Path, report: Progress) -> int:
    con = store.con
    header = [r[0] for r in con.execute("DESCRIBE _stage").fetchall()][1:]
    # An `_id` column (as `kobold export` writes) keeps record ids, so an export imports back as the same records.
    has_ids = "_id" in header
    header = [h for h in header if h != "_id"]
    by_name = {f["name"].lower(): f for f in res.fields}
    unknown = [h for h in header if h.lower() not in by_name]
    if unknown:
        raise ImportFailed(
            f"{path.name}: column(s) {', '.join(unknown)} are not fields of {res.name} "
            f"(fields: {', '.join(f['name'] for f in res.fields)}); rename or drop them."
        )
    columns = {by_name[h.lower()]["key"]: h for h in header}
    missing = [
        f["name"] for f in res.fields if f["required"] and f["key"] not in columns and "default" not in f
    ]
    if missing:
        raise ImportFailed(
            f"{path.name} has no column for the required field(s) {', '.join(missing)} of {res.name}."
        )
    total_row = con.execute("SELECT count(*) FROM _stage").fetchone()
    total = int(total_row[0]) if total_row else 0
    if total == 0:
        return 0
    report("checking", 0, total)
    selects, problems = ["_pos"], []
    for f in res.fields:
        key = f["key"]
        if key in columns:
            col = q(columns[key])
            expr, bad = _typed(f, col)
            blank = f"nullif(trim({col}), '') IS NULL" if f["type"] != "text" else f"{col} IS NULL"
            problems.append(
                f"WHEN NOT ({blank}) AND ({bad}) THEN {_lit(f['name'])} || ': ' || {col} || ' is not ' || {_lit(_expected(f))}"
            )
            if f["required"]:
                problems.append(f"WHEN {blank} THEN {_lit(f['name'] + ' is required')}")
        elif "default" in f:
            expr = _default_sql(f)
        else:
            expr = "NULL"
        selects.append(f"{expr} AS {q(key)}")
    if has_ids:
        problems.insert(
            0,
            "WHEN NOT regexp_full_match(coalesce(trim(\"_id\"), 'x'), '[0-9A-Za-z_-]{1,64}') "
            "THEN '_id: ' || \"_id\" || ' is not a record id'",
        )
    cases = "CASE " + " ".join(problems) + " END" if problems else "NULL::VARCHAR"
    new_id = "replace(uuidv7()::VARCHAR, '-', '')"
    id_expr = f"coalesce(nullif(trim(\"_id\"), ''), {new_id})" if has_ids else new_id
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _typed AS SELECT {id_expr} AS _id, "
        f"{', '.join(selects)}, {cases} AS _problem FROM _stage"
    )
    con.execute("DROP TABLE _stage")
    bad_row = con.execute(
        "SELECT _pos, _problem FROM _typed WHERE _problem IS NOT NULL ORDER BY _pos LIMIT 1"
    ).fetchone()
    if bad_row:
        raise ImportFailed(f"{path.name} line {bad_row[0] + 1}: {bad_row[1]}; nothing was imported.")
    _check_references(store, dataset_id, res, path)
    _check_unique(store, dataset_id, res, path)
    if has_ids:
        _check_ids(store, dataset_id, res, path)
    report("signing", 0, total)
    with store.transaction():
        _place_ops(store, dataset_id, res)
        signed = _sign_and_log(store, dataset_id, res)
        report("writing", 0, total)
        update_heads(store, signed, fresh=True)
        _insert_ops_and_rows(store, dataset_id, res, signed)
    report("done", total, total)
    return total


_CONTENT_HEAD = '{"v":1,"ops":['
_CONTENT_TAIL = "]}"


def _escape(text: str) -> str:
    """`text` as it reads inside a JSON string, for texts (JSON themselves) without control characters."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _place_ops(store: Store, dataset_id: str, res: Resource) -> None:
    """Write each row's create op as JSON and place it in a run that fits one event (`_placed`, `_runs`).

    Runs come from the running total of op sizes divided by (budget - largest op), so no run can overflow
    an event; this packs a little less tightly than a greedy loop but needs no per-row Python.
    """
    con = store.con
    obj = ", ".join(f"{_lit(f['key'])}: {canonical_value_sql(f, q(f['key']))}" for f in res.fields)
    # Escaped size of the op text head + id + '","f":' + f + '}' (ids never hold quotes or backslashes).
    fixed = writes.escaped_size(_op_head(res)) + writes.escaped_size('","f":}')
    size = f"{fixed} + strlen(_id) + strlen(f) + (length(f) - length(replace(f, '\"', ''))) + (length(f) - length(replace(f, '\\', '')))"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ops AS
            SELECT _pos, _id, f, {size} AS size FROM (
                SELECT _pos, _id, to_json({{{obj}}})::VARCHAR AS f FROM _typed)"""
    )
    row = con.execute("SELECT max(size) FROM _ops").fetchone()
    largest = int(row[0]) if row and row[0] is not None else 0
    heads_now, _ = writes.heads(store, dataset_id)
    budget = writes.content_budget(store, len(heads_now))
    if largest + 1 > budget // 2:
        raise ImportFailed(
            f"A row's record is {largest} bytes, too large for one event ({budget} bytes); shorten its values."
        )
    step = budget - largest - 1
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _placed AS
            SELECT _pos, _id, f, run, lead(run) OVER (ORDER BY _pos) IS DISTINCT FROM run AS last FROM (
                SELECT _pos, _id, f, (sum(size + 1) OVER (ORDER BY _pos ROWS UNBOUNDED PRECEDING) // {step})::BIGINT AS run
                FROM _ops)"""
    )
    con.execute("DROP TABLE _ops")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _runs AS
           SELECT (row_number() OVER (ORDER BY run) - 1)::BIGINT AS seq, run, min(_pos) AS start, count(*) AS n
           FROM _placed GROUP BY run"""
    )


def _op_head(res: Resource) -> str:
    return '{"o":"create","r":' + json.dumps(res.key) + ',"id":"'


def _sign_and_log(store: Store, dataset_id: str, res: Resource) -> list[Checked]:
    """Sign the runs as a chain of changesets on the dataset's heads and append them to the log.

    DuckDB writes each op already escaped for the event's JSON, followed by a comma unless it ends its run; the
    ops arrive as Arrow buffers, where a run's ops are one contiguous byte range: an event's content literal is
    that range between the escaped head and tail, hashed and copied once, never parsed or escaped in Python.
    """
    con = store.con
    sizes = [int(r[0]) for r in con.execute("SELECT n FROM _runs ORDER BY seq").fetchall()]
    con.complete()
    ops = con.sql(
        f"""SELECT replace(replace({_lit(_op_head(res))} || _id || '","f":' || f || '}}', '\\', '\\\\'), '"', '\\"')
                   || CASE WHEN last THEN '' ELSE ',' END
            FROM _placed ORDER BY _pos"""
    ).to_arrow_table()
    parents, clock = writes.heads(store, dataset_id)
    now, key = store.now(), signer(store.identity.secret)
    before = ('"' + _escape(_CONTENT_HEAD)).encode()
    after = (_escape(_CONTENT_TAIL) + '"').encode()
    signed: list[Checked] = []
    pending: list[tuple[str, int, list[str], bytes]] = []
    for body in arrow_text.groups(ops.column(0).chunks, sizes):
        escaped = before + body + after
        tags = writes.envelope_tags(dataset_id, clock, parents)
        tags_json = writes.dumps([list(t) for t in tags])
        event_id, sig = key.sign_escaped(now, KIND_CHANGESET, tags_json, escaped)
        raw = _raw_event(event_id, key.pubkey, now, tags_json, escaped, sig)
        pending.append((event_id, clock, parents, raw))
        # The content itself goes to the log below; holding thousands of 32 KiB strings here too costs memory.
        signed.append(Checked(NostrEvent(event_id, key.pubkey, now, KIND_CHANGESET, tags, "", sig),
                              dataset_id, clock, parents, None))  # fmt: skip
        parents, clock = [event_id], clock + 1
        if len(pending) == 512:
            _log(store, dataset_id, key.pubkey, now, pending)
    _log(store, dataset_id, key.pubkey, now, pending)
    del ops
    if len(signed) != len(sizes):
        raise ImportFailed("The import lost track of its events; nothing was imported. Please report this.")
    return signed


def _raw_event(
    event_id: str, pubkey: str, created_at: int, tags_json: str, escaped: bytes, sig: str
) -> bytes:
    """The signed event's JSON as the log stores it (engine/nostr_event.py `to_json`), content already escaped."""
    return (
        (
            f'{{"id":"{event_id}","pubkey":"{pubkey}","created_at":{created_at},"kind":{KIND_CHANGESET},'
            f'"tags":{tags_json},"content":'
        ).encode()
        + escaped
        + f',"sig":"{sig}"}}'.encode()
    )


def _log(
    store: Store,
    dataset_id: str,
    pubkey: str,
    created_at: int,
    pending: list[tuple[str, int, list[str], bytes]],
) -> None:
    """Append signed events to the log, in chain order; `pending` is emptied."""
    import pyarrow as pa

    if not pending:
        return
    ids, clocks, parents, raws = zip(*pending, strict=True)
    batch = pa.table({
        "id": pa.array(ids, pa.string()), "clock": pa.array(clocks, pa.int64()),
        "parents": pa.array(parents, pa.list_(pa.string())), "raw": pa.array(raws, pa.string()),
    })  # fmt: skip
    store.con.register("_log_batch", batch)
    try:
        store.con.execute(
            """INSERT INTO events SELECT id, ?, ?, ?, ?, clock, parents, raw, true, nextval('event_seq'), ?
               FROM _log_batch ORDER BY clock""",
            [dataset_id, KIND_CHANGESET, pubkey, created_at,
             dt.datetime.now(dt.UTC).replace(tzinfo=None)],
        )  # fmt: skip
    finally:
        store.con.unregister("_log_batch")
    del batch  # now: building the next batch while this one lives was seen to cost 4x (allocator)
    pending.clear()


def _insert_ops_and_rows(store: Store, dataset_id: str, res: Resource, signed: list[Checked]) -> None:
    con = store.con
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _signed AS SELECT unnest($1::VARCHAR[]) AS id, unnest($2::BIGINT[]) AS clock,
           unnest(range(len($1::VARCHAR[]))) AS seq""",
        [[c.event.id for c in signed], [c.clock for c in signed]],
    )
    con.execute(
        """INSERT INTO record_ops
           SELECT ?, ?, o._id, s.id, s.clock, (o._pos - r.start)::INTEGER, 'create', o.f
           FROM _placed o JOIN _runs r USING (run) JOIN _signed s USING (seq)""",
        [dataset_id, res.key],
    )
    cols = ", ".join(["_id", *(q(f["key"]) for f in res.fields)])
    con.execute(f"INSERT INTO {q(table_name(dataset_id, res.key))} ({cols}) SELECT {cols} FROM _typed")
    if computed.has_formulas(res.definition):
        ids = [r[0] for r in con.execute("SELECT _id FROM _typed").fetchall()]
        computed.refresh(store, dataset_id, res.definition, ids)


def _default_sql(f: dict[str, Any]) -> str:
    value = f["default"]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(_lit, value)) + "]::VARCHAR[]"
    from engine.field_types import column_type

    return f"CAST({_lit(str(value))} AS {column_type(f)})"


def _check_references(store: Store, dataset_id: str, res: Resource, path: Path) -> None:
    for f in res.fields:
        if f["type"] not in ("reference", "references"):
            continue
        target = datasets.resource(store, dataset_id, f["target"])
        col = q(f["key"])
        flat = f"unnest({col})" if f["type"] == "references" else col
        row = store.con.execute(
            f"""SELECT _pos, v FROM (SELECT _pos, {flat} AS v FROM _typed) WHERE v IS NOT NULL
                AND v NOT IN (SELECT _id FROM {q(table_name(dataset_id, target.key))}) ORDER BY _pos LIMIT 1"""
        ).fetchone()
        if row:
            raise ImportFailed(
                f"{path.name} line {row[0] + 1}: {f['name']}: {row[1]!r} is not a {target.name} record of this dataset; "
                "nothing was imported."
            )


def _check_unique(store: Store, dataset_id: str, res: Resource, path: Path) -> None:
    for f in res.fields:
        if not f["unique"]:
            continue
        col = q(f["key"])
        row = store.con.execute(
            f"""SELECT min(_pos) + 1, {col} FROM (
                  SELECT _pos, {col} FROM _typed UNION ALL
                  SELECT -1, {col} FROM {q(table_name(dataset_id, res.key))})
                WHERE {col} IS NOT NULL GROUP BY {col} HAVING count(*) > 1 ORDER BY 1 LIMIT 1"""
        ).fetchone()
        if row:
            raise ImportFailed(
                f"{path.name}: {f['name']} must be unique but {row[1]!r} appears more than once; nothing was imported."
            )


def _check_ids(store: Store, dataset_id: str, res: Resource, path: Path) -> None:
    row = store.con.execute(
        """SELECT min(_pos) + 1, _id FROM (SELECT _pos, _id FROM _typed UNION ALL
            SELECT -1, record_id FROM record_ops WHERE dataset_id = ? AND resource = ?)
            GROUP BY _id HAVING count(*) > 1 ORDER BY 1 LIMIT 1""",
        [dataset_id, res.key],
    ).fetchone()
    if row:
        where = f"line {row[0]}" if row[0] > 0 else "the file"
        raise ImportFailed(
            f"{path.name} {where}: the record id {row[1]} is already used in {res.name}; remove the _id column "
            "to import these rows as new records. Nothing was imported."
        )
