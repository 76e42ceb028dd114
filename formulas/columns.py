"""Prepare input columns for the sandbox: pick the fields to pass and how each column crosses into JS."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

ColumnMode = Literal["raw", "json"]

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_RAW_SAFE = frozenset({type(None), bool, float})
_SUPPORTED = frozenset({type(None), bool, float, int, str, list, tuple, dict})


@dataclass(frozen=True)
class EncodedColumns:
    """The columns a batch passes to its formula, each either raw primitives or JSON texts."""

    names: tuple[str, ...]
    modes: tuple[ColumnMode, ...]
    data: tuple[Sequence[Any], ...]
    absent: tuple[str, ...]  # fields the formula reads that were not supplied: they read as null


def encode_columns(
    columns: Mapping[str, Sequence[Any]], count: int, fields_read: frozenset[str], reads_all_fields: bool
) -> EncodedColumns:
    """Keep the columns the formula can read, and choose for each how its values cross into JS."""
    if reads_all_fields:
        names = tuple(columns)
    else:
        names = tuple(sorted(name for name in fields_read if name in columns))
    absent = tuple(sorted(name for name in fields_read if name not in columns))
    modes: list[ColumnMode] = []
    data: list[Sequence[Any]] = []
    for name in names:
        column = columns[name]
        if len(column) != count:
            raise ValueError(f"column {name!r} has {len(column)} values, expected {count}")
        mode = _column_mode(name, column)
        modes.append(mode)
        data.append(column if mode == "raw" else [_json_or_raw(value) for value in column])
    return EncodedColumns(names, tuple(modes), tuple(data), absent)


def columns_from_records(
    records: Sequence[Mapping[str, Any]], fields_read: frozenset[str], reads_all_fields: bool
) -> dict[str, list[Any]]:
    """Turn row records into columns; a field missing from a record reads as null."""
    if reads_all_fields:
        names: dict[str, None] = {}
        for record in records:
            names.update(dict.fromkeys(record))
        wanted: Sequence[str] = list(names)
    else:
        wanted = sorted(fields_read)
    return {name: [record.get(name) for record in records] for name in wanted}


def refs_to_json(refs: Mapping[str, Mapping[str, Any]] | None) -> str | None:
    """The referenced records as one JSON text (NaN and infinities become null)."""
    if not refs:
        return None
    try:
        return json.dumps(refs, ensure_ascii=True, allow_nan=False)
    except ValueError:
        return json.dumps(_without_non_finite(refs), ensure_ascii=True)


def _column_mode(name: str, column: Sequence[Any]) -> ColumnMode:
    """Raw when every value converts exactly by the bridge, JSON otherwise.

    The bridge truncates ints to 32 bits, cuts strings at NUL, crashes on lone surrogates, and
    cannot pass lists at all.
    """
    types = set(map(type, column))
    if types <= _RAW_SAFE:
        return "raw"
    unsupported = types - _SUPPORTED
    if unsupported:
        kind = next(iter(unsupported)).__name__
        raise TypeError(f"field {name!r} holds a {kind}; formula inputs must be JSON-like values")
    if types & {list, tuple, dict}:
        return "json"
    if int in types:
        ints = column if types == {int} else [v for v in column if type(v) is int]
        if min(ints) < _INT32_MIN or max(ints) > _INT32_MAX:
            return "json"
    if str in types:
        strings = column if types == {str} else [v for v in column if type(v) is str]
        joined = "".join(strings)
        if "\x00" in joined or not _encodable(joined):
            return "json"
    return "raw"


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_or_raw(value: Any) -> Any:
    if value is None or type(value) in (bool, float):
        return value
    return json.dumps(value, ensure_ascii=True)


def _without_non_finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _without_non_finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_non_finite(item) for item in value]
    return value
