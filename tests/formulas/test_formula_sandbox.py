"""The sandbox: nothing but the record and ref() is reachable, results are deterministic,
inputs cannot be changed, and no state carries from one record to the next."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import quickjs

from formulas import FormulaError, FormulaRuntime, compile_formula


@pytest.fixture(scope="module")
def runtime() -> Iterator[FormulaRuntime]:
    runtime = FormulaRuntime()
    yield runtime
    runtime.close()


def test_no_host_functions_io_timers_or_modules_are_reachable(runtime: FormulaRuntime) -> None:
    names = ["require", "process", "setTimeout", "setInterval", "print", "std", "os", "fetch", "__date_clock"]
    formula = compile_formula(f"{names!r}.map(name => typeof globalThis[name]).join(',')")
    assert runtime.evaluate(formula, [{}]) == [",".join(["undefined"] * len(names))]


def test_math_random_is_unavailable_with_a_clear_message(runtime: FormulaRuntime) -> None:
    [result] = runtime.evaluate(compile_formula("Math.random()"), [{}])
    assert isinstance(result, FormulaError)
    assert "Math.random is not available in formulas" in result.message


@pytest.mark.parametrize("source", ["Date.now()", "new Date()", "Date()"])
def test_reading_the_clock_is_unavailable(runtime: FormulaRuntime, source: str) -> None:
    [result] = runtime.evaluate(compile_formula(source), [{}])
    assert isinstance(result, FormulaError)
    assert "current date and time are not available" in result.message


def test_dates_from_values_work_and_ignore_the_machine_time_zone(
    runtime: FormulaRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        # Proof that the zone took effect: plain QuickJS now answers in Tokyo time.
        assert quickjs.Context().eval("new Date(2024, 0, 2).getTimezoneOffset()") == -540
        formula = compile_formula(
            "[new Date('2024-01-02T23:30').getDate(), new Date(2024, 0, 2).getHours(),"
            " String(new Date('2024-01-02')), new Date(record.day).getDay()]"
        )
        results = runtime.evaluate(formula, [{"day": "2024-01-07"}])
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert results == [[2, 0, "Tue Jan 02 2024 00:00:00 GMT+0000", 0]]


def test_same_inputs_give_the_same_outputs_in_any_batch_order(runtime: FormulaRuntime) -> None:
    formula = compile_formula(
        "export function compute(r) { const seen = []; seen.push(r.n); "
        "return JSON.stringify(seen) + [3, 1, 2].sort().join('') + (1 / 3).toFixed(5) }"
    )
    records = [{"n": n} for n in range(5)]
    forward = runtime.evaluate(formula, records)
    backward = runtime.evaluate(formula, list(reversed(records)))
    alone = [runtime.evaluate(formula, [record])[0] for record in records]
    assert forward == list(reversed(backward)) == alone
    assert forward[0] == "[0]1230.33333"


@pytest.mark.parametrize(
    "source",
    [
        "globalThis.count = (globalThis.count || 0) + 1",
        "(() => { Object.prototype.count = (Object.prototype.count || 0) + 1; return ({}).count })()",
        "(() => { Array.prototype.total = 1; return [].total })()",
        "(() => { Math.PI = 3; return Math.PI })()",
        "(() => { ref.cache = (ref.cache || 0) + 1; return ref.cache })()",
        "(() => { const d = Object.getOwnPropertyDescriptor(record, 'n').get; d.seen = (d.seen || 0) + 1;"
        " return d.seen })()",
        "(() => { JSON.parse = () => 1; return JSON.parse('2') })()",
    ],
)
def test_no_shared_object_can_carry_state_to_the_next_record(runtime: FormulaRuntime, source: str) -> None:
    results = runtime.evaluate(compile_formula(source), [{"n": 1}, {"n": 2}])
    assert all(isinstance(result, FormulaError) for result in results)


def test_module_functions_cannot_keep_state_between_records(runtime: FormulaRuntime) -> None:
    formula = compile_formula(
        "function counter() { return 0 }\n"
        "export function compute(r) {\n"
        "  try { counter.calls = (counter.calls || 0) + 1 } catch (e) {}\n"
        "  try { counter = () => 99 } catch (e) {}\n"
        "  return counter() + (counter.calls || 0)\n"
        "}"
    )
    assert runtime.evaluate(formula, [{}, {}, {}]) == [0, 0, 0]


def test_the_record_is_read_only_and_python_data_is_untouched(runtime: FormulaRuntime) -> None:
    formula = compile_formula("(() => { record.n = 99; return record.n })()")
    records = [{"n": 1}, {"n": 2}]
    results = runtime.evaluate(formula, records)
    assert all(isinstance(result, FormulaError) for result in results)
    assert "record is read-only" in results[0].message
    assert records == [{"n": 1}, {"n": 2}]
    assert runtime.evaluate(compile_formula("record.n"), records) == [1, 2]


def test_list_fields_are_frozen_so_the_next_record_sees_its_own(runtime: FormulaRuntime) -> None:
    formula = compile_formula(
        "(() => { try { record.tags.push('x') } catch (e) {} return record.tags.join('+') })()"
    )
    records = [{"tags": ["a"]}, {"tags": ["b"]}]
    assert runtime.evaluate(formula, records) == ["a", "b"]
    assert records == [{"tags": ["a"]}, {"tags": ["b"]}]


def test_error_subclasses_may_still_set_their_own_name(runtime: FormulaRuntime) -> None:
    formula = compile_formula(
        "class Oops extends Error { constructor(m) { super(m); this.name = 'Oops' } }\n"
        "export function compute(r) { throw new Oops('late frost') }"
    )
    assert runtime.evaluate(formula, [{}]) == [FormulaError("#ERR Oops: late frost")]


def test_ref_returns_the_referenced_record_or_null(runtime: FormulaRuntime) -> None:
    formula = compile_formula("ref(record.variety)?.name ?? 'unknown'")
    refs = {"v1": {"name": "Roma", "species": "s1"}}
    records: list[dict[str, Any]] = [{"variety": "v1"}, {"variety": "v404"}, {"variety": None}]
    assert runtime.evaluate(formula, records, refs) == ["Roma", "unknown", "unknown"]


def test_ref_goes_one_hop_only(runtime: FormulaRuntime) -> None:
    formula = compile_formula("[ref(record.variety).species, ref(ref(record.variety).species)]")
    refs = {"v1": {"name": "Roma", "species": "s1"}}
    assert runtime.evaluate(formula, [{"variety": "v1"}], refs) == [["s1", None]]


def test_ref_of_a_list_of_ids_gives_a_list_of_records(runtime: FormulaRuntime) -> None:
    formula = compile_formula("ref(record.parents).map(p => p ? p.name : '?').join(' × ')")
    refs = {"a": {"name": "Roma"}, "b": {"name": "Brandywine"}}
    assert runtime.evaluate(formula, [{"parents": ["a", "b", "c"]}], refs) == ["Roma × Brandywine × ?"]


def test_referenced_records_are_frozen_and_python_refs_untouched(runtime: FormulaRuntime) -> None:
    formula = compile_formula(
        "(() => { const v = ref(record.variety); try { v.name = 'changed' } catch (e) {} return v.name })()"
    )
    refs = {"v1": {"name": "Roma"}}
    assert runtime.evaluate(formula, [{"variety": "v1"}, {"variety": "v1"}], refs) == ["Roma", "Roma"]
    assert refs == {"v1": {"name": "Roma"}}


def test_refs_of_an_earlier_batch_are_not_visible_to_the_next(runtime: FormulaRuntime) -> None:
    formula = compile_formula("ref(record.variety)")
    assert runtime.evaluate(formula, [{"variety": "v1"}], {"v1": {"name": "Roma"}}) == [{"name": "Roma"}]
    assert runtime.evaluate(formula, [{"variety": "v1"}]) == [None]


def test_formulas_package_imports_nothing_else_of_kobold_or_textual() -> None:
    code = (
        "import sys, formulas\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'textual', 'engine', 'sync', 'kobold_tui'})\n"
        "print(bad)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert output.stdout.strip() == "[]"
