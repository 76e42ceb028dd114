"""Time, memory and stack limits: a runaway formula yields an error value, never a crash or a hang,
and the records after it still compute."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import quickjs

from formulas import FormulaError, FormulaRuntime, Limits, compile_formula
from formulas.batch import BatchRun
from formulas.columns import encode_columns
from formulas.error_messages import ErrorMessages
from formulas.sandbox import Runner, RunnerKey, Sandbox

FAST_TIMEOUT = Limits(time_ms_per_record=20)


@pytest.fixture(scope="module")
def runtime() -> Iterator[FormulaRuntime]:
    runtime = FormulaRuntime(FAST_TIMEOUT)
    yield runtime
    runtime.close()


def runaway_on_one(body: str) -> str:
    """A module that misbehaves for record n == 1 and doubles n otherwise."""
    return f"export function compute(record) {{ if (record.n === 1) {{ {body} }} return record.n * 2 }}"


RECORDS = [{"n": 0}, {"n": 1}, {"n": 2}]


def test_endless_loop_yields_error_and_next_record_still_computes(runtime: FormulaRuntime) -> None:
    results = runtime.evaluate(compile_formula(runaway_on_one("while (true) {}")), RECORDS)
    assert results == [0, FormulaError("#ERR formula ran longer than 20 ms"), 4]


def test_catching_the_interrupt_cannot_keep_a_formula_running(runtime: FormulaRuntime) -> None:
    body = "while (true) { try { while (true) {} } catch (e) {} }"
    results = runtime.evaluate(compile_formula(runaway_on_one(body)), RECORDS)
    assert results == [0, FormulaError("#ERR formula ran longer than 20 ms"), 4]


def test_memory_bomb_yields_error_and_next_record_still_computes(runtime: FormulaRuntime) -> None:
    body = "let a = []; while (true) a.push(new Array(1e6).fill(0))"
    results = runtime.evaluate(compile_formula(runaway_on_one(body)), RECORDS)
    assert results == [0, FormulaError("#ERR formula used more than 32 MB of memory"), 4]


def test_sparse_array_bomb_is_stopped_by_one_limit_or_the_other(runtime: FormulaRuntime) -> None:
    body = "let a = []; while (true) a.push(new Array(1e6))"
    [first, runaway, after] = runtime.evaluate(compile_formula(runaway_on_one(body)), RECORDS)
    assert (first, after) == (0, 4)
    assert runaway in (
        FormulaError("#ERR formula ran longer than 20 ms"),
        FormulaError("#ERR formula used more than 32 MB of memory"),
    )


def test_catching_out_of_memory_does_not_escape_the_limits() -> None:
    # QuickJS polls for interrupts every ~10,000 operations; with a small memory budget each
    # fill-up-and-catch cycle is cheap, so the poll comes soon enough for a quick test.
    runtime = FormulaRuntime(Limits(time_ms_per_record=20, memory_bytes=2 * 1024 * 1024))
    try:
        body = "let s = 'x'; while (true) { try { s += s } catch (e) { s = 'x' } }"
        results = runtime.evaluate(compile_formula(runaway_on_one(body)), RECORDS)
    finally:
        runtime.close()
    assert results == [0, FormulaError("#ERR formula ran longer than 20 ms"), 4]


def test_deep_recursion_yields_error_and_next_record_still_computes(runtime: FormulaRuntime) -> None:
    body = "const down = (k) => down(k + 1) + 1; return down(0)"
    results = runtime.evaluate(compile_formula(runaway_on_one(body)), RECORDS)
    assert results == [0, FormulaError("#ERR formula recursed too deeply (more than 256 KB of stack)"), 4]


def test_an_error_thrown_by_a_getter_that_never_ends_is_still_a_timeout(runtime: FormulaRuntime) -> None:
    body = "throw { get message() { while (true) {} }, __proto__: Error.prototype }"
    results = runtime.evaluate(compile_formula(runaway_on_one(body)), RECORDS)
    assert results == [0, FormulaError("#ERR formula ran longer than 20 ms"), 4]


def test_endless_loop_over_a_large_batch_stops_after_a_few_records(runtime: FormulaRuntime) -> None:
    count = 100_000
    formula = compile_formula("(() => { while (true) {} })()")
    started = time.monotonic()
    results = runtime.evaluate_columns(formula, {}, count)
    assert time.monotonic() - started < 2.0
    timeout = FormulaError("#ERR formula ran longer than 20 ms")
    stopped = FormulaError("#ERR formula stopped: it ran out of time on earlier records")
    assert results[:3] == [timeout] * 3
    assert results[3:] == [stopped] * (count - 3)


def test_memory_bombs_over_a_large_batch_stop_after_a_few_records(runtime: FormulaRuntime) -> None:
    count = 50_000
    formula = compile_formula("(() => { let s = 'x'; while (true) s += s })()")
    started = time.monotonic()
    results = runtime.evaluate_columns(formula, {}, count)
    assert time.monotonic() - started < 2.0
    assert results[3] == FormulaError("#ERR formula stopped: it ran out of memory on earlier records")
    assert results[-1] == results[3]


def test_a_few_runaway_records_do_not_stop_the_rest_of_the_batch(runtime: FormulaRuntime) -> None:
    formula = compile_formula("(() => { if (record.n % 10 === 5) while (true) {} return record.n })()")
    results = runtime.evaluate_columns(formula, {"n": list(range(60))}, 60)
    timeouts = [n for n, result in enumerate(results) if isinstance(result, FormulaError)]
    assert timeouts == [5, 15, 25, 35, 45, 55]
    assert all(results[n] == n for n in range(60) if n not in timeouts)


def test_records_that_are_slow_together_but_fast_alone_are_not_timed_out() -> None:
    # Each record burns a few milliseconds; forty of them far exceed one record's budget.
    formula = compile_formula(
        "(() => { let x = 0; for (let i = 0; i < 150000; i++) x = (x + i) % 7; return record.n })()"
    )
    runtime = FormulaRuntime(Limits(time_ms_per_record=50))
    try:
        started = time.process_time()
        results = runtime.evaluate_columns(formula, {"n": list(range(40))}, 40)
        assert time.process_time() - started > 0.05  # the batch as a whole ran past one budget
    finally:
        runtime.close()
    assert results == list(range(40))


def test_a_built_in_that_cannot_be_interrupted_is_abandoned_and_the_runtime_recovers() -> None:
    # QuickJS cannot interrupt a backtracking regular expression; this one takes a second or so.
    runtime = FormulaRuntime(Limits(wall_clock_stop_ms=100))
    try:
        hung = compile_formula("/(a+)+b/.test(record.s)")
        started = time.monotonic()
        results = runtime.evaluate(hung, [{"s": "aab"}] * 5000 + [{"s": "a" * 23 + "c"}])
        assert time.monotonic() - started < 1.0
        stopped = FormulaError("#ERR formula stopped: it ran out of time and could not be interrupted")
        assert results[0] is True  # the first chunk finished before the stuck one
        assert results[4096:] == [stopped] * (5001 - 4096)
        assert runtime.evaluate(hung, [{"s": "ab"}]) == [stopped]  # not run again in this runtime
        assert runtime.evaluate(compile_formula("record.s.length"), [{"s": "ab"}]) == [2]
    finally:
        runtime.close()


def test_out_of_memory_outside_the_formula_rebuilds_the_sandbox_and_redoes_the_chunk() -> None:
    # Formula code cannot provoke such a failure (the runner catches its errors), so one is injected.
    sandboxes = _OneBrokenRun()
    formula = compile_formula("record.n * 2")
    columns = encode_columns({"n": [0, 1, 2]}, 3, formula.fields_read, formula.reads_all_fields)
    limits = Limits()
    job = BatchRun(formula, columns, 3, None, limits, ErrorMessages(limits))
    job.execute(sandboxes)
    assert job.error is None
    assert sandboxes.rebuilt
    assert job.results == [0, FormulaError("#ERR formula used more than 32 MB of memory"), 4]


class _OneBrokenRun:
    """Sandboxes whose first one fails its first run at record 1, as QuickJS reports running out of memory."""

    def __init__(self) -> None:
        self._sandbox: Sandbox = _SandboxFailingOnce(Limits())
        self.rebuilt = False

    def current(self) -> Sandbox:
        return self._sandbox

    def rebuild(self) -> Sandbox:
        self.rebuilt = True
        self._sandbox = Sandbox(Limits())
        return self._sandbox


class _SandboxFailingOnce(Sandbox):
    def runner(self, key: RunnerKey) -> Runner:
        runner = super().runner(key)
        real_run = runner.run

        def run_then_fail(start: int, end: int) -> int:
            real_run(start, start + 1)
            runner.position = lambda: start + 1
            raise quickjs.JSException("null\n")

        runner.run = run_then_fail
        return runner


def test_memory_a_formula_leaves_behind_is_dropped_before_it_piles_up() -> None:
    # Pending promise jobs are never run, so what they hold stays in the context after the batch.
    limits = Limits(memory_bytes=4 * 1024 * 1024)
    sandboxes = _CountingRebuilds(limits)
    leaky = compile_formula(
        "(() => { const big = new Array(1e5).fill(1); Promise.resolve().then(() => big.length); return 1 })()"
    )
    columns = encode_columns({}, 3, leaky.fields_read, leaky.reads_all_fields)
    for _ in range(4):
        BatchRun(leaky, columns, 3, None, limits, ErrorMessages(limits)).execute(sandboxes)
    assert sandboxes.rebuilds >= 1
    assert sandboxes.current().memory_in_use() < 3 * limits.memory_bytes


class _CountingRebuilds:
    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._sandbox = Sandbox(limits)
        self.rebuilds = 0

    def current(self) -> Sandbox:
        return self._sandbox

    def rebuild(self) -> Sandbox:
        self.rebuilds += 1
        self._sandbox = Sandbox(self._limits)
        return self._sandbox


def test_heavy_records_that_quickjs_rarely_interrupts_are_not_mistaken_for_stuck() -> None:
    # Each record sorts in C for a few milliseconds with hardly any JS steps, so QuickJS seldom
    # checks its clock; one long run of them would outlast the wall-clock stop.
    runtime = FormulaRuntime(Limits(wall_clock_stop_ms=300))
    try:
        formula = compile_formula("new Array(3e4).fill(1).sort().length + record.n")
        started = time.process_time()
        results = runtime.evaluate_columns(formula, {"n": list(range(50))}, 50)
        assert time.process_time() - started > 0.2
    finally:
        runtime.close()
    assert results == [30_000 + n for n in range(50)]
