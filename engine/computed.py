"""Computed fields and validations, materialized in the projection so they sort, filter and show like data.

Each projection table carries one column per computed field, `_errors` (JSON: computed field name → the
"#ERR …" message of a failed formula) and `_invalid` (validation messages of a record that fails, joined by
"; "). They are derived from stored fields, so they are refreshed after every projection change: for the
changed records, and for records whose formulas read a changed record through `ref()`. They never enter
the state hash: replicas agree on the data; formulas are re-derived from it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from engine.errors import SchemaError, ValidationError
from engine.projection import live_fields, q, table_name

if TYPE_CHECKING:
    from engine.store import Store
    from formulas import CompiledFormula, FormulaRuntime

RESULT_COLUMN_TYPES = {
    "string": "VARCHAR", "text": "VARCHAR", "integer": "BIGINT", "decimal": "DOUBLE", "boolean": "BOOLEAN",
    "date": "DATE", "datetime": "TIMESTAMP",
}  # fmt: skip
# Above this many changed records, recompute the whole table in one batch.
_FULL_THRESHOLD = 20_000


def extra_columns(definition: dict[str, Any]) -> list[tuple[str, str]]:
    """(column, type) of the derived columns a resource's projection table carries."""
    cols = [(c["key"], RESULT_COLUMN_TYPES[c["type"]]) for c in definition.get("computed", [])]
    return [*cols, ("_errors", "VARCHAR"), ("_invalid", "VARCHAR")]


@cache
def compiled(source: str, purpose: str, result_type: str) -> CompiledFormula:
    from formulas import FormulaSyntaxError, compile_formula

    try:
        return compile_formula(source, purpose=purpose, result_type=result_type)  # type: ignore[arg-type]
    except FormulaSyntaxError as exc:
        raise SchemaError(f"The formula does not compile: {exc}") from None


def _formulas(
    definition: dict[str, Any],
) -> tuple[list[tuple[str, CompiledFormula]], list[tuple[str, CompiledFormula]]]:
    computed = [
        (c["key"], compiled(c["formula"], "compute", c["type"])) for c in definition.get("computed", [])
    ]
    checks = [
        (v["name"], compiled(v["formula"], "validate", "any")) for v in definition.get("validations", [])
    ]
    checks += [
        (f["name"], compiled(f["validate"], "validate", "any"))
        for f in live_fields(definition)
        if f.get("validate")
    ]
    return computed, checks


def check_definition(definition: dict[str, Any]) -> None:
    """Compile every formula of a definition exactly as evaluation will (same cache entries), naming the one
    that fails; schema apply calls this before anything is signed."""
    items = [(c["name"], c["formula"], "compute", c["type"]) for c in definition.get("computed", [])]
    items += [(v["name"], v["formula"], "validate", "any") for v in definition.get("validations", [])]
    for f in live_fields(definition):
        if f.get("validate"):
            items.append((f["name"], f["validate"], "validate", "any"))
        if f.get("default_formula"):
            items.append((f["name"], f["default_formula"], "default", _result_type(f["type"])))
    for name, source, purpose, result_type in items:
        try:
            compiled(source, purpose, result_type)
        except SchemaError as exc:
            raise SchemaError(f"{definition['name']}.{name}: {str(exc)[0].lower()}{str(exc)[1:]}") from None


def has_formulas(definition: dict[str, Any]) -> bool:
    return bool(definition.get("computed") or definition.get("validations")) or any(
        f.get("validate") for f in live_fields(definition)
    )


def plain(value: Any) -> Any:
    """A DuckDB value as the JSON-like value formulas see (decimals as numbers, dates as ISO text)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def refresh_needed(store: Store, dataset_id: str, definition: dict[str, Any]) -> bool:
    """Whether a change to this resource's records can change any derived column (its own formulas, or
    formulas elsewhere in the dataset that read records through ref()); callers skip collecting ids if not."""
    if has_formulas(definition):
        return True
    return any(
        not other.get("removed") and other["key"] != definition["key"] and has_formulas(other)
        for other in store.definitions(dataset_id)
    )


def refresh(
    store: Store, dataset_id: str, definition: dict[str, Any], record_ids: Iterable[str] | None
) -> None:
    """Recompute derived columns for the given records (None: all) and for records that read them via ref()."""
    ids = None if record_ids is None else sorted(set(record_ids))
    if ids is not None and not ids:
        return
    if has_formulas(definition):
        _refresh_table(
            store, dataset_id, definition, None if ids is None or len(ids) > _FULL_THRESHOLD else ids
        )
    for other in store.definitions(dataset_id):
        if other.get("removed") or other["key"] == definition["key"] or not has_formulas(other):
            continue
        computed, checks = _formulas(other)
        if not any(f.reads_refs for _, f in [*computed, *checks]):
            continue
        ref_fields = [
            f
            for f in live_fields(other)
            if f["type"] in ("reference", "references") and f["target"] == definition["name"]
        ]
        if not ref_fields:
            continue
        _refresh_table(store, dataset_id, other, _referrers(store, dataset_id, other, ref_fields, ids))


def _referrers(store: Store, dataset_id: str, definition: dict[str, Any], ref_fields: list[dict[str, Any]],
               ids: list[str] | None) -> list[str] | None:  # fmt: skip
    if ids is None:
        return None
    tbl = q(table_name(dataset_id, definition["key"]))
    conds = []
    for f in ref_fields:
        col = q(f["key"])
        conds.append(
            f"list_has_any({col}, $1::VARCHAR[])"
            if f["type"] == "references"
            else f"{col} IN (SELECT unnest($1::VARCHAR[]))"
        )
    rows = store.con.execute(f"SELECT _id FROM {tbl} WHERE {' OR '.join(conds)}", [ids]).fetchall()
    return [r[0] for r in rows]


def _refresh_table(store: Store, dataset_id: str, definition: dict[str, Any], ids: list[str] | None) -> None:
    if ids is not None and not ids:
        return
    computed, checks = _formulas(definition)
    tbl = q(table_name(dataset_id, definition["key"]))
    fields = _fields_read(definition, [f for _, f in [*computed, *checks]])
    cols = ", ".join(["_id", *(_as_formula_input(f) for f in fields)])
    # A short literal id list lets DuckDB skip row groups by their min/max; a subquery scans the whole table.
    few = ids is not None and len(ids) <= 64
    params: list[Any]
    if ids is None:
        where, params = "", []
    elif few:
        where, params = f" WHERE _id IN ({', '.join('?' * len(ids))})", list(ids)
    else:
        where, params = " WHERE _id IN (SELECT unnest($1::VARCHAR[]))", [ids]
    rows = store.con.execute(f"SELECT {cols} FROM {tbl}{where}", params).fetchall()
    if not rows:
        return
    as_columns = list(zip(*rows, strict=True))
    record_ids = as_columns[0]
    columns = {f["name"]: list(as_columns[i + 1]) for i, f in enumerate(fields)}
    refs = refs_for(store, dataset_id, definition, columns, [*computed, *checks])
    results, errors, invalid = evaluate(store.formulas, computed, checks, columns, len(rows), refs)
    out_cols = [key for key, _ in computed]
    values = [
        (*(results[k][i] for k in out_cols), errors[i], invalid[i], rid) for i, rid in enumerate(record_ids)
    ]
    if few:
        # A few rows: keyed single-row updates skip row groups by id; a join would scan the whole table.
        sets = ", ".join(f"{q(k)} = ?" for k in [*out_cols, "_errors", "_invalid"])
        for row in values:
            store.con.execute(f"UPDATE {tbl} SET {sets} WHERE _id = ?", list(row))
        return
    store.con.execute(
        "CREATE OR REPLACE TEMP TABLE _derived ("
        + "".join(f"{q(k)} {RESULT_COLUMN_TYPES[_type_of(definition, k)]}, " for k in out_cols)
        + "_errors VARCHAR, _invalid VARCHAR, _id VARCHAR)"
    )
    appender = store.con.appender("_derived")
    appender.append_rows(values)
    appender.flush()
    sets = ", ".join(f"{q(k)} = d.{q(k)}" for k in [*out_cols, "_errors", "_invalid"])
    store.con.execute(f"UPDATE {tbl} SET {sets} FROM _derived d WHERE {tbl}._id = d._id")
    store.con.execute("DROP TABLE _derived")


def _fields_read(definition: dict[str, Any], formulas: list[CompiledFormula]) -> list[dict[str, Any]]:
    """The stored fields the formulas read (all of them when one may read any field)."""
    fields = live_fields(definition)
    if any(f.reads_all_fields for f in formulas):
        return fields
    wanted = set().union(*(f.fields_read for f in formulas)) if formulas else set()
    # Reference fields are always fetched: ref() takes ids from them.
    return [f for f in fields if f["name"] in wanted or f["type"] in ("reference", "references")]


def _as_formula_input(field: dict[str, Any]) -> str:
    """SQL that reads a column as formulas see it, so no per-value conversion happens in Python."""
    col = q(field["key"])
    if field["type"] == "decimal":
        return f"{col}::DOUBLE"
    if field["type"] == "date":
        return f"strftime({col}, '%Y-%m-%d')"
    if field["type"] == "datetime":
        return f"strftime({col}, '%Y-%m-%dT%H:%M:%S')"
    return col


def _type_of(definition: dict[str, Any], key: str) -> str:
    return str(next(c["type"] for c in definition["computed"] if c["key"] == key))


def evaluate(
    runtime: FormulaRuntime, computed: Sequence[tuple[str, CompiledFormula]], checks: Sequence[tuple[str, CompiledFormula]],
    columns: dict[str, list[Any]], count: int, refs: dict[str, dict[str, Any]] | None,
) -> tuple[dict[str, list[Any]], list[str | None], list[str | None]]:  # fmt: skip
    """Computed values (None where a formula failed), per-record error JSON and validation messages."""
    from formulas import FormulaError

    results: dict[str, list[Any]] = {}
    errs: list[dict[str, str]] = [{} for _ in range(count)]
    for key, formula in computed:
        values = runtime.evaluate_columns(formula, columns, count, refs)
        column: list[Any] = []
        for i, v in enumerate(values):
            if isinstance(v, FormulaError):
                errs[i][key] = v.message
                column.append(None)
            else:
                column.append(_to_column(formula.result_type, v))
        # Computed values are visible to validations under their names.
        columns = {**columns, key: column}
        results[key] = column
    messages: list[list[str]] = [[] for _ in range(count)]
    for _name, formula in checks:
        for i, v in enumerate(runtime.evaluate_columns(formula, columns, count, refs)):
            if isinstance(v, FormulaError):
                messages[i].append(v.message)
            elif v is not True:
                messages[i].append(str(v))
    errors = [json.dumps(e, ensure_ascii=False) if e else None for e in errs]
    invalid = ["; ".join(m) if m else None for m in messages]
    return results, errors, invalid


def _to_column(result_type: str, value: Any) -> Any:
    if value is None:
        return None
    if result_type == "date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if result_type == "datetime" and isinstance(value, str):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    if result_type in ("string", "text") and not isinstance(value, str):
        return str(value)
    return value


def refs_for(store: Store, dataset_id: str, definition: dict[str, Any], columns: dict[str, list[Any]],
          formulas: Sequence[tuple[str, CompiledFormula]]) -> dict[str, dict[str, Any]] | None:  # fmt: skip
    """The records this batch references, one hop, as {id: {field name: value}} for the ref() helper."""
    if not any(f.reads_refs for _, f in formulas):
        return None
    refs: dict[str, dict[str, Any]] = {}
    by_name = {d["name"]: d for d in store.definitions(dataset_id) if not d.get("removed")}
    for f in live_fields(definition):
        if f["type"] not in ("reference", "references") or f["target"] not in by_name:
            continue
        wanted = sorted({v for x in columns[f["name"]] if x for v in (x if isinstance(x, list) else [x])})
        if not wanted:
            continue
        target = by_name[f["target"]]
        tfields = live_fields(target)
        tcols = ", ".join(
            ["_id", *(q(t["key"]) for t in tfields), *(q(c["key"]) for c in target.get("computed", []))]
        )
        rows = store.con.execute(
            f"SELECT {tcols} FROM {q(table_name(dataset_id, target['key']))} WHERE _id IN (SELECT unnest(?::VARCHAR[]))",
            [wanted],
        ).fetchall()
        names = [t["name"] for t in tfields] + [c["name"] for c in target.get("computed", [])]
        for r in rows:
            refs[r[0]] = {n: plain(v) for n, v in zip(names, r[1:], strict=True)}
    return refs


def check_record(store: Store, dataset_id: str, definition: dict[str, Any], record: dict[str, Any]) -> None:
    """Refuse a local write whose record fails a validation, with the validation's own message."""
    computed, checks = _formulas(definition)
    if not checks:
        return
    columns = {k: [plain(v)] for k, v in record.items()}
    refs = refs_for(store, dataset_id, definition, columns, [*computed, *checks])
    _, _, invalid = evaluate(store.formulas, computed, checks, columns, 1, refs)
    if invalid[0]:
        raise ValidationError(f"{definition['name']}: {invalid[0].removeprefix('#ERR ')}")


def default_values(
    store: Store, dataset_id: str, definition: dict[str, Any], record: dict[str, Any]
) -> dict[str, Any]:
    """Values of fields with a `default_formula` that the new record does not set."""
    out: dict[str, Any] = {}
    for f in live_fields(definition):
        if not f.get("default_formula") or record.get(f["name"]) is not None:
            continue
        formula = compiled(f["default_formula"], "default", _result_type(f["type"]))
        value = store.formulas.evaluate(formula, [{k: plain(v) for k, v in record.items()}])[0]
        from formulas import FormulaError

        if isinstance(value, FormulaError):
            raise ValidationError(
                f"{definition['name']}.{f['name']}: its default formula failed: {value.message}"
            )
        out[f["name"]] = value
    return out


def _result_type(field_type: str) -> str:
    return field_type if field_type in RESULT_COLUMN_TYPES else "string"
