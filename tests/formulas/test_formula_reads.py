"""What a compiled formula says it reads, and that evaluation honours it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from formulas import FormulaRuntime, compile_formula


@pytest.fixture(scope="module")
def runtime() -> Iterator[FormulaRuntime]:
    runtime = FormulaRuntime()
    yield runtime
    runtime.close()


@pytest.mark.parametrize(
    ("source", "fields"),
    [
        ("record.a + record['b c'] + record?.d + record?.['e']", {"a", "b c", "d", "e"}),
        ("${record.species} · ${record.variety_name}", {"species", "variety_name"}),
        ("export function compute(row) { return row.x + row.y.length }", {"x", "y"}),
        ("ref(record.variety).name", {"variety"}),
        # A parameter shadowing `record` is counted too: reporting extra fields is safe, missing one is not.
        ("record.list.map(record => record.x)", {"list", "x"}),
    ],
)
def test_fields_read_lists_the_record_fields_named_in_the_source(source: str, fields: set[str]) -> None:
    formula = compile_formula(source)
    assert formula.fields_read == frozenset(fields)
    assert not formula.reads_all_fields


@pytest.mark.parametrize(
    "source",
    [
        "record[name]",
        "Object.keys(record).length",
        "JSON.stringify(record)",
        "record.hasOwnProperty('a')",
        "function f(r) { return r.a } export function compute(record) { return f(record) }",
        "eval('record.a')",
    ],
)
def test_any_other_use_of_the_record_reads_all_fields(source: str) -> None:
    assert compile_formula(source).reads_all_fields


def test_reads_refs_only_when_ref_is_used() -> None:
    assert compile_formula("ref(record.v)").reads_refs
    assert not compile_formula("record.v").reads_refs


def test_a_formula_reading_all_fields_sees_every_column_passed(runtime: FormulaRuntime) -> None:
    formula = compile_formula("Object.keys(record).sort().join(',')")
    columns = {"b": [1], "a": [2], "c": [3]}
    assert runtime.evaluate_columns(formula, columns, 1) == ["a,b,c"]
    assert runtime.evaluate(formula, [{"b": 1, "a": 2, "c": 3}]) == ["a,b,c"]


def test_a_field_the_formula_reads_but_that_is_not_passed_reads_as_null(runtime: FormulaRuntime) -> None:
    formula = compile_formula("[record.a, record.missing]")
    assert runtime.evaluate_columns(formula, {"a": [1], "unused": [[1, 2]]}, 1) == [[1, None]]
    assert runtime.evaluate(formula, [{"a": 1}]) == [[1, None]]


def test_evaluate_and_evaluate_columns_agree(runtime: FormulaRuntime) -> None:
    formula = compile_formula("record.a * 2 + (record.b || 0)")
    records: list[dict[str, Any]] = [{"a": 1, "b": 2}, {"a": 3}, {"a": 5, "b": None}]
    by_rows = runtime.evaluate(formula, records)
    by_columns = runtime.evaluate_columns(formula, {"a": [1, 3, 5], "b": [2, None, None]}, 3)
    assert by_rows == by_columns == [4, 6, 10]


def test_a_column_of_the_wrong_length_is_rejected(runtime: FormulaRuntime) -> None:
    formula = compile_formula("record.a")
    with pytest.raises(ValueError, match="has 2 values, expected 3"):
        runtime.evaluate_columns(formula, {"a": [1, 2]}, 3)


def test_an_input_that_is_not_json_like_is_rejected(runtime: FormulaRuntime) -> None:
    formula = compile_formula("record.a")
    with pytest.raises(TypeError, match="JSON-like"):
        runtime.evaluate(formula, [{"a": object()}])


def test_a_field_named_proto_is_an_ordinary_field(runtime: FormulaRuntime) -> None:
    formula = compile_formula("record['__proto__'] + Object.getPrototypeOf(record).hasOwnProperty('x')")
    assert runtime.evaluate(formula, [{"__proto__": "p"}]) == ["pfalse"]
