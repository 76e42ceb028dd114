"""The JavaScript runner that evaluates one formula over a chunk of records inside the sandbox.

Kept as a Python string (not a .js file) so it ships with the package without package-data settings.
"""

from __future__ import annotations

# One runner per (formula, input layout, result type); sandbox.runner_source() fills the placeholders:
# __COLUMNS__ declares c0, c1, … (and a parse cache per JSON column, cleared by __RESET__); __LOAD__
# stores a column; __GETTERS__ are the record's fields; __FAST__ / __FAST_KIND__ settle the common
# result inline, else the __SETTLE__ check runs. The record is one frozen object whose getters read
# the current row, so a formula cannot change it and nothing is allocated per record. The formula is
# passed in, so it shares no scope with this code. run() returns the end index, or -(i + 1) right
# after record i ran out of memory.
RUNNER = r"""
(function (formula) {
  "use strict";
  const isArray = Array.isArray, isSafeInteger = Number.isSafeInteger, isInteger = Number.isInteger;
  const isFiniteNumber = Number.isFinite, stringify = JSON.stringify, parse = JSON.parse;
  const freeze = Object.freeze, isFrozen = Object.isFrozen, keys = Object.keys;
  const getOwnPropertyDescriptors = Object.getOwnPropertyDescriptors;
  const DateClass = Date, getTime = Date.prototype.getTime, toISOString = Date.prototype.toISOString;
  const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
  const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;
  const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
  const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f\uD800-\uDFFF]/g;
  let row = 0, kinds = [], values = [];  // row: the record being evaluated (the getters read it)
  __COLUMNS__

  function deepFreeze(value) {
    if (value !== null && typeof value === "object" && !isFrozen(value)) {
      freeze(value);
      for (const key of keys(value)) deepFreeze(value[key]);
    }
    return value;
  }
  const fromJson = (v) => (typeof v === "string" ? deepFreeze(parse(v)) : v);
  function readOnly() { throw new TypeError("the record is read-only: a formula cannot change its fields"); }
  const record = {
    __GETTERS__
  };
  const descriptors = getOwnPropertyDescriptors(record);
  for (const key of keys(descriptors)) {
    freeze(descriptors[key].get);
    freeze(descriptors[key].set);
  }
  freeze(record);

  function typeName(v) {
    if (v === null) return "null";
    if (isArray(v)) return "a list";
    if (v instanceof DateClass) return "a date object";
    const type = typeof v;
    return type === "object" ? "an object" : type;
  }
  function numberProblem(v) {
    return v !== v ? "the result is not a number (NaN)" : "the result is infinite";
  }
  function isOutOfMemory(e) {
    return e === null || (e instanceof InternalError && e.message === "out of memory");
  }
  function describe(e) {
    try {
      if (e instanceof Error) {
        const message = e.message;
        return String(e.name) + (message === undefined || message === "" ? "" : ": " + String(message));
      }
      if (typeof e === "string") return e;
      return "the formula threw " + typeName(e);
    } catch (inner) {
      return "the formula threw an error that cannot be shown";
    }
  }
  function dateOnly(v) {
    const time = getTime.call(v);
    return time !== time ? null : toISOString.call(v).slice(0, 10);
  }
  function validIsoDate(text) {
    if (!ISO_DATE.test(text)) return false;
    const time = getTime.call(new DateClass(text));
    return time === time && toISOString.call(new DateClass(time)).slice(0, 10) === text;
  }
  function put(i, kind, value) { kinds[i] = kind; values[i] = value; }
  function wrongType(i, expected, v) { put(i, "e", "expected " + expected + ", got " + typeName(v)); }

  const SETTLE = {
    any(v, i) {
      switch (typeof v) {
        case "undefined": return put(i, "z", null);
        case "number": return isFiniteNumber(v) ? put(i, "n", v) : put(i, "e", numberProblem(v));
        case "string": return put(i, "s", v);
        case "boolean": return put(i, v ? "t" : "f", v);
        case "bigint": return isSafeInteger(Number(v)) ? put(i, "n", Number(v)) : put(i, "e", "the whole number is too large");
        case "object": {
          if (v === null) return put(i, "z", null);
          if (v instanceof DateClass) {
            const time = getTime.call(v);
            return time === time ? put(i, "s", toISOString.call(v)) : put(i, "e", "the result is an invalid date");
          }
          const json = stringify(v);
          return json === undefined ? put(i, "z", null) : put(i, "j", json);
        }
        default: return put(i, "e", "expected a value, got " + typeName(v));
      }
    },
    integer(v, i) {
      if (v === null || v === undefined) return put(i, "z", null);
      if (typeof v === "bigint") v = Number(v);
      if (typeof v !== "number") return wrongType(i, "a whole number", v);
      if (!isFiniteNumber(v)) return put(i, "e", numberProblem(v));
      if (!isInteger(v)) return put(i, "e", "expected a whole number, got " + v);
      return isSafeInteger(v) ? put(i, "n", v) : put(i, "e", "the whole number " + v + " is too large");
    },
    decimal(v, i) {
      if (v === null || v === undefined) return put(i, "z", null);
      if (typeof v !== "number") return wrongType(i, "a number", v);
      return isFiniteNumber(v) ? put(i, "n", v) : put(i, "e", numberProblem(v));
    },
    boolean(v, i) {
      if (v === null || v === undefined) return put(i, "z", null);
      return typeof v === "boolean" ? put(i, v ? "t" : "f", v) : wrongType(i, "true or false", v);
    },
    string(v, i) {
      if (v === null || v === undefined) return put(i, "z", null);
      if (typeof v === "string") return put(i, "s", v);
      if (typeof v === "boolean") return put(i, "s", String(v));
      if (typeof v === "number") return isFiniteNumber(v) ? put(i, "s", String(v)) : put(i, "e", numberProblem(v));
      return wrongType(i, "text", v);
    },
    date(v, i) {
      if (v === null || v === undefined) return put(i, "z", null);
      if (v instanceof DateClass) {
        const text = dateOnly(v);
        return text === null ? put(i, "e", "the result is an invalid date") : put(i, "s", text);
      }
      if (typeof v === "string" && validIsoDate(v)) return put(i, "s", v);
      if (typeof v === "string") return put(i, "e", "expected a date as YYYY-MM-DD, got '" + v.slice(0, 40) + "'");
      return wrongType(i, "a date", v);
    },
    datetime(v, i) {
      if (v === null || v === undefined) return put(i, "z", null);
      if (v instanceof DateClass) {
        const time = getTime.call(v);
        return time === time ? put(i, "s", toISOString.call(v)) : put(i, "e", "the result is an invalid date");
      }
      if (typeof v === "string" && ISO_DATE_TIME.test(v)) {
        const time = getTime.call(new DateClass(v));
        if (time === time) return put(i, "s", v);
      }
      if (typeof v === "string") return put(i, "e", "expected an ISO date and time, got '" + v.slice(0, 40) + "'");
      return wrongType(i, "a date and time", v);
    },
    validate(v, i) {
      if (v === true) return put(i, "t", true);
      if (typeof v === "string" && v !== "") return put(i, "s", v);
      return put(i, "s", "validation failed");
    },
  };
  SETTLE.text = SETTLE.string;
  const settle = SETTLE[__SETTLE__];

  function load(index, ...column) {
    switch (index) {
      __LOAD__
    }
  }
  function reset() { __RESET__ kinds = []; values = []; row = 0; }
  function run(start, end) {
    for (let i = start; i < end; i++) {
      row = i;
      try {
        const v = formula(record);
        if (__FAST__) { kinds[i] = __FAST_KIND__; values[i] = v; } else settle(v, i);
      } catch (e) {
        if (isOutOfMemory(e)) {
          put(i, "m", null);
          return -(i + 1);
        }
        put(i, "e", describe(e));
      }
    }
    row = end;
    return end;
  }
  function fail(i) { put(i, "x", null); }
  function kindsText(count) { return (kinds.length === count ? kinds : kinds.slice(0, count)).join(""); }
  function jsonText(s) {
    return '"' + s.replace(LONE_SURROGATE, "\uFFFD").replace(NEEDS_ESCAPE, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")) + '"';
  }
  // Texts travel as one string joined by \u0001; textsLength() lets the host tell whether the bridge
  // cut it at a \u0000. The host falls back to an escaped JSON list (asJson) when the parts do not add
  // up (a \u0001 or \u0000 inside) or the bridge cannot decode it (a lone surrogate).
  let joinedLength = 0;
  function texts(count, asJson, allText) {
    let parts = values;
    if (!allText || values.length !== count) {
      parts = [];
      for (let i = 0; i < count; i++) {
        const kind = kinds[i];
        if (kind === "s" || kind === "e" || kind === "j") parts.push(values[i]);
      }
    }
    if (asJson) return "[" + parts.map(jsonText).join(",") + "]";
    const joined = parts.join("\u0001");
    joinedLength = joined.length;
    return joined;
  }
  function textsLength() { return joinedLength; }
  function value(i) { return values[i]; }
  function at() { return row; }
  return [load, reset, run, fail, kindsText, texts, textsLength, value, at];
})
"""
