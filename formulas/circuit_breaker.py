"""The batch circuit breaker: stop running a formula that keeps hitting its limits."""

from __future__ import annotations

from formulas.error_messages import LimitKind
from formulas.limits import Limits


class CircuitBreaker:
    """Trips after too many records in a row, or in total, hit the time or memory limit."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._in_a_row = 0
        self._total = 0
        self.cause: LimitKind = "time"

    @property
    def tripped(self) -> bool:
        """Whether the rest of the batch should not run."""
        return (
            self._in_a_row >= self._limits.stop_after_consecutive_limit_hits
            or self._total >= self._limits.stop_after_limit_hits
        )

    def passed(self) -> None:
        """Some records finished within the limits."""
        self._in_a_row = 0

    def hit(self, cause: LimitKind) -> None:
        """A record was cut off by the time or memory limit."""
        self._in_a_row += 1
        self._total += 1
        self.cause = cause
