"""The three source forms, how they are told apart, and the syntax errors users see."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from formulas import FormulaError, FormulaRuntime, FormulaSyntaxError, compile_formula


@pytest.fixture(scope="module")
def runtime() -> Iterator[FormulaRuntime]:
    runtime = FormulaRuntime()
    yield runtime
    runtime.close()


def test_template_joins_fields_and_shows_an_empty_field_as_nothing(runtime: FormulaRuntime) -> None:
    formula = compile_formula("${record.species} · ${record.variety_name}")
    records: list[dict[str, Any]] = [
        {"species": "Tomato", "variety_name": "Roma"},
        {"species": "Bean", "variety_name": None},
    ]
    assert formula.form == "template"
    assert runtime.evaluate(formula, records) == ["Tomato · Roma", "Bean · "]


def test_template_keeps_backticks_backslashes_and_lone_dollars_as_written(runtime: FormulaRuntime) -> None:
    formula = compile_formula("C:\\seeds\\${record.a} `quoted` costs $5 {not code}")
    assert runtime.evaluate(formula, [{"a": "x"}]) == ["C:\\seeds\\x `quoted` costs $5 {not code}"]


def test_template_hole_may_hold_nested_templates_and_braces(runtime: FormulaRuntime) -> None:
    formula = compile_formula("[${ `${record.a}-${ {k: record.b}.k }` }]")
    assert runtime.evaluate(formula, [{"a": 1, "b": 2}]) == ["[1-2]"]


def test_module_with_helper_functions_computes_and_null_means_empty(runtime: FormulaRuntime) -> None:
    source = """
function share(part, whole) { return part / whole }
export function compute(record) {
  if (record.total === 0) return null
  return share(record.sprouted, record.total)
}
"""
    formula = compile_formula(source, result_type="decimal")
    assert formula.form == "module"
    results = runtime.evaluate(formula, [{"sprouted": 3, "total": 4}, {"sprouted": 1, "total": 0}])
    assert results == [0.75, None]


def test_module_with_top_level_state_starts_afresh_for_every_record(runtime: FormulaRuntime) -> None:
    formula = compile_formula("let calls = 0\nexport function compute(record) { calls += 1; return calls }")
    assert runtime.evaluate(formula, [{}, {}, {}]) == [1, 1, 1]


def test_module_may_name_the_record_parameter_anything(runtime: FormulaRuntime) -> None:
    formula = compile_formula("export const compute = (r) => r.a * 2")
    assert formula.fields_read == frozenset({"a"})
    assert runtime.evaluate(formula, [{"a": 21}]) == [42]


def test_expression_validation_returns_true_or_the_message(runtime: FormulaRuntime) -> None:
    formula = compile_formula(
        'record.germination_days >= 0 || "germination days cannot be negative"', purpose="validate"
    )
    assert formula.form == "expression"
    results = runtime.evaluate(formula, [{"germination_days": 3}, {"germination_days": -1}])
    assert results == [True, "germination days cannot be negative"]


@pytest.mark.parametrize(
    ("source", "form"),
    [
        ("record.a + 1", "expression"),
        ("`${record.a}` + record.b", "expression"),
        ("N/A", "expression"),
        ("Total: ${record.a}", "template"),
        ("function compute(record) { return 1 }", "module"),
        ("export function compute(record) { return 1 }", "module"),
    ],
)
def test_form_is_detected_module_then_expression_then_template(source: str, form: str) -> None:
    assert compile_formula(source).form == form


def test_plain_text_is_a_syntax_error_that_suggests_quotes() -> None:
    with pytest.raises(FormulaSyntaxError) as caught:
        compile_formula("seed bank")
    assert (caught.value.line, caught.value.column) == (1, 6)
    assert "quotes" in str(caught.value)


def test_syntax_error_names_line_and_column_in_one_sentence() -> None:
    with pytest.raises(FormulaSyntaxError) as caught:
        compile_formula("export function compute(record) {\n  return record.a +;\n}")
    error = caught.value
    assert (error.line, error.column) == (2, 20)
    assert str(error) == "Syntax error at line 2, column 20: unexpected token in expression: ';'."


def test_error_inside_a_template_hole_points_into_the_template() -> None:
    with pytest.raises(FormulaSyntaxError) as caught:
        compile_formula("Name: ${record.a}\nNext: ${record.b record.c}")
    assert (caught.value.line, caught.value.column) == (2, 18)


def test_incomplete_formula_says_it_ends_too_early() -> None:
    with pytest.raises(FormulaSyntaxError, match="ends before it is complete") as caught:
        compile_formula("record.a +")
    assert (caught.value.line, caught.value.column) == (1, 11)


@pytest.mark.parametrize(
    "source",
    [
        "import fs from 'fs'\nexport function compute(record) { return 1 }",
        "import('fs')",
        "${import('fs')}",
    ],
)
def test_import_is_a_syntax_error(source: str) -> None:
    with pytest.raises(FormulaSyntaxError, match="import is not available"):
        compile_formula(source)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "the formula is empty"),
        ("Total: ${record.a", "never closed"),
        ("Total: ${}", "nothing inside"),
        ("export function total(record) { return 1 }", "must define compute"),
        ("record.a) + (record.b", "no matching"),
        ("'unclosed", "never closed"),
    ],
)
def test_malformed_sources_are_syntax_errors(source: str, message: str) -> None:
    with pytest.raises(FormulaSyntaxError, match=message):
        compile_formula(source)


def test_unknown_purpose_or_result_type_is_rejected() -> None:
    with pytest.raises(ValueError, match="purpose"):
        compile_formula("1", purpose="display")
    with pytest.raises(ValueError, match="result_type"):
        compile_formula("1", result_type="money")  # type: ignore[arg-type]


def test_runtime_error_is_a_value_naming_the_javascript_error(runtime: FormulaRuntime) -> None:
    formula = compile_formula("record.a.b")
    assert runtime.evaluate(formula, [{"a": None}]) == [
        FormulaError("#ERR TypeError: cannot read property 'b' of null")
    ]
