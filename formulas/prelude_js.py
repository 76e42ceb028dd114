"""The JavaScript that turns a bare QuickJS context into the formula sandbox.

Kept as a Python string (not a .js file) so it ships with the package without package-data settings.
"""

from __future__ import annotations

# Evaluated once per context. Removes the clock and randomness, makes Date behave as if the machine
# were on UTC, installs ref(), then freezes every object reachable from globalThis so that no formula
# can leave state behind for the next record. Returns setRefs for the host; no global reaches it.
PRELUDE = r"""
(function () {
  "use strict";
  const g = globalThis;
  const freeze = Object.freeze, defineProperty = Object.defineProperty, keys = Object.keys;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor, getPrototypeOf = Object.getPrototypeOf;
  const ownKeys = Reflect.ownKeys, construct = Reflect.construct, isArray = Array.isArray;
  const RealDate = Date, DateProto = Date.prototype, UTC = Date.UTC, parseDateText = Date.parse;
  const getTime = DateProto.getTime;
  const NO_CLOCK = "the current date and time are not available in formulas, so that every replica computes the same value";

  delete g.__date_clock;
  defineProperty(Math, "random", { value: function random() {
    throw new TypeError("Math.random is not available in formulas, so that every replica computes the same value");
  } });

  // ISO 8601 dates; a date-time without an offset is read as UTC (not local time).
  const ISO = /^([+-]\d{6}|\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
  const EXPLICIT_ZONE = /\b(?:GMT|UTC)\b/;
  function parseDate(text) {
    const s = String(text).trim();
    const m = ISO.exec(s);
    if (m === null) return EXPLICIT_ZONE.test(s) ? parseDateText(s) : NaN;
    const month = m[2] === undefined ? 0 : +m[2] - 1, day = m[3] === undefined ? 1 : +m[3];
    const hour = m[4] === undefined ? 0 : +m[4], minute = m[5] === undefined ? 0 : +m[5];
    const second = m[6] === undefined ? 0 : +m[6];
    const ms = m[7] === undefined ? 0 : Math.floor(+("0." + m[7]) * 1000);
    const d = new RealDate(0);
    d.setUTCFullYear(+m[1], month, day);
    d.setUTCHours(hour, minute, second, ms);
    if (d.getUTCMonth() !== month || d.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return NaN;
    let time = getTime.call(d);
    const zone = m[8];
    if (zone !== undefined && zone.toUpperCase() !== "Z") {
      const sign = zone[0] === "-" ? -1 : 1;
      const digits = zone.slice(1).replace(":", "");
      time -= sign * (+digits.slice(0, 2) * 60 + +(digits.slice(2) || "0")) * 60000;
    }
    return time;
  }
  function SafeDate(...args) {
    if (new.target === undefined || args.length === 0) throw new TypeError(NO_CLOCK);
    let time;
    if (args.length === 1) {
      const value = args[0];
      if (value instanceof RealDate) time = getTime.call(value);
      else if (typeof value === "string") time = parseDate(value);
      else time = Number(value);
    } else {
      time = UTC(...args);
    }
    return construct(RealDate, [time], new.target);
  }
  defineProperty(SafeDate, "name", { value: "Date" });
  defineProperty(SafeDate, "length", { value: 7 });
  SafeDate.prototype = DateProto;
  SafeDate.UTC = UTC;
  SafeDate.parse = function parse(text) { return parseDate(text); };
  SafeDate.now = function now() { throw new TypeError(NO_CLOCK); };
  defineProperty(DateProto, "constructor", { value: SafeDate });
  defineProperty(g, "Date", { value: SafeDate });

  // Local time is UTC everywhere, so `getDate()` and friends agree on every replica.
  for (const unit of ["FullYear", "Month", "Date", "Day", "Hours", "Minutes", "Seconds", "Milliseconds"]) {
    defineProperty(DateProto, "get" + unit, { value: DateProto["getUTC" + unit] });
    if (unit !== "Day") defineProperty(DateProto, "set" + unit, { value: DateProto["setUTC" + unit] });
  }
  const getUTCFullYear = DateProto.getUTCFullYear, getUTCMonth = DateProto.getUTCMonth;
  const getUTCDate = DateProto.getUTCDate, getUTCDay = DateProto.getUTCDay, getUTCHours = DateProto.getUTCHours;
  const getUTCMinutes = DateProto.getUTCMinutes, getUTCSeconds = DateProto.getUTCSeconds;
  const setUTCFullYear = DateProto.setUTCFullYear;
  const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (n, width) => String(n).padStart(width, "0");
  const yearText = (y) => (y < 0 ? "-" + pad(-y, 6) : pad(y, 4));
  const dateText = (d) => DAYS[getUTCDay.call(d)] + " " + MONTHS[getUTCMonth.call(d)] + " " + pad(getUTCDate.call(d), 2) + " " + yearText(getUTCFullYear.call(d));
  const clockText = (d) => pad(getUTCHours.call(d), 2) + ":" + pad(getUTCMinutes.call(d), 2) + ":" + pad(getUTCSeconds.call(d), 2);
  const localDateText = (d) => pad(getUTCMonth.call(d) + 1, 2) + "/" + pad(getUTCDate.call(d), 2) + "/" + yearText(getUTCFullYear.call(d));
  const localClockText = (d) => {
    const h = getUTCHours.call(d);
    return pad(h % 12 || 12, 2) + ":" + pad(getUTCMinutes.call(d), 2) + ":" + pad(getUTCSeconds.call(d), 2) + (h < 12 ? " AM" : " PM");
  };
  function formatter(name, format) {
    defineProperty(DateProto, name, { value: { [name]() {
      const time = getTime.call(this);
      return time !== time ? "Invalid Date" : format(this);
    } }[name] });
  }
  formatter("toString", (d) => dateText(d) + " " + clockText(d) + " GMT+0000");
  formatter("toDateString", dateText);
  formatter("toTimeString", (d) => clockText(d) + " GMT+0000");
  formatter("toLocaleString", (d) => localDateText(d) + ", " + localClockText(d));
  formatter("toLocaleDateString", localDateText);
  formatter("toLocaleTimeString", localClockText);
  defineProperty(DateProto, "getTimezoneOffset", { value: function getTimezoneOffset() {
    const time = getTime.call(this);
    return time !== time ? NaN : 0;
  } });
  if (DateProto.getYear !== undefined) {
    defineProperty(DateProto, "getYear", { value: function getYear() { return getUTCFullYear.call(this) - 1900; } });
    defineProperty(DateProto, "setYear", { value: function setYear(y) {
      const year = Number(y);
      return setUTCFullYear.call(this, year >= 0 && year <= 99 ? 1900 + year : year);
    } });
  }

  // ref(id) returns the referenced record (frozen) or null; a list of ids gives a list of records.
  let refs = new Map();
  function lookup(id) {
    if (id === null || id === undefined) return null;
    const found = refs.get(typeof id === "string" ? id : String(id));
    return found === undefined ? null : found;
  }
  function ref(id) {
    if (!isArray(id)) return lookup(id);
    const found = [];
    for (let i = 0; i < id.length; i++) found.push(lookup(id[i]));
    return freeze(found);
  }
  defineProperty(g, "ref", { value: ref });

  function deepFreeze(value) {
    if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
      freeze(value);
      for (const key of keys(value)) deepFreeze(value[key]);
    }
    return value;
  }
  function setRefs(json) {
    const loaded = new Map();
    if (json !== null) {
      const parsed = JSON.parse(json);
      for (const id of keys(parsed)) loaded.set(id, deepFreeze(parsed[id]));
    }
    refs = loaded;
  }

  // A frozen prototype makes `obj.toString = f` throw (the "override mistake"); accessors keep it working.
  function allowOverride(proto, name) {
    const desc = getOwnPropertyDescriptor(proto, name);
    if (desc === undefined || !("value" in desc) || !desc.writable) return;
    const value = desc.value;
    defineProperty(proto, name, {
      get: function () { return value; },
      set: function (v) {
        if (this === proto) throw new TypeError("Cannot assign to read only property '" + String(name) + "'");
        defineProperty(this, name, { value: v, writable: true, enumerable: true, configurable: true });
      },
      enumerable: desc.enumerable,
      configurable: false,
    });
  }
  for (const name of ["constructor", "toString", "valueOf", "toLocaleString", "hasOwnProperty"]) allowOverride(Object.prototype, name);
  for (const E of [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, InternalError, AggregateError]) {
    for (const name of ["constructor", "name", "message", "toString"]) allowOverride(E.prototype, name);
  }
  for (const name of ["constructor", "toString"]) allowOverride(Function.prototype, name);

  function harden(root) {
    const seen = new Set();
    const stack = [root];
    while (stack.length > 0) {
      const value = stack.pop();
      if (value === null || (typeof value !== "object" && typeof value !== "function") || seen.has(value)) continue;
      seen.add(value);
      freeze(value);
      stack.push(getPrototypeOf(value));
      for (const key of ownKeys(value)) {
        const desc = getOwnPropertyDescriptor(value, key);
        if ("value" in desc) stack.push(desc.value);
        else stack.push(desc.get, desc.set);
      }
    }
  }
  harden(g);

  return setRefs;
})()
"""
