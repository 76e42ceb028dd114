"""FormulaRuntime: evaluate compiled formulas over batches of records in the sandbox."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from formulas.batch import BatchRun
from formulas.columns import columns_from_records, encode_columns, refs_to_json
from formulas.compile import CompiledFormula
from formulas.error_messages import ErrorMessages
from formulas.limits import DEFAULT_LIMITS, Limits
from formulas.worker import SandboxWorker

_WATCH_INTERVAL_S = 0.05


class FormulaRuntime:
    """Evaluates formulas one batch at a time (safe to share between threads); results never raise."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._messages = ErrorMessages(limits)
        self._lock = threading.Lock()
        self._worker: SandboxWorker | None = None
        self._stuck: set[str] = set()  # formulas that once ran past the wall-clock stop

    def evaluate(
        self,
        formula: CompiledFormula,
        records: Sequence[Mapping[str, Any]],
        refs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[Any]:
        """One result per record: a value, or a FormulaError."""
        columns = columns_from_records(records, formula.fields_read, formula.reads_all_fields)
        return self.evaluate_columns(formula, columns, len(records), refs)

    def evaluate_columns(
        self,
        formula: CompiledFormula,
        columns: Mapping[str, Sequence[Any]],
        count: int,
        refs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[Any]:
        """Like evaluate() with one sequence per field: the fast path for large batches.

        Pass at least the columns in `formula.fields_read` (all of them if `formula.reads_all_fields`);
        a field the formula reads but that is not passed reads as null.
        """
        if count == 0:
            return []
        if formula.js_function in self._stuck:
            return [self._messages.could_not_interrupt] * count
        encoded = encode_columns(columns, count, formula.fields_read, formula.reads_all_fields)
        refs_json = refs_to_json(refs) if formula.reads_refs else None
        job = BatchRun(formula, encoded, count, refs_json, self._limits, self._messages)
        with self._lock:
            worker = self._worker_for_batch()
            worker.submit(job)
            return self._wait(job, worker, formula)

    def close(self) -> None:
        """Stop the sandbox thread; the runtime starts a new one if used again."""
        with self._lock:
            if self._worker is not None:
                self._worker.close()
                self._worker = None

    def _worker_for_batch(self) -> SandboxWorker:
        if self._worker is None:
            self._worker = SandboxWorker(self._limits)
            weakref.finalize(self, self._worker.close)
        return self._worker

    def _wait(self, job: BatchRun, worker: SandboxWorker, formula: CompiledFormula) -> list[Any]:
        stop_after = self._limits.wall_clock_stop_ms / 1000.0
        while not job.finished.wait(_WATCH_INTERVAL_S):
            started = job.run_started_at
            if started is not None and time.monotonic() - started > stop_after:
                # Stuck inside a built-in QuickJS cannot interrupt: walk away from that thread.
                results = job.abandon(self._messages.could_not_interrupt)
                worker.close()
                self._worker = None
                self._stuck.add(formula.js_function)
                return results
        if job.error is not None:
            raise job.error
        return job.results
