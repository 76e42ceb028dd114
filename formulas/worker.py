"""The thread that owns a sandbox: every QuickJS call of a runtime happens here.

QuickJS 2021 cannot interrupt some built-ins (a backtracking regular expression, a long text search),
so the caller watches the clock and may abandon a worker stuck in one; the worker then exits as soon
as the call returns, and its context is dropped.
"""

from __future__ import annotations

import queue
import threading

from formulas.batch import BatchRun
from formulas.limits import Limits
from formulas.sandbox import Sandbox


class SandboxWorker:
    """A daemon thread running batches one at a time on its own sandbox."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._sandbox: Sandbox | None = None
        self._jobs: queue.SimpleQueue[BatchRun | None] = queue.SimpleQueue()
        # A daemon thread, so a call QuickJS cannot interrupt never blocks the app from exiting.
        self._thread = threading.Thread(target=self._serve, name="kobold-formulas", daemon=True)
        self._thread.start()

    def submit(self, job: BatchRun) -> None:
        """Queue a batch; its `finished` event is set when it is done."""
        self._jobs.put(job)

    def close(self) -> None:
        """Let the thread end after its current batch."""
        self._jobs.put(None)

    def current(self) -> Sandbox:
        """The worker's sandbox, created on first use (on the worker thread)."""
        if self._sandbox is None:
            self._sandbox = Sandbox(self._limits)
        return self._sandbox

    def rebuild(self) -> Sandbox:
        """Replace a sandbox whose context may be damaged."""
        self._sandbox = Sandbox(self._limits)
        return self._sandbox

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                self._sandbox = None
                return
            job.execute(self)
