"""Evaluate one formula over a batch, chunk by chunk, turning every failure into an error value.

Each chunk's columns are loaded into the sandbox once, then the runner loops over the records in JS
under the per-call CPU time limit. When that limit interrupts a run part-way, the interrupted record
is run again on its own with a full budget, so only a record that overruns alone is timed out.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import quickjs

from formulas.circuit_breaker import CircuitBreaker
from formulas.columns import EncodedColumns
from formulas.compile import CompiledFormula
from formulas.error_messages import ErrorMessages
from formulas.errors import FormulaError
from formulas.limits import Limits
from formulas.result_decoding import decode_results
from formulas.sandbox import Runner, RunnerKey, Sandbox, fast_path_for

CHUNK_SIZE = 4096
_FIRST_RUN_LENGTH = 4
_RUN_TARGET_S = 0.05
_MAX_REBUILDS_PER_CHUNK = 3
_INTERRUPTED = "InternalError: interrupted"


class SandboxSource(Protocol):
    """Hands a batch the sandbox to use, and a fresh one if the current one broke."""

    def current(self) -> Sandbox: ...

    def rebuild(self) -> Sandbox: ...


class BatchAbandoned(Exception):
    """The caller gave up waiting on this batch; stop without touching its results."""


class BatchRun:
    """One evaluate() call: its inputs, its results so far, and how far it has got."""

    def __init__(
        self,
        formula: CompiledFormula,
        columns: EncodedColumns,
        count: int,
        refs_json: str | None,
        limits: Limits,
        messages: ErrorMessages,
    ) -> None:
        self._formula = formula
        self._columns = columns
        self._count = count
        self._refs_json = refs_json
        self._limits = limits
        self._messages = messages
        self._breaker = CircuitBreaker(limits)
        self._key = RunnerKey(
            formula.js_function,
            columns.names,
            columns.modes,
            columns.absent,
            "validate" if formula.purpose == "validate" else formula.result_type,
            fast_path_for(formula.purpose, formula.form, formula.result_type),
        )
        self._run_length = _FIRST_RUN_LENGTH  # records per run, adapted as runs are timed
        self._ceiling: int | None = None
        self._ceiling_sandbox: Sandbox | None = None
        self._lock = threading.Lock()
        self._abandoned = False
        self._committed = 0
        self.results: list[Any] = [None] * count
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.run_started_at: float | None = None  # monotonic time, while a formula run is in progress

    def execute(self, sandboxes: SandboxSource) -> None:
        """Evaluate every record (on the sandbox's thread); errors are kept for the caller."""
        try:
            sandbox = self._fresh_enough(sandboxes)
            sandbox.set_refs(self._refs_json)  # also clears the refs a previous batch left
            for start in range(0, self._count, CHUNK_SIZE):
                end = min(self._count, start + CHUNK_SIZE)
                if self._breaker.tripped:
                    self._commit(start, [self._messages.stopped(self._breaker.cause)] * (self._count - start))
                    break
                self._commit(start, self._evaluate_chunk(sandboxes, start, end))
        except BatchAbandoned:
            pass
        except BaseException as exc:  # handed to the caller's thread, which raises it
            self.error = exc
        finally:
            self.finished.set()

    def _fresh_enough(self, sandboxes: SandboxSource) -> Sandbox:
        """The current sandbox, or a new one if earlier formulas left it holding more than a
        formula's budget (pending promise jobs, say)."""
        sandbox = sandboxes.current()
        return sandboxes.rebuild() if sandbox.holds_too_much(self._limits.memory_bytes) else sandbox

    def abandon(self, message: FormulaError) -> list[Any]:
        """Give up (from the caller's thread): keep finished chunks, fill the rest with `message`."""
        with self._lock:
            self._abandoned = True
            return self.results[: self._committed] + [message] * (self._count - self._committed)

    def _commit(self, start: int, values: list[Any]) -> None:
        with self._lock:
            if self._abandoned:
                raise BatchAbandoned
            self.results[start : start + len(values)] = values
            self._committed = start + len(values)

    def _check_abandoned(self) -> None:
        if self._abandoned:
            raise BatchAbandoned

    def _evaluate_chunk(self, sandboxes: SandboxSource, start: int, end: int) -> list[Any]:
        size = end - start
        failures: dict[int, FormulaError] = {}
        rebuilds = 0
        sandbox = sandboxes.current()
        runner, ceiling = self._load(sandbox, start, end)
        index = 0
        while index < size and not self._breaker.tripped:
            if index in failures:
                runner.fail(index)
                index += 1
                continue
            next_failure = min((k for k in failures if k > index), default=size)
            segment_end = min(next_failure, index + self._run_length)
            try:
                reached = self._run(sandbox, runner, ceiling, index, segment_end)
            except quickjs.JSException as exc:
                problem = str(exc).split("\n", 1)[0]
                failed = self._failed_position(runner, index)
                if problem == _INTERRUPTED and failed > index:
                    self._breaker.passed()
                    index = failed  # it shared the budget with earlier records: give it a run of its own
                elif problem == _INTERRUPTED:
                    failures[failed] = self._messages.timeout
                    runner.fail(failed)
                    self._breaker.hit("time")
                    index = failed + 1
                else:
                    # QuickJS failed outside the formula's own try (out of memory or stack in our
                    # code): the context may be damaged, so redo this chunk in a fresh one.
                    failures[failed] = self._unexpected_failure(problem)
                    rebuilds += 1
                    if rebuilds > _MAX_REBUILDS_PER_CHUNK:
                        raise
                    sandbox = sandboxes.rebuild()
                    sandbox.set_refs(self._refs_json)
                    runner, ceiling = self._load(sandbox, start, end)
                    index = 0
                continue
            if reached >= 0:
                if reached > index:
                    self._breaker.passed()
                index = reached
            else:  # record -reached - 1 ran out of memory
                failed = -reached - 1
                if failed > index:
                    self._breaker.passed()
                self._breaker.hit("memory")
                index = failed + 1
        values = decode_results(runner, index, failures, self._formula.result_type, self._messages)
        if index < size:
            values.extend([self._messages.stopped(self._breaker.cause)] * (size - index))
        return values

    def _load(self, sandbox: Sandbox, start: int, end: int) -> tuple[Runner, int]:
        """Put the chunk's columns into the runner; returns it and the memory ceiling for runs."""
        runner = sandbox.runner(self._key)
        runner.reset()
        for index, column in enumerate(self._columns.data):
            runner.load(index, *column[start:end])
        if self._ceiling is None or sandbox is not self._ceiling_sandbox:
            # Measured once per batch and sandbox (it walks the heap); later chunks are alike in size.
            self._ceiling = sandbox.memory_in_use() + self._limits.memory_bytes
            self._ceiling_sandbox = sandbox
        return runner, self._ceiling

    def _run(self, sandbox: Sandbox, runner: Runner, ceiling: int, start: int, end: int) -> int:
        self._check_abandoned()
        sandbox.limit_memory(ceiling)
        sandbox.limit_time(True)
        started = self.run_started_at = time.monotonic()
        try:
            reached: int = runner.run(start, end)
        finally:
            self.run_started_at = None
            sandbox.limit_time(False)
            sandbox.limit_memory(None)
        self._check_abandoned()
        self._adapt_run_length((reached if reached >= 0 else -reached) - start, time.monotonic() - started)
        return reached

    def _adapt_run_length(self, records: int, seconds: float) -> None:
        """Size runs to take about _RUN_TARGET_S, so heavy records (whose built-ins QuickJS rarely
        interrupts) never make one run look stuck to the wall-clock stop."""
        if records <= 0:
            return
        fitting = int(records * _RUN_TARGET_S / seconds) if seconds > 0 else CHUNK_SIZE
        self._run_length = max(1, min(CHUNK_SIZE, self._run_length * 4, fitting))

    def _failed_position(self, runner: Runner, fallback: int) -> int:
        try:
            return int(runner.position())
        except quickjs.JSException:
            return fallback

    def _unexpected_failure(self, problem: str) -> FormulaError:
        if problem in ("null", "InternalError: out of memory"):
            self._breaker.hit("memory")
            return self._messages.out_of_memory
        return self._messages.from_javascript(problem)
