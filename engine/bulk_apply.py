"""The set-based apply path for large batches of verified changesets (bundle imports, big syncs).

Python has verified ids and signatures and ordered the events; DuckDB extracts the ops from the contents,
flags every event whose shape or values might not fit its schema (a superset: Python re-checks the flagged ones
and gives the reason), writes the log rows and `record_ops`, and derives projection rows in a few statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine import computed, projection
from engine.apply import Checked, current_definition, update_heads
from engine.event_checks import SchemaState, bad_op_sql
from engine.field_types import column_type
from engine.protocol import OPS

if TYPE_CHECKING:
    import duckdb

    from engine.store import Store

_KEY = "[A-Za-z_][A-Za-z0-9_]{0,62}"
_RECORD_ID = "[0-9A-Za-z_-]{1,64}"
_CONTENT_SHAPE = '{"v":"JSON","ops":[{"o":"JSON","r":"JSON","id":"JSON","f":"JSON"}]}'
TEMP_TABLES = ("_in_events", "_in_ops", "_in_touched")


def stage(store: Store, batch: Sequence[Checked], groups: Sequence[int]) -> None:
    """Put the changesets' envelopes and contents in temp tables and extract their ops (no checks yet)."""
    con = store.con
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _in_events AS SELECT unnest($1::BIGINT[]) AS seq,
           unnest($2::VARCHAR[]) AS id, unnest($3::VARCHAR[]) AS dataset_id, unnest($4::VARCHAR[]) AS pubkey,
           unnest($5::BIGINT[]) AS created_at, unnest($6::INTEGER[]) AS kind, unnest($7::BIGINT[]) AS clock,
           unnest($8::VARCHAR[][]) AS parents, unnest($9::VARCHAR[]) AS raw, unnest($10::BIGINT[]) AS grp,
           true AS keep""",
        [
            list(range(len(batch))), [c.event.id for c in batch], [c.dataset_id for c in batch],
            [c.event.pubkey for c in batch], [c.event.created_at for c in batch], [c.event.kind for c in batch],
            [c.clock for c in batch], [c.parents for c in batch], [c.raw_json() for c in batch], list(groups),
        ],
    )  # fmt: skip
    # One parse of each content: its ops, each op's parts as JSON and its field keys. `try` turns content that
    # is not JSON, or not of this shape, into no ops, which marks the event below; Python then says why.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _in_ops AS
            SELECT seq, grp, op_index, o_json, r_json, id_json, f, ks, clen, vlen,
                   CASE WHEN starts_with(o_json, '"') THEN o_json ->> '$' END AS o,
                   CASE WHEN starts_with(r_json, '"') THEN r_json ->> '$' END AS r,
                   CASE WHEN starts_with(id_json, '"') THEN id_json ->> '$' END AS record_id
            FROM (SELECT seq, grp, clen, vlen, op_index, op.o::VARCHAR AS o_json, op.r::VARCHAR AS r_json,
                         op.id::VARCHAR AS id_json, op.f AS f, json_keys(op.f) AS ks
                  FROM (SELECT seq, grp, strlen(c) AS clen, strlen(t.v::VARCHAR) AS vlen,
                               (generate_subscripts(t.ops, 1) - 1)::INTEGER AS op_index, unnest(t.ops) AS op
                        FROM (SELECT seq, grp, c, try(json_transform(c, '{_CONTENT_SHAPE}')) AS t
                              FROM (SELECT seq, grp, raw ->> '$.content' AS c FROM _in_events))))"""
    )
    # The set-based path takes only content in the compact form the transform writes back: its length must be
    # what the parsed parts add up to. Anything else goes to Python, which has the last word: other spacing or
    # escapes, unknown keys, `"f": null` (parsed like a missing "f") and repeated keys, which DuckDB resolves to
    # the first and Python's parser to the last (content.py refuses them).
    op_len = """5 + strlen(o_json) + 5 + strlen(r_json) + 6 + strlen(id_json)
                + CASE WHEN f IS NULL THEN 0 ELSE 5 + strlen(f) END + 1"""
    con.execute(
        f"""ALTER TABLE _in_events ADD COLUMN shape_ok BOOLEAN;
            UPDATE _in_events SET shape_ok = seq IN (
                SELECT seq FROM _in_ops GROUP BY seq
                HAVING any_value(clen) = 2 + coalesce(5 + any_value(vlen), 0) + 8 + sum({op_len}) + count(*) - 1)"""
    )


def flag_suspects(store: Store, states: Sequence[SchemaState]) -> set[int]:
    """Sequence numbers of staged events that may be malformed or not fit their schema; Python re-checks them."""
    con = store.con
    ops = ", ".join("'" + o + "'" for o in OPS)
    shape_bad = f"""coalesce(o NOT IN ({ops}), true)
        OR NOT coalesce(regexp_full_match(r, '{_KEY}'), false)
        OR NOT coalesce(regexp_full_match(record_id, '{_RECORD_ID}'), false)
        OR (f IS NOT NULL AND json_type(f) <> 'OBJECT')
        OR len(list_filter(coalesce(ks, []), lambda k: NOT regexp_full_match(k, '{_KEY}'))) > 0
        OR (o IN ('delete', 'restore') AND len(coalesce(ks, [])) > 0)
        OR list_unique(coalesce(ks, [])) <> len(coalesce(ks, []))"""
    bad = {r[0] for r in con.execute("SELECT seq FROM _in_events WHERE NOT shape_ok").fetchall()}
    bad |= {r[0] for r in con.execute(f"SELECT DISTINCT seq FROM _in_ops WHERE {shape_bad}").fetchall()}
    for grp, state in enumerate(states):
        live = {k: e for k, e in state.items() if not e.definition.get("removed")}
        known = ", ".join("'" + k + "'" for k in live) or "NULL"
        bad |= {
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT seq FROM _in_ops WHERE grp = ? AND coalesce(r NOT IN ({known}), true)",
                [grp],
            ).fetchall()
        }
        for key, entry in live.items():
            values, cond = bad_op_sql(entry.definition, "f", "ks")
            bad |= {
                r[0]
                for r in con.execute(
                    f"""SELECT DISTINCT seq FROM (SELECT seq, f, ks, {values} AS _v FROM _in_ops
                                                  WHERE grp = ? AND r = ? AND f IS NOT NULL) WHERE {cond}""",
                    [grp, key],
                ).fetchall()
            }
    return bad


def apply_staged(store: Store, kept: Sequence[int], batch: Sequence[Checked]) -> None:
    """Append the kept staged changesets to the log and `record_ops`, then bring their projections up to date.

    Runs inside the caller's transaction, after the batch's other events went through `apply.apply_events`.
    """
    con = store.con
    store.checkpoint_after_commit()
    con.execute("UPDATE _in_events SET keep = seq IN (SELECT unnest(?::BIGINT[]))", [list(kept)])
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute(
        """INSERT INTO events
            SELECT id, dataset_id, kind, pubkey, created_at, clock, parents, raw, true, nextval('event_seq'), ?
            FROM _in_events WHERE keep ORDER BY clock, id""",
        [now],
    )
    update_heads(store, [batch[i] for i in kept], False)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _in_touched AS
           SELECT e.dataset_id, o.r AS resource, o.record_id, count(*) AS n, bool_and(o.o = 'create') AS creates,
                  false AS prior
           FROM _in_ops o JOIN _in_events e USING (seq) WHERE e.keep GROUP BY ALL"""
    )
    con.execute(
        """UPDATE _in_touched t SET prior = true FROM (
               SELECT DISTINCT dataset_id, resource, record_id FROM record_ops
               WHERE (dataset_id, resource) IN (SELECT DISTINCT dataset_id, resource FROM _in_touched)) r
           WHERE t.dataset_id = r.dataset_id AND t.resource = r.resource AND t.record_id = r.record_id"""
    )
    con.execute(
        """INSERT INTO record_ops
           SELECT e.dataset_id, o.r, o.record_id, e.id, e.clock, o.op_index, o.o,
                  CASE WHEN o.ks <> [] THEN o.f::VARCHAR END
           FROM _in_ops o JOIN _in_events e USING (seq) WHERE e.keep"""
    )
    pairs = con.execute("SELECT DISTINCT dataset_id, resource FROM _in_touched ORDER BY ALL").fetchall()
    for ds, key in pairs:
        definition = current_definition(store, ds, key)
        if definition is None or definition.get("removed"):
            continue
        project_touched(con, ds, definition)
        if not computed.refresh_needed(store, ds, definition):
            continue  # no formula can read these records: skip fetching a million ids
        touched = [
            r[0]
            for r in con.execute(
                "SELECT record_id FROM _in_touched WHERE dataset_id = ? AND resource = ?", [ds, key]
            ).fetchall()
        ]
        computed.refresh(store, ds, definition, touched)
    datasets = sorted({ds for ds, _ in pairs} | {batch[i].dataset_id for i in kept})
    con.execute("DELETE FROM state_cache WHERE dataset_id IN (SELECT unnest(?::VARCHAR[]))", [datasets])


def project_touched(con: duckdb.DuckDBPyConnection, ds: str, definition: dict[str, Any]) -> None:
    """New records created once by this batch get their rows directly; the rest are re-derived by LWW."""
    key = definition["key"]
    simple = "n = 1 AND creates AND NOT prior"
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE NOT ({simple})) FROM _in_touched WHERE dataset_id = ? AND resource = ?",
        [ds, key],
    ).fetchone()
    complex_n = int(row[0]) if row else 0
    if complex_n > 20_000:
        projection.rebuild_resource(con, ds, definition)
        return
    tbl = projection.q(projection.table_name(ds, key))
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [projection.table_name(ds, key)]
    ).fetchone()
    if not exists or not exists[0]:
        projection.create_table(con, ds, definition)
    cols, exprs = typed_columns(definition, "o.f")
    con.execute(
        # Semi-joins, not joins: with joins DuckDB picked a plan that took 36 s (and spilled tens of GB at 1M).
        f"""INSERT INTO {tbl} ({", ".join(cols)}) SELECT o.record_id{"".join(", " + x for x in exprs)}
            FROM _in_ops o
            WHERE o.r = ? AND o.seq IN (SELECT seq FROM _in_events WHERE keep AND dataset_id = ?)
              AND o.record_id IN (SELECT record_id FROM _in_touched WHERE dataset_id = ? AND resource = ? AND {simple})""",
        [key, ds, ds, key],
    )
    if complex_n:
        ids = [
            r[0]
            for r in con.execute(
                f"SELECT record_id FROM _in_touched WHERE dataset_id = ? AND resource = ? AND NOT ({simple})",
                [ds, key],
            ).fetchall()
        ]
        projection.reproject(con, ds, definition, ids)


def typed_columns(definition: dict[str, Any], f: str) -> tuple[list[str], list[str]]:
    """Projection columns and the SQL expressions that type each field's value out of the JSON object `f`.

    Same rule as a rebuild: a value that does not fit the field's current type projects as empty.
    """
    fields = projection.live_fields(definition)
    cols = ["_id", *(projection.q(x["key"]) for x in fields)]
    scalar = [x for x in fields if column_type(x) != "VARCHAR[]"]
    paths = "[" + ", ".join("'$." + x["key"] + "'" for x in scalar) + "]"
    exprs = []
    for x in fields:
        ctype = column_type(x)
        if ctype == "VARCHAR[]":
            exprs.append(f"TRY_CAST(json_extract({f}, '$.{x['key']}') AS VARCHAR[])")
            continue
        text = f"json_extract_string({f}, {paths})[{scalar.index(x) + 1}]"
        exprs.append(text if ctype == "VARCHAR" else f"TRY_CAST({text} AS {ctype})")
    return cols, exprs


def is_staged(store: Store) -> bool:
    row = store.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = '_in_events'"
    ).fetchone()
    return bool(row and row[0])


def staged_ids(store: Store) -> list[str]:
    return [r[0] for r in store.con.execute("SELECT id FROM _in_events ORDER BY seq").fetchall()]


def drop_temp(store: Store) -> None:
    for t in TEMP_TABLES:
        store.con.execute(f"DROP TABLE IF EXISTS {t}")
