"""Syntax-check wrapped formula code in QuickJS and point at the line and column of an error."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

import quickjs

from formulas.js_tokens import Token

_LINE_IN_INPUT = re.compile(r"<input>:(\d+)")
_ERROR_KIND = re.compile(r"^(SyntaxError|InternalError|RangeError): ")


@dataclass(frozen=True)
class CompileProblem:
    """QuickJS's complaint about wrapped code: its message and the wrapper line it names."""

    message: str
    line: int


class _Checker:
    """One QuickJS context used only to compile (never to run) formula code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._context: quickjs.Context | None = None

    def problem(self, wrapped: str) -> CompileProblem | None:
        with self._lock:
            if self._context is None:
                self._context = quickjs.Context()
                self._context.set_memory_limit(64 * 1024 * 1024)
                self._context.set_time_limit(2.0)
            try:
                # Evaluating a wrapper only creates the formula function; no formula code runs.
                self._context.eval(wrapped)
            except quickjs.JSException as exc:
                return _problem_from(str(exc))
            return None


_CHECKER = _Checker()


def compile_problem(wrapped: str) -> CompileProblem | None:
    """None if the wrapped code compiles, else QuickJS's message and wrapper line."""
    return _CHECKER.problem(wrapped)


def locate_problem(
    problem: CompileProblem,
    source: str,
    fragment_start: int,
    fragment_end: int,
    tokens: list[Token] | tuple[Token, ...],
    wrap: Callable[[str], str],
) -> tuple[str, int]:
    """The user-facing message and the offset in `source` where the problem is.

    QuickJS names only the line, so the column is found by compiling ever longer prefixes of that line
    until the same complaint appears.
    """
    fragment = source[fragment_start:fragment_end]
    fragment_line = problem.line - 1  # the wrappers put user code on their second line
    if fragment_line < 1:
        return problem.message, fragment_start
    if fragment_line > fragment.count("\n") + 1:
        return "the formula ends before it is complete", _end_of_code(source, fragment_start, fragment_end)
    on_line = [
        token
        for token in tokens
        if fragment_start <= token.start < fragment_end
        and source.count("\n", fragment_start, token.start) + 1 == fragment_line
    ]
    for token in on_line:
        probe = compile_problem(wrap(source[fragment_start : token.end]))
        if probe == problem:
            return problem.message, token.start
    line_start = fragment_start + _nth_line_offset(fragment, fragment_line)
    return problem.message, _skip_spaces(source, line_start)


def _problem_from(text: str) -> CompileProblem:
    first_line = text.split("\n", 1)[0]
    match = _LINE_IN_INPUT.search(text)
    line = int(match.group(1)) if match else 1
    if first_line == "null":
        return CompileProblem("the formula is too large to compile", line)
    return CompileProblem(_ERROR_KIND.sub("", first_line), line)


def _nth_line_offset(text: str, line: int) -> int:
    offset = 0
    for _ in range(line - 1):
        offset = text.index("\n", offset) + 1
    return offset


def _skip_spaces(source: str, offset: int) -> int:
    while offset < len(source) and source[offset] in " \t":
        offset += 1
    return offset


def _end_of_code(source: str, start: int, end: int) -> int:
    """The offset just after the last non-blank character of the fragment."""
    while end > start and source[end - 1] in " \t\r\n":
        end -= 1
    return end
