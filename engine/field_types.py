"""Field types: their DuckDB column types and how values are checked and put in canonical form.

Canonical values are what changeset events carry: str, int, bool, None, or a list of str. Decimals travel as
strings with exactly `scale` fraction digits so that no replica ever rounds a float.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

SCALAR_TYPES = ("string", "text", "integer", "decimal", "boolean", "date", "datetime", "choice", "reference")
FIELD_TYPES = (*SCALAR_TYPES, "references")
TYPE_ALIASES = {
    "str": "string",
    "int": "integer",
    "bool": "boolean",
    "number": "decimal",
    "enum": "choice",
    "ref": "reference",
    "list_of_references": "references",
    "many": "references",
    "one": "reference",
}
_TRUE = {"true", "yes", "y", "1", "t", "on"}
_FALSE = {"false", "no", "n", "0", "f", "off"}
_INT64 = 2**63
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ValueProblem(ValueError):
    """A value that does not fit its type; the message says what was expected."""


def column_type(field: dict[str, Any]) -> str:
    """The DuckDB column type of a field's projection column."""
    t = field["type"]
    if t == "integer":
        return "BIGINT"
    if t == "decimal":
        return f"DECIMAL(38,{int(field.get('scale', 2))})"
    if t == "boolean":
        return "BOOLEAN"
    if t == "date":
        return "DATE"
    if t == "datetime":
        return "TIMESTAMP"
    if t == "references":
        return "VARCHAR[]"
    return "VARCHAR"


def canonical(field: dict[str, Any], value: Any, *, from_text: bool) -> Any:
    """Check `value` against the field's type and return its canonical form (None clears the field).

    `from_text` is for values typed by a person or read from CSV, where everything arrives as a string.
    """
    if value is None or (
        from_text and isinstance(value, str) and value.strip() == "" and field["type"] != "text"
    ):
        return None
    t = field["type"]
    if t in ("string", "text", "reference"):
        if not isinstance(value, str):
            if from_text:
                value = str(value)
            else:
                raise ValueProblem("expected text")
        if t == "string" and ("\n" in value or "\r" in value):
            raise ValueProblem("expected a single line (use a text field for several lines)")
        return value.strip() if t == "reference" else value
    if t == "choice":
        text = str(value) if from_text else value
        if not isinstance(text, str):
            raise ValueProblem("expected one of the choices")
        choices = field.get("choices") or []
        if text not in choices:
            raise ValueProblem(f"expected one of {', '.join(map(str, choices))}")
        return text
    if t == "integer":
        return _integer(value, from_text)
    if t == "decimal":
        return _decimal(value, int(field.get("scale", 2)))
    if t == "boolean":
        return _boolean(value, from_text)
    if t == "date":
        return _date(value)
    if t == "datetime":
        return _datetime(value)
    if t == "references":
        return _references(value, from_text)
    raise ValueProblem(f"unknown type {t}")


def _integer(value: Any, from_text: bool) -> int:
    if isinstance(value, bool):
        raise ValueProblem("expected a whole number")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str):
        try:
            result = int(value.strip().replace("_", ""))
        except ValueError:
            raise ValueProblem("expected a whole number") from None
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    else:
        raise ValueProblem("expected a whole number")
    if not -_INT64 <= result < _INT64:
        raise ValueProblem("expected a whole number between -2^63 and 2^63-1")
    return result


def _decimal(value: Any, scale: int) -> str:
    if isinstance(value, bool):
        raise ValueProblem("expected a decimal number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueProblem("expected a decimal number like 12.50") from None
    if not number.is_finite():
        raise ValueProblem("expected a finite decimal number")
    quantum = Decimal(1).scaleb(-scale)
    rounded = number.quantize(quantum)
    if rounded != number:
        raise ValueProblem(f"expected at most {scale} digits after the decimal point")
    if len(rounded.as_tuple().digits) > 38:
        raise ValueProblem("expected at most 38 digits")
    return format(rounded, "f")


def _boolean(value: Any, from_text: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise ValueProblem("expected true or false")


def _date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise ValueProblem("expected a date like 2026-04-30")


def _datetime(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueProblem("expected a date and time like 2026-04-30T14:05:00") from None
    if not isinstance(value, dt.datetime):
        raise ValueProblem("expected a date and time like 2026-04-30T14:05:00")
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return str(value.replace(microsecond=0).isoformat())


def _references(value: Any, from_text: bool) -> list[str]:
    if isinstance(value, str) and from_text:
        items = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        raise ValueProblem("expected a list of record ids")
    return items
