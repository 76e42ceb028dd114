"""Resource limits for formula evaluation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per-record time, memory and stack limits, plus the batch circuit breaker."""

    time_ms_per_record: float = 50.0
    memory_bytes: int = 32 * 1024 * 1024
    max_stack_bytes: int = 256 * 1024
    # A batch stops (remaining records get an error without running) after this many records in a row,
    # or this many in total, were cut off by the time or memory limit.
    stop_after_consecutive_limit_hits: int = 3
    stop_after_limit_hits: int = 20
    # QuickJS cannot interrupt a few built-ins (a backtracking regular expression, a long text search):
    # a run still going after this much wall-clock time is abandoned along with its context.
    wall_clock_stop_ms: float = 2000.0


DEFAULT_LIMITS = Limits()
