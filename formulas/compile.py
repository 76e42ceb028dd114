"""Compile a formula's source: detect its form, syntax-check it in QuickJS, find what it reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, cast, get_args

from formulas.errors import FormulaSyntaxError
from formulas.js_tokens import JsTokenError, Token, line_and_column, tokenize
from formulas.js_wrappers import blank_exports, wrap_expression, wrap_module, wrap_module_once, wrap_template
from formulas.source_analysis import (
    Reads,
    TemplateHole,
    analyse_reads,
    brackets_balanced,
    defines_compute,
    find_import,
    is_module,
    module_record_names,
    split_template,
    top_level_functions,
)
from formulas.syntax_check import CompileProblem, compile_problem, locate_problem

FormulaForm = Literal["template", "module", "expression"]
Purpose = Literal["compute", "validate", "default"]
ResultType = Literal["string", "text", "integer", "decimal", "boolean", "date", "datetime", "any"]

_RECORD_ONLY = {"record"}
_CODE_CHARACTERS = "(){}[];=`'\"."


@dataclass(frozen=True)
class CompiledFormula:
    """A syntax-checked formula and the static facts the engine needs about it."""

    source: str
    form: FormulaForm
    purpose: Purpose
    result_type: ResultType
    fields_read: frozenset[str]
    reads_refs: bool
    # True when the record is used other than as `record.x` / `record["x"]` (passed to a helper,
    # iterated, indexed by a variable): it may read any field, so pass them all and recompute on any change.
    reads_all_fields: bool
    js_function: str = field(repr=False)  # the wrapped source the sandbox evaluates


def compile_formula(
    source: str, *, purpose: str = "compute", result_type: ResultType = "any"
) -> CompiledFormula:
    """Detect the form (module, expression, template), syntax-check it; raises FormulaSyntaxError."""
    if purpose not in get_args(Purpose):
        raise ValueError(f"purpose must be one of {', '.join(get_args(Purpose))}, not {purpose!r}")
    if result_type not in get_args(ResultType):
        raise ValueError(f"result_type must be one of {', '.join(get_args(ResultType))}, not {result_type!r}")
    if not source.strip():
        raise FormulaSyntaxError("the formula is empty", 1, 1)
    facts = (cast(Purpose, purpose), result_type)
    scanned = _scan(source)
    if isinstance(scanned, list) and is_module(scanned):
        return _compile_module(source, scanned, *facts)
    problem: CompileProblem | None = None
    if isinstance(scanned, list):
        _reject_import(source, scanned)
        if brackets_balanced(scanned):
            js = wrap_expression(source)
            problem = compile_problem(js)
            if problem is None:
                return _compiled(source, "expression", facts, analyse_reads(scanned, _RECORD_ONLY), js)
    if "${" in source:
        return _compile_template(source, *facts)
    if isinstance(scanned, JsTokenError):
        raise _syntax_error(source, str(scanned), scanned.offset)
    if problem is None:
        raise _unbalanced_bracket_error(source, scanned)
    message, offset = _expression_problem(problem, source, 0, len(source), scanned)
    if not any(char in source for char in _CODE_CHARACTERS):
        message += " (fixed text needs quotes, like 'N/A')"
    raise _syntax_error(source, message, offset)


def _scan(source: str) -> list[Token] | JsTokenError:
    """The source's tokens as JavaScript, or why it cannot be JavaScript (templates often are not)."""
    try:
        return tokenize(source)
    except JsTokenError as exc:
        return exc


def _expression_problem(
    problem: CompileProblem, source: str, start: int, end: int, tokens: list[Token]
) -> tuple[str, int]:
    """Locate an expression's syntax error, rewording QuickJS's complaint about our wrapper's `)`."""
    message, offset = locate_problem(problem, source, start, end, tokens, wrap_expression)
    if message == "expecting ')'":
        at = next((token for token in tokens if token.start == offset), None)
        before = [token for token in tokens if token.start < offset]
        if at is not None and brackets_balanced(before):
            message = f"unexpected {at.text!r} after a complete expression"
    return message, offset


def _compile_module(
    source: str, tokens: list[Token], purpose: Purpose, result_type: ResultType
) -> CompiledFormula:
    _reject_import(source, tokens)
    if not defines_compute(tokens):
        raise FormulaSyntaxError(
            "a module formula must define compute(record), as in: export function compute(record) { … }", 1, 1
        )
    body = blank_exports(source, _export_spans(tokens))
    js = wrap_module(body)
    problem = compile_problem(js)
    if problem is not None:
        message, offset = locate_problem(problem, body, 0, len(body), tokens, wrap_module)
        raise _syntax_error(source, message, offset)
    parameter = module_record_names(tokens)
    reads = analyse_reads(tokens, None if parameter is None else parameter | _RECORD_ONLY)
    functions = top_level_functions(tokens)
    if functions is not None:
        once = wrap_module_once(body, functions)
        if compile_problem(once) is None:
            js = once
    return _compiled(source, "module", (purpose, result_type), reads, js)


def _compile_template(source: str, purpose: Purpose, result_type: ResultType) -> CompiledFormula:
    try:
        parts = split_template(source)
    except JsTokenError as exc:
        raise _syntax_error(source, str(exc), exc.offset) from None
    holes = [part for part in parts if isinstance(part, TemplateHole)]
    field_names: set[str] = set()
    all_fields = refs = False
    for hole in holes:
        _check_hole(source, hole)
        reads = analyse_reads(hole.tokens, _RECORD_ONLY)
        field_names |= reads.fields
        all_fields |= reads.all_fields
        refs |= reads.refs
    js = wrap_template(source, parts)
    problem = compile_problem(js)
    if problem is not None:  # every hole compiled alone, so this is not expected
        raise FormulaSyntaxError(problem.message, 1, 1)
    reads = Reads(frozenset(field_names), all_fields, refs)
    return _compiled(source, "template", (purpose, result_type), reads, js)


def _check_hole(source: str, hole: TemplateHole) -> None:
    tokens = list(hole.tokens)
    _reject_import(source, tokens)
    if not brackets_balanced(tokens):
        raise _unbalanced_bracket_error(source, tokens)
    problem = compile_problem(wrap_expression(source[hole.start : hole.end]))
    if problem is not None:
        message, offset = _expression_problem(problem, source, hole.start, hole.end, tokens)
        raise _syntax_error(source, message, offset)


def _compiled(
    source: str, form: FormulaForm, facts: tuple[Purpose, ResultType], reads: Reads, js: str
) -> CompiledFormula:
    return CompiledFormula(
        source=source,
        form=form,
        purpose=facts[0],
        result_type=facts[1],
        fields_read=reads.fields,
        reads_refs=reads.refs,
        reads_all_fields=reads.all_fields,
        js_function=js,
    )


def _reject_import(source: str, tokens: list[Token]) -> None:
    token = find_import(tokens)
    if token is not None:
        message = "import is not available in formulas; a formula can use only its record and ref()"
        raise _syntax_error(source, message, token.start)


def _export_spans(tokens: list[Token]) -> list[tuple[int, int]]:
    """Where `export` and `export default` stand, to blank them out."""
    spans = []
    for index, token in enumerate(tokens):
        if token.kind == "name" and token.text == "export" and (index == 0 or tokens[index - 1].text != "."):
            end = token.end
            if index + 1 < len(tokens) and tokens[index + 1].text == "default":
                end = tokens[index + 1].end
            spans.append((token.start, end))
    return spans


def _unbalanced_bracket_error(source: str, tokens: list[Token]) -> FormulaSyntaxError:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[Token] = []
    for token in tokens:
        if token.kind != "punct":
            continue
        if token.text in "([{":
            stack.append(token)
        elif token.text in pairs:
            if not stack or stack[-1].text != pairs[token.text]:
                return _syntax_error(
                    source, f"this {token.text} has no matching {pairs[token.text]}", token.start
                )
            stack.pop()
    opener = stack[-1] if stack else tokens[0]
    return _syntax_error(source, f"this {opener.text} is never closed", opener.start)


def _syntax_error(source: str, message: str, offset: int) -> FormulaSyntaxError:
    line, column = line_and_column(source, offset)
    return FormulaSyntaxError(message, line, column)
