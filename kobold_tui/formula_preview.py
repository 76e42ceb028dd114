"""Previewing a formula on records through the store's own formula runtime (`store.formulas`).

The runtime belongs to the engine and is closed with the store; nothing here keeps a sandbox of its own.
Plain functions (no Textual): screens call them from workers holding `store.lock`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine import computed
from engine.projection import live_fields

if TYPE_CHECKING:
    from engine.store import Store


def evaluate(
    store: Store, source: str, records: Sequence[Mapping[str, Any]], *, purpose: str = "compute",
    result_type: str = "any", dataset_id: str | None = None, definition: dict[str, Any] | None = None,
) -> list[str]:  # fmt: skip
    """Each record's result as text, or its "#ERR …" message; a formula that does not compile gives its
    syntax error for every record. Records hold values by field name; decimals may be text.
    With `dataset_id` and `definition`, `ref()` reads the referenced records as the engine does.
    Call with `store.lock` held when off the main thread."""
    from formulas import FormulaError, FormulaSyntaxError, compile_formula

    try:
        formula = compile_formula(source, purpose=purpose, result_type=result_type)  # type: ignore[arg-type]
    except (FormulaSyntaxError, ValueError) as exc:
        return [f"#ERR {exc}"] * max(len(records), 1)
    if not records:
        return []
    fields = live_fields(definition) if definition else []
    plain = [_plain_record(r, fields) for r in records]
    refs = None
    if formula.reads_refs and dataset_id and definition:
        columns = {f["name"]: [r.get(f["name"]) for r in plain] for f in fields}
        refs = computed.refs_for(store, dataset_id, definition, columns, [("", formula)])
    results = store.formulas.evaluate(formula, plain, refs)
    return [v.message if isinstance(v, FormulaError) else show(v) for v in results]


def show(value: Any) -> str:
    """A formula's value as text."""
    if value is None:
        return "∅"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _plain_record(record: Mapping[str, Any], fields: list[dict[str, Any]]) -> dict[str, Any]:
    """Values as formulas see them in the engine: decimals as numbers, dates as ISO text."""
    decimals = {f["name"] for f in fields if f["type"] == "decimal"}
    out: dict[str, Any] = {}
    for name, value in record.items():
        if name in decimals and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        out[name] = computed.plain(value)
    return out
