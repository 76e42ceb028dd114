"""Static facts about a formula's source: its template holes, the fields it reads, whether it uses ref()."""

from __future__ import annotations

from dataclasses import dataclass

from formulas.js_tokens import JsTokenError, Token, tokenize_until_close_brace

# `record.<one of these>` reaches the prototype, and `record.hasOwnProperty(k)` reads a field by value.
_OBJECT_PROTOTYPE_NAMES = frozenset(
    {
        "constructor", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString",
        "toString", "valueOf", "__proto__", "__defineGetter__", "__defineSetter__", "__lookupGetter__",
        "__lookupSetter__",
    }
)  # fmt: skip
_NOT_FUNCTION_NAMES = frozenset({"if", "while", "for", "switch", "catch", "with", "return", "typeof"})


@dataclass(frozen=True)
class TemplateHole:
    """The code of one `${…}` in a template: offsets into the template source, and its tokens."""

    start: int
    end: int
    tokens: tuple[Token, ...]


@dataclass(frozen=True)
class Reads:
    """What a formula reads from its inputs."""

    fields: frozenset[str]
    all_fields: bool
    refs: bool


def split_template(source: str) -> list[str | TemplateHole]:
    """Literal text parts and `${…}` holes of a template, in order; raises JsTokenError."""
    parts: list[str | TemplateHole] = []
    text_start = 0
    position = source.find("${")
    while position != -1:
        if position > text_start:
            parts.append(source[text_start:position])
        tokens, close = tokenize_until_close_brace(source, position + 2)
        if not tokens:
            raise JsTokenError("a `${}` has nothing inside", position)
        parts.append(TemplateHole(position + 2, close, tuple(tokens)))
        text_start = close + 1
        position = source.find("${", text_start)
    if text_start < len(source):
        parts.append(source[text_start:])
    return parts


def is_module(tokens: list[Token]) -> bool:
    """A module declares `function compute` or exports something."""
    for index, token in enumerate(tokens):
        if token.kind != "name" or _after_dot(tokens, index):
            continue
        if token.text == "export":
            return True
        if token.text == "function" and _text_at(tokens, index + 1) == "compute":
            return True
    return False


def defines_compute(tokens: list[Token]) -> bool:
    """Whether a module declares `compute` (as a function, const, let or var)."""
    declarers = {"function", "const", "let", "var"}
    return any(
        tok.kind == "name" and tok.text == "compute" and _text_at(tokens, i - 1) in declarers
        for i, tok in enumerate(tokens)
    )


def find_import(tokens: list[Token] | tuple[Token, ...]) -> Token | None:
    """The first `import` keyword (static or dynamic), if any."""
    for index, token in enumerate(tokens):
        if token.kind == "name" and token.text == "import" and not _after_dot(tokens, index):
            return token
    return None


def brackets_balanced(tokens: list[Token]) -> bool:
    """Whether (), [] and {} pair up, so the source cannot close our wrapper's parentheses."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for token in tokens:
        if token.kind != "punct":
            continue
        if token.text in "([{":
            stack.append(token.text)
        elif token.text in pairs and (not stack or stack.pop() != pairs[token.text]):
            return False
    return not stack


def module_record_names(tokens: list[Token]) -> set[str] | None:
    """The name `compute` gives its record parameter, or None when it cannot be told."""
    for index, token in enumerate(tokens):
        if token.kind != "name" or token.text != "compute" or _after_dot(tokens, index):
            continue
        if _text_at(tokens, index - 1) == "function" and _text_at(tokens, index + 1) == "(":
            return _single_parameter(tokens, index + 2, ")")
        if _text_at(tokens, index + 1) == "=":
            rest = index + 2
            if _text_at(tokens, rest) == "function":
                rest += 2 if _text_at(tokens, rest + 1) == "(" else 3
                return _single_parameter(tokens, rest, ")")
            if _text_at(tokens, rest) == "(":
                return _single_parameter(tokens, rest + 1, ")")
            if rest < len(tokens) and tokens[rest].kind == "name" and _text_at(tokens, rest + 1) == "=>":
                return {tokens[rest].text}
    return None


def top_level_functions(tokens: list[Token]) -> list[tuple[int, str]] | None:
    """Offset and name of each top-level function declaration, or None if the module has any other
    top-level code (a variable, a class, a statement) or no top-level `function compute`."""
    found: list[tuple[int, str]] = []
    index = 0
    while index < len(tokens):
        if _text_at(tokens, index) == ";":
            index += 1
            continue
        if _text_at(tokens, index) == "export":
            index += 2 if _text_at(tokens, index + 1) == "default" else 1
        start = index
        if _text_at(tokens, index) == "async":
            index += 1
        if _text_at(tokens, index) != "function":
            return None
        index += 2 if _text_at(tokens, index + 1) == "*" else 1
        if index >= len(tokens) or tokens[index].kind != "name" or _text_at(tokens, index + 1) != "(":
            return None
        name = tokens[index].text
        close = _matching_close(tokens, index + 1)
        if close is None or _text_at(tokens, close + 1) != "{":
            return None
        body_close = _matching_close(tokens, close + 1)
        if body_close is None:
            return None
        found.append((tokens[start].start, name))
        index = body_close + 1
    return found if any(name == "compute" for _, name in found) else None


def analyse_reads(tokens: list[Token] | tuple[Token, ...], record_names: set[str] | None) -> Reads:
    """Fields read as `record.x`, `record["x"]` or `record?.x`; any other use of the record reads all fields."""
    fields: set[str] = set()
    all_fields = record_names is None
    refs = False
    names = record_names or set()
    declared = _parameter_positions(tokens)
    for index, token in enumerate(tokens):
        if token.kind != "name":
            continue
        if token.text == "ref":
            refs = True
        if _after_dot(tokens, index):
            continue
        if token.text in ("eval", "arguments", "Function"):
            all_fields = True
            refs = True
        if token.text not in names or index in declared or _is_object_key(tokens, index):
            continue
        field = _member_name(tokens, index)
        if field is None or field in _OBJECT_PROTOTYPE_NAMES:
            all_fields = True
        else:
            fields.add(field)
    return Reads(frozenset(fields), all_fields, refs)


def _member_name(tokens: list[Token] | tuple[Token, ...], index: int) -> str | None:
    """The field name in `record.x`, `record?.x`, `record["x"]` or `record?.["x"]`; None for other uses."""
    follower = _text_at(tokens, index + 1)
    after = index + 2
    if follower in (".", "?.") and after < len(tokens) and tokens[after].kind == "name":
        return tokens[after].text
    if follower == "?." and _text_at(tokens, after) == "[":
        after += 1
    elif follower == "[":
        pass
    else:
        return None
    if after + 1 < len(tokens) and tokens[after].kind == "string" and tokens[after + 1].text == "]":
        literal = tokens[after].text
        # Without escapes the text between the quotes is the key itself; escaped keys count as dynamic.
        return None if "\\" in literal else literal[1:-1]
    return None


def _parameter_positions(tokens: list[Token] | tuple[Token, ...]) -> set[int]:
    """Indexes of names that declare a function parameter (`function f(record)`, `(record) =>`, `record =>`)."""
    positions: set[int] = set()
    for index, token in enumerate(tokens):
        if token.kind == "name" and _text_at(tokens, index + 1) == "=>":
            positions.add(index)
        if token.text != "(" or token.kind != "punct":
            continue
        close = _matching_close(tokens, index)
        if close is None:
            continue
        before = _text_at(tokens, index - 1)
        before2 = _text_at(tokens, index - 2)
        is_function = before == "function" or (
            before2 == "function" and before not in _NOT_FUNCTION_NAMES and tokens[index - 1].kind == "name"
        )
        if is_function or _text_at(tokens, close + 1) == "=>":
            for inner in range(index + 1, close):
                if tokens[inner].kind == "name" and _text_at(tokens, inner - 1) in ("(", ",", "..."):
                    positions.add(inner)
    return positions


def _single_parameter(tokens: list[Token], start: int, close: str) -> set[str] | None:
    if (
        start < len(tokens)
        and tokens[start].kind == "name"
        and _text_at(tokens, start + 1) in (close, ",", "=")
    ):
        return {tokens[start].text}
    return None


def _matching_close(tokens: list[Token] | tuple[Token, ...], open_index: int) -> int | None:
    depth = 0
    for index in range(open_index, len(tokens)):
        text = tokens[index].text if tokens[index].kind == "punct" else ""
        if text in ("(", "[", "{"):
            depth += 1
        elif text in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                return index
    return None


def _is_object_key(tokens: list[Token] | tuple[Token, ...], index: int) -> bool:
    return _text_at(tokens, index + 1) == ":" and _text_at(tokens, index - 1) in ("{", ",")


def _after_dot(tokens: list[Token] | tuple[Token, ...], index: int) -> bool:
    return index > 0 and tokens[index - 1].kind == "punct" and tokens[index - 1].text in (".", "?.")


def _text_at(tokens: list[Token] | tuple[Token, ...], index: int) -> str | None:
    if 0 <= index < len(tokens):
        return tokens[index].text
    return None
