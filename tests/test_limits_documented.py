"""docs/PROTOCOL.md lists every limit of engine/limits.py with its value: the table is the promise to other
implementations, the module is what this one enforces."""

from __future__ import annotations

import re
from pathlib import Path

from engine import limits

PROTOCOL = Path(__file__).resolve().parent.parent / "docs" / "PROTOCOL.md"


def _documented() -> dict[str, str]:
    text = PROTOCOL.read_text(encoding="utf-8").split("\n## Limits\n", 1)[1]
    return {m[1]: m[2] for m in re.finditer(r"^\| `(MAX_\w+|MIN_\w+)` \| ([^|]+?) \|", text, re.M)}


def _enforced() -> dict[str, int]:
    return {k: v for k, v in vars(limits).items() if re.fullmatch(r"(MAX|MIN)_\w+", k) and isinstance(v, int)}


def test_every_limit_is_documented_with_its_value() -> None:
    documented = _documented()
    for name, value in _enforced().items():
        assert name in documented, f"{name} is not in the Limits table of docs/PROTOCOL.md"
        assert int(documented[name].replace(",", "").split()[0]) == value, (
            f"{name}: the table says {documented[name]}"
        )


def test_the_table_names_no_limit_that_does_not_exist() -> None:
    assert set(_documented()) <= set(_enforced())
