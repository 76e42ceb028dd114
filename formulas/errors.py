"""The two ways a formula can fail: a syntax error when compiled, an error value when evaluated."""

from __future__ import annotations

from dataclasses import dataclass


class FormulaSyntaxError(ValueError):
    """The formula's source is not valid; the message is one sentence naming the line and column."""

    def __init__(self, detail: str, line: int, column: int) -> None:
        self.detail = detail
        self.line = line
        self.column = column
        super().__init__(f"Syntax error at line {line}, column {column}: {detail.rstrip('.')}.")


@dataclass(frozen=True)
class FormulaError:
    """An error value returned in place of a result (never raised); `message` starts with "#ERR "."""

    message: str

    def __str__(self) -> str:
        return self.message
