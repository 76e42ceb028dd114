"""A small JavaScript tokenizer: enough to find template holes, field reads and bracket balance."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TokenKind = Literal["name", "number", "string", "regex", "punct", "template_start", "template_end"]

_NAME_START = re.compile(r"[A-Za-z_$\u0080-\uffff]")
_NAME = re.compile(r"[A-Za-z0-9_$\u0080-\uffff]*")
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+n?|0[oO][0-7_]+n?|0[bB][01_]+n?"
    r"|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?n?"
)
_PUNCTUATORS = sorted(
    [
        ">>>=", "...", "===", "!==", "**=", "<<=", ">>=", ">>>", "&&=", "||=", "??=",
        "=>", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "++", "--", "+=", "-=",
        "*=", "/=", "%=", "&=", "|=", "^=", "**", "<<", ">>",
        "{", "}", "(", ")", "[", "]", ";", ",", "<", ">", "+", "-", "*", "/", "%",
        "&", "|", "^", "!", "~", "?", ":", "=", ".", "@", "#",
    ],
    key=len,
    reverse=True,
)  # fmt: skip
# After these words a `/` starts a regular expression, not a division.
_KEYWORDS_BEFORE_EXPRESSION = frozenset(
    {"return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do"}
    | {"else", "yield", "await"}
)
_WHITESPACE = " \t\n\r\v\f\u00a0\ufeff\u2028\u2029\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"


@dataclass(frozen=True)
class Token:
    """One token; `start`/`end` are offsets into the whole source."""

    kind: TokenKind
    text: str
    start: int
    end: int


class JsTokenError(ValueError):
    """The source cannot be tokenized (an unterminated string, comment, template or regex)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def line_and_column(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of `offset`, counting lines the way QuickJS does (by `\\n`)."""
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


def tokenize(source: str) -> list[Token]:
    """All tokens of `source`, with the tokens inside template literal holes inlined."""
    tokens, _ = tokenize_until_close_brace(source, 0, stop_at_close_brace=False)
    return tokens


def tokenize_until_close_brace(
    source: str, pos: int, *, stop_at_close_brace: bool = True
) -> tuple[list[Token], int]:
    """Tokens from `pos` to the `}` that closes an open `${` (or to the end); returns tokens and that `}`'s offset."""
    tokens: list[Token] = []
    depth = 0
    length = len(source)
    while True:
        pos = _skip_blanks(source, pos)
        if pos >= length:
            if stop_at_close_brace:
                raise JsTokenError("a `${` is never closed with `}`", pos)
            return tokens, pos
        char = source[pos]
        if char == "}" and depth <= 0 and stop_at_close_brace:
            return tokens, pos
        if char in "\"'":
            end = _scan_string(source, pos)
            tokens.append(Token("string", source[pos:end], pos, end))
            pos = end
        elif char == "`":
            pos = _scan_template(source, pos, tokens)
        elif char.isdigit() or (char == "." and pos + 1 < length and source[pos + 1].isdigit()):
            match = _NUMBER.match(source, pos)
            end = match.end() if match else pos + 1
            tokens.append(Token("number", source[pos:end], pos, end))
            pos = end
        elif _NAME_START.match(char) or char == "\\":
            end = _name_end(source, pos + 1)
            tokens.append(Token("name", source[pos:end], pos, end))
            pos = end
        elif char == "/" and _regex_allowed(tokens):
            end = _scan_regex(source, pos)
            tokens.append(Token("regex", source[pos:end], pos, end))
            pos = end
        else:
            text = next((p for p in _PUNCTUATORS if source.startswith(p, pos)), char)
            if text == "?." and pos + 2 < length and source[pos + 2].isdigit():
                text = "?"  # `a?.5:b` is a conditional, not optional chaining
            if text in "{([":
                depth += 1
            elif text in "})]":
                depth -= 1
            tokens.append(Token("punct", text, pos, pos + len(text)))
            pos += len(text)


def _name_end(source: str, pos: int) -> int:
    match = _NAME.match(source, pos)
    return match.end() if match else pos


def _skip_blanks(source: str, pos: int) -> int:
    """Skip whitespace and comments."""
    length = len(source)
    while pos < length:
        char = source[pos]
        if char in _WHITESPACE:
            pos += 1
        elif source.startswith("//", pos):
            newline = source.find("\n", pos)
            pos = length if newline == -1 else newline
        elif source.startswith("/*", pos):
            close = source.find("*/", pos + 2)
            if close == -1:
                raise JsTokenError("a `/*` comment is never closed", pos)
            pos = close + 2
        else:
            break
    return pos


def _scan_string(source: str, pos: int) -> int:
    quote = source[pos]
    i = pos + 1
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if char == quote:
            return i + 1
        if char == "\n":
            break
        i += 1
    raise JsTokenError("a text in quotes is never closed", pos)


def _scan_template(source: str, pos: int, tokens: list[Token]) -> int:
    """Scan a backtick template literal, appending its hole tokens between start/end markers."""
    tokens.append(Token("template_start", "`", pos, pos + 1))
    i = pos + 1
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
        elif char == "`":
            tokens.append(Token("template_end", "`", i, i + 1))
            return i + 1
        elif source.startswith("${", i):
            inner, close = tokenize_until_close_brace(source, i + 2)
            tokens.append(Token("punct", "(", i, i + 2))
            tokens.extend(inner)
            tokens.append(Token("punct", ")", close, close + 1))
            i = close + 1
        else:
            i += 1
    raise JsTokenError("a `…` template is never closed", pos)


def _scan_regex(source: str, pos: int) -> int:
    i = pos + 1
    in_class = False
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if char == "\n":
            break
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "/" and not in_class:
            return _name_end(source, i + 1)
        i += 1
    raise JsTokenError("a /regular expression/ is never closed", pos)


def _regex_allowed(tokens: list[Token]) -> bool:
    """Whether a `/` here starts a regular expression (the usual previous-token heuristic)."""
    if not tokens:
        return True
    last = tokens[-1]
    if last.kind in ("number", "string", "regex", "template_end"):
        return False
    if last.kind == "name":
        return last.text in _KEYWORDS_BEFORE_EXPRESSION
    return last.text not in (")", "]", "}", "++", "--")
