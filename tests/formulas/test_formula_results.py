"""Result types, validation semantics, and values crossing between Python and JavaScript intact."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from formulas import FormulaError, FormulaRuntime, ResultType, compile_formula


@pytest.fixture(scope="module")
def runtime() -> Iterator[FormulaRuntime]:
    runtime = FormulaRuntime()
    yield runtime
    runtime.close()


def one(runtime: FormulaRuntime, source: str, result_type: ResultType = "any", **record: Any) -> Any:
    return runtime.evaluate(compile_formula(source, result_type=result_type), [record])[0]


@pytest.mark.parametrize(
    ("source", "result_type", "expected"),
    [
        ("6 / 3", "integer", 2),
        ("4", "decimal", 4.0),
        ("record.n > 1", "boolean", True),
        ("record.n * 1.5", "string", "3"),
        ("true", "text", "true"),
        ("new Date(Date.UTC(2024, 1, 29, 23))", "date", "2024-02-29"),
        ("'2024-02-29'", "date", "2024-02-29"),
        ("new Date('2024-01-02T03:04:05Z')", "datetime", "2024-01-02T03:04:05.000Z"),
        ("'2024-01-02T03:04:05+01:00'", "datetime", "2024-01-02T03:04:05+01:00"),
        ("null", "integer", None),
        ("undefined", "date", None),
        ("[record.n, {a: [true, null]}]", "any", [2, {"a": [True, None]}]),
        ("7 / 7", "any", 1),
    ],
)
def test_results_come_back_as_the_python_value_of_their_type(
    runtime: FormulaRuntime, source: str, result_type: ResultType, expected: Any
) -> None:
    result = one(runtime, source, result_type, n=2)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "result_type", "message"),
    [
        ("'12'", "decimal", "#ERR expected a number, got string"),
        ("2.5", "integer", "#ERR expected a whole number, got 2.5"),
        ("2 ** 60", "integer", "#ERR the whole number 1152921504606847000 is too large"),
        ("1", "boolean", "#ERR expected true or false, got number"),
        ("[1]", "string", "#ERR expected text, got a list"),
        ("0 / 0", "decimal", "#ERR the result is not a number (NaN)"),
        ("1 / 0", "any", "#ERR the result is infinite"),
        ("'2024-02-30'", "date", "#ERR expected a date as YYYY-MM-DD, got '2024-02-30'"),
        ("new Date('not a date')", "date", "#ERR the result is an invalid date"),
        ("'yesterday'", "datetime", "#ERR expected an ISO date and time, got 'yesterday'"),
        ("() => 1", "any", "#ERR expected a value, got function"),
    ],
)
def test_a_result_of_the_wrong_type_is_an_error_value(
    runtime: FormulaRuntime, source: str, result_type: ResultType, message: str
) -> None:
    assert one(runtime, source, result_type) == FormulaError(message)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("true", True),
        ("'too early to sow'", "too early to sow"),
        ("false", "validation failed"),
        ("null", "validation failed"),
        ("1", "validation failed"),
        ("''", "validation failed"),
    ],
)
def test_validation_gives_true_the_message_or_a_generic_failure(
    runtime: FormulaRuntime, source: str, expected: Any
) -> None:
    formula = compile_formula(source, purpose="validate", result_type="boolean")
    assert runtime.evaluate(formula, [{}]) == [expected]


def test_a_thrown_string_or_error_becomes_the_message(runtime: FormulaRuntime) -> None:
    assert one(runtime, "(() => { throw 'no seeds' })()") == FormulaError("#ERR no seeds")
    assert one(runtime, "(() => { throw new RangeError('too big') })()") == FormulaError(
        "#ERR RangeError: too big"
    )


@pytest.mark.parametrize(
    "text",
    ["plain", "naïve · ünïcode", "emoji 🌱 pair", "nul\x00inside", "sep\x01arator", "", 'quote"and\\slash'],
)
def test_text_survives_the_round_trip_exactly(runtime: FormulaRuntime, text: str) -> None:
    formula = compile_formula("record.t", result_type="string")
    records = [{"t": text}, {"t": "neighbour"}]
    assert runtime.evaluate(formula, records) == [text, "neighbour"]


def test_a_broken_surrogate_in_a_result_becomes_a_replacement_character(runtime: FormulaRuntime) -> None:
    assert one(runtime, "record.t.slice(0, 1) + '|'", "string", t="🌱") == "\ufffd|"
    assert one(runtime, "record.t + '|'", "string", t="\ud800x") == "\ufffdx|"


def test_numbers_beyond_32_bits_and_lists_cross_intact(runtime: FormulaRuntime) -> None:
    formula = compile_formula("[record.big + 1, record.ids.length, record.ids[1]]")
    assert runtime.evaluate(formula, [{"big": 2**40, "ids": ["a", "b"]}]) == [[2**40 + 1, 2, "b"]]


def test_a_batch_of_mixed_outcomes_keeps_every_result_in_its_place(runtime: FormulaRuntime) -> None:
    formula = compile_formula(
        "export function compute(r) { if (r.n === 0) return null; if (r.n < 0) throw 'negative'; "
        "return r.n % 2 ? 'odd' : r.n }"
    )
    results = runtime.evaluate(formula, [{"n": n} for n in [1, 2, 0, -1, 3, 4]])
    assert results == ["odd", 2, None, FormulaError("#ERR negative"), "odd", 4]


def test_a_large_batch_spanning_many_chunks_is_computed_in_order(runtime: FormulaRuntime) -> None:
    count = 10_000
    formula = compile_formula("record.n % 3 === 0 ? 'fizz' : record.n")
    results = runtime.evaluate_columns(formula, {"n": list(range(count))}, count)
    assert results == ["fizz" if n % 3 == 0 else n for n in range(count)]
