"""Turn what a runner recorded for a chunk (a kind letter and a value per record) into Python results.

Kinds: n number, s text, t/f true/false, z null, e error message, j JSON text, m out of memory,
x failed outside the runner (the batch holds that error).
"""

from __future__ import annotations

import json
from typing import Any

from formulas.compile import ResultType
from formulas.error_messages import ErrorMessages
from formulas.errors import FormulaError
from formulas.sandbox import Runner

_TEXT_KINDS = frozenset("sej")
_PLAIN_KINDS = frozenset("nztf")
_SAFE_INTEGER = 2**53


def decode_results(
    runner: Runner,
    count: int,
    failures: dict[int, FormulaError],
    result_type: ResultType,
    messages: ErrorMessages,
) -> list[Any]:
    """The Python results of the chunk's first `count` records."""
    if count == 0:
        return []
    kinds: str = runner.kinds(count)
    if len(kinds) != count:
        raise RuntimeError(f"formula runner lost track of results ({len(kinds)} of {count})")
    present = set(kinds)
    if present <= _PLAIN_KINDS:  # numbers, booleans and nulls come back as themselves
        return _numbers(list(map(runner.value, range(count))), result_type, present == {"n"})
    text_count = sum(kinds.count(kind) for kind in _TEXT_KINDS)
    texts = _texts(runner, count, text_count) if text_count else []
    if present == {"s"}:
        return texts
    next_text = iter(texts).__next__
    values: list[Any] = []
    for index, kind in enumerate(kinds):
        if kind == "s":
            values.append(next_text())
        elif kind in _PLAIN_KINDS:
            values.append(_numbers([runner.value(index)], result_type, kind == "n")[0])
        elif kind == "e":
            values.append(messages.from_javascript(next_text()))
        elif kind == "j":
            values.append(json.loads(next_text()))
        elif kind == "m":
            values.append(messages.out_of_memory)
        else:
            values.append(failures[index])
    return values


def _texts(runner: Runner, count: int, expected: int) -> list[str]:
    """The chunk's texts in order: joined for speed, or as escaped JSON when joining is not safe."""
    try:
        joined: str = runner.texts(count, False, expected == count)
    except UnicodeDecodeError:  # a lone surrogate crossed the bridge
        return _texts_as_json(runner, count)
    parts = joined.split("\x01")
    if len(parts) != expected or runner.texts_length() != _utf16_length(joined):
        return _texts_as_json(runner, count)
    return parts


def _texts_as_json(runner: Runner, count: int) -> list[str]:
    decoded: list[str] = json.loads(runner.texts(count, True, False))
    return decoded


def _numbers(values: list[Any], result_type: ResultType, only_numbers: bool) -> list[Any]:
    """JS numbers arrive as int or float: give integers as int, decimals as float, and in `any`
    results integral numbers as int (as JSON would); booleans and None pass through."""
    if result_type == "integer":
        return list(map(int, values)) if only_numbers else [int(v) if type(v) is float else v for v in values]
    if result_type == "decimal":
        return (
            list(map(float, values)) if only_numbers else [float(v) if type(v) is int else v for v in values]
        )
    if result_type != "any":
        return values
    return [int(v) if type(v) is float and v.is_integer() and abs(v) <= _SAFE_INTEGER else v for v in values]


def _utf16_length(text: str) -> int:
    """Length in UTF-16 code units, as JavaScript counts it."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le", "surrogatepass")) // 2
