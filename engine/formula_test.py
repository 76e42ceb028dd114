"""`kobold formula test`: evaluate one stored formula against records and show values or errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine import computed, datasets, query
from engine.errors import NotFound

if TYPE_CHECKING:
    from engine.store import Store


def run(
    store: Store, dataset_id: str, resource: str, name: str, record_id: str | None, limit: int
) -> list[dict[str, Any]]:
    """Results per record: {"record", "value"} or {"record", "error"}."""
    from formulas import FormulaError

    res = datasets.resource(store, dataset_id, resource)
    definition = res.definition
    formula = None
    for c in definition.get("computed", []):
        if c["name"] == name:
            formula = computed.compiled(c["formula"], "compute", c["type"])
    for v in definition.get("validations", []):
        if v["name"] == name:
            formula = computed.compiled(v["formula"], "validate", "any")
    for f in res.fields:
        if f["name"] == name and f.get("validate"):
            formula = computed.compiled(f["validate"], "validate", "any")
    if formula is None:
        raise NotFound(f"{res.name} has no computed field or validation called {name!r}.")
    page = query.page(store, dataset_id, query.Query(res.key), 0, limit)
    rows = [
        r
        for r in page.as_dicts()
        if record_id is None or r["_id"] == record_id or r["_id"].startswith(record_id)
    ]
    if record_id is not None and not rows:
        from engine.records import get_record

        rows = [{k: query.jsonable(v) for k, v in get_record(store, dataset_id, res.key, record_id).items()}]
    fields = [f["name"] for f in res.fields]
    columns = {n: [computed.plain(_decimal(res, n, r.get(n))) for r in rows] for n in fields}
    refs = computed.refs_for(store, dataset_id, definition, columns, [("", formula)])
    values = store.formulas.evaluate_columns(formula, columns, len(rows), refs)
    return [
        {"record": r["_id"], "error": v.message}
        if isinstance(v, FormulaError)
        else {"record": r["_id"], "value": v}
        for r, v in zip(rows, values, strict=True)
    ]


def _decimal(res: Any, name: str, value: Any) -> Any:
    field = next(f for f in res.fields if f["name"] == name)
    return float(value) if field["type"] == "decimal" and value is not None else value
