"""The error values users see in cells, worded from the limits in force."""

from __future__ import annotations

from typing import Literal

from formulas.errors import FormulaError
from formulas.limits import Limits

LimitKind = Literal["time", "memory"]


class ErrorMessages:
    """Builds FormulaError values; one instance per runtime, so limits appear in the wording."""

    def __init__(self, limits: Limits) -> None:
        self.timeout = FormulaError(f"#ERR formula ran longer than {limits.time_ms_per_record:g} ms")
        megabytes = limits.memory_bytes / (1024 * 1024)
        self.out_of_memory = FormulaError(f"#ERR formula used more than {megabytes:g} MB of memory")
        kilobytes = limits.max_stack_bytes / 1024
        self.too_deep = FormulaError(
            f"#ERR formula recursed too deeply (more than {kilobytes:g} KB of stack)"
        )
        self.could_not_interrupt = FormulaError(
            "#ERR formula stopped: it ran out of time and could not be interrupted"
        )
        self._stopped = {
            "time": FormulaError("#ERR formula stopped: it ran out of time on earlier records"),
            "memory": FormulaError("#ERR formula stopped: it ran out of memory on earlier records"),
        }

    def stopped(self, cause: LimitKind) -> FormulaError:
        """For records not run because the batch's circuit breaker tripped."""
        return self._stopped[cause]

    def from_javascript(self, message: str) -> FormulaError:
        """An exception the formula raised (or a result check that failed), as an error value."""
        if message.startswith("InternalError: stack overflow"):
            return self.too_deep
        return FormulaError("#ERR " + message)
