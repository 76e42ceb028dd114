"""Wrap each source form into the JavaScript function the sandbox calls once per record.

Every wrapper evaluates (in QuickJS) to a strict-mode function of one argument, the record. User code
starts on the wrapper's second line, so a QuickJS line number minus one is the line in the source.
"""

from __future__ import annotations

import json

from formulas.source_analysis import TemplateHole

RECORD_PARAMETER_FOR_MODULES = "__kobold_record__"

_EXPRESSION_PREFIX = '(function () { "use strict"; return function (record) { return (\n'
_EXPRESSION_SUFFIX = "\n); }; })()"
# The module body runs afresh for every record, so module-level variables cannot carry state over.
_MODULE_PREFIX = f'(function () {{ "use strict"; return function ({RECORD_PARAMETER_FOR_MODULES}) {{\n'
_MODULE_SUFFIX = f"\n;return compute({RECORD_PARAMETER_FOR_MODULES}); }}; }})()"
# In templates an empty field (null or undefined) shows as nothing rather than "null".
_TEMPLATE_PREFIX = (
    '(function () { "use strict"; '
    'const __kobold_text = (v) => (v === null || v === undefined ? "" : String(v)); '
    "return function (record) { let __kobold_value; return "
)
_TEMPLATE_SUFFIX = "; }; })()"


def wrap_expression(code: str) -> str:
    """A function returning the value of one JavaScript expression."""
    return _EXPRESSION_PREFIX + code + _EXPRESSION_SUFFIX


def wrap_module(code: str) -> str:
    """A function running a module body (with `export` already blanked out) and calling its compute()."""
    return _MODULE_PREFIX + code + _MODULE_SUFFIX


def wrap_module_once(code: str, functions: list[tuple[int, str]]) -> str:
    """A module made only of function declarations, instantiated once: its bindings become consts and
    its functions are frozen, so it holds no state a record could leave behind for the next."""
    chars = list(code)
    for offset, name in reversed(functions):
        chars.insert(offset, f";const {name} = ")
    names = ["compute"] + [name for _, name in functions if name != "compute"]
    return (
        '(function () { "use strict"; const __kobold_functions__ = (function () { "use strict";\n'
        + "".join(chars)
        + f"\n;return [{', '.join(names)}]; }})();\n"
        "for (const f of __kobold_functions__) { Object.freeze(f); "
        "if (f.prototype !== undefined) Object.freeze(f.prototype); }\n"
        "const __kobold_compute__ = __kobold_functions__[0];\n"
        "return function (record) { return __kobold_compute__(record); }; })()"
    )


def wrap_template(source: str, parts: list[str | TemplateHole]) -> str:
    """A function concatenating literal text (taken exactly as written) with the `${…}` values."""
    pieces = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(json.dumps(part))
        else:
            # Each piece is a string; texts, the usual value, skip the helper call.
            code = source[part.start : part.end]
            pieces.append(
                f'(typeof (__kobold_value = (\n{code}\n)) === "string"'
                " ? __kobold_value : __kobold_text(__kobold_value))"
            )
    return _TEMPLATE_PREFIX + " + ".join(pieces) + _TEMPLATE_SUFFIX


def blank_exports(source: str, export_offsets: list[tuple[int, int]]) -> str:
    """The source with each `export` (or `export default`) replaced by spaces, keeping every position."""
    chars = list(source)
    for start, end in export_offsets:
        chars[start:end] = " " * (end - start)
    return "".join(chars)
