"""One QuickJS context set up as the formula sandbox, with the formula functions and runners built in it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import quickjs

from formulas.columns import ColumnMode
from formulas.limits import Limits
from formulas.prelude_js import PRELUDE
from formulas.runner_js import RUNNER

_UNLIMITED = -1
_CACHE_SIZE = 64


@dataclass(frozen=True)
class RunnerKey:
    """What a runner is specialised for: the formula, the input layout and the result check."""

    js_function: str
    names: tuple[str, ...]
    modes: tuple[ColumnMode, ...]
    absent: tuple[str, ...]
    settle: str
    fast: str


class Runner:
    """The JS functions of one runner (see runner_js.RUNNER), callable from Python."""

    def __init__(self, functions: Sequence[Any]) -> None:
        (
            self.load,
            self.reset,
            self.run,
            self.fail,
            self.kinds,
            self.texts,
            self.texts_length,
            self.value,
            self.position,
        ) = functions


class Sandbox:
    """A hardened QuickJS context; every call on it must come from one thread at a time."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._context = quickjs.Context()
        self._context.set_max_stack_size(limits.max_stack_bytes)
        self._set_refs = self._context.eval(PRELUDE)
        self._at = self._context.eval("(function (list, index) { return list[index]; })")
        self._runners: dict[RunnerKey, Runner] = {}
        self.baseline_memory = self.memory_in_use()

    def runner(self, key: RunnerKey) -> Runner:
        """The runner for a formula and input layout, built on first use."""
        runner = self._runners.get(key)
        if runner is None:
            if len(self._runners) >= _CACHE_SIZE:
                self._runners.clear()
            formula = self._context.eval(key.js_function)
            make = self._context.eval(runner_source(key))
            functions = make(formula)
            runner = Runner([self._at(functions, index) for index in range(9)])
            self._runners[key] = runner
        return runner

    def set_refs(self, refs_json: str | None) -> None:
        """Make ref() see these records (or none) until the next call."""
        self._set_refs(refs_json)

    def limit_time(self, on: bool) -> None:
        """Turn the per-call CPU time limit on (around formula runs) or off (for our own bounded calls)."""
        self._context.set_time_limit(self.limits.time_ms_per_record / 1000.0 if on else _UNLIMITED)

    def limit_memory(self, ceiling: int | None) -> None:
        """Cap the context's total allocation in bytes, or lift the cap."""
        self._context.set_memory_limit(_UNLIMITED if ceiling is None else ceiling)

    def memory_in_use(self) -> int:
        """Bytes the context has allocated now."""
        return int(self._context.memory()["malloc_size"])

    def holds_too_much(self, budget: int) -> bool:
        """Whether earlier formulas left more than `budget` bytes behind (pending promise jobs, say)."""
        if self.memory_in_use() <= self.baseline_memory + budget:
            return False
        self.collect_garbage()
        return self.memory_in_use() > self.baseline_memory + budget

    def collect_garbage(self) -> None:
        """Free unreachable cycles, so they do not count against the next formula's memory."""
        self._context.gc()


def runner_source(key: RunnerKey) -> str:
    """The runner JS for this layout: field names are fixed, so the record's getters are plain code."""
    columns: list[str] = []
    load: list[str] = []
    getters: list[str] = []
    reset: list[str] = []
    for index, (name, mode) in enumerate(zip(key.names, key.modes, strict=True)):
        column = f"c{index}"
        columns.append(f"let {column} = [];")
        load.append(f"case {index}: {column} = column; break;")
        if mode == "raw":
            getters.append(f"get {_property_key(name)}() {{ return {column}[row]; }},")
            getters.append(f"set {_property_key(name)}(v) {{ readOnly(); }},")
        else:  # parsed once per row, so `record.tags === record.tags` holds
            cache, cache_row = f"j{index}", f"j{index}row"
            columns.append(f"let {cache} = null, {cache_row} = -1;")
            reset.append(f"{cache_row} = -1;")
            getters.append(
                f"get {_property_key(name)}() {{ if ({cache_row} !== row) {{ "
                f"{cache} = fromJson({column}[row]); {cache_row} = row; }} return {cache}; }},"
            )
            getters.append(f"set {_property_key(name)}(v) {{ readOnly(); }},")
    for name in key.absent:
        getters.append(f"get {_property_key(name)}() {{ return null; }},")
        getters.append(f"set {_property_key(name)}(v) {{ readOnly(); }},")
    condition, kind = _FAST_PATHS[key.fast]
    return (
        RUNNER.replace("__COLUMNS__", " ".join(columns))
        .replace("__LOAD__", " ".join(load))
        .replace("__GETTERS__", "\n    ".join(getters))
        .replace("__RESET__", " ".join(reset))
        .replace("__FAST__", condition)
        .replace("__FAST_KIND__", kind)
        .replace("__SETTLE__", json.dumps(key.settle))
    )


# The result most formulas of a kind return, settled inline (condition on `v`, kind letter).
_FAST_PATHS = {
    "number": ('typeof v === "number" && isFiniteNumber(v)', '"n"'),
    "integer": ('typeof v === "number" && isSafeInteger(v)', '"n"'),
    "string": ('typeof v === "string"', '"s"'),
    "boolean": ('typeof v === "boolean"', '(v ? "t" : "f")'),
    "true": ("v === true", '"t"'),
    "none": ("false", '"x"'),
}


def fast_path_for(purpose: str, form: str, result_type: str) -> str:
    """Which result to settle inline for a formula."""
    if purpose == "validate":
        return "true"
    if result_type in ("string", "text") or (form == "template" and result_type == "any"):
        return "string"
    return {"integer": "integer", "decimal": "number", "any": "number", "boolean": "boolean"}.get(
        result_type, "none"
    )


def _property_key(name: str) -> str:
    # A computed key keeps "__proto__" an ordinary field instead of the prototype.
    quoted = json.dumps(name, ensure_ascii=True)
    return f"[{quoted}]" if name == "__proto__" else quoted
