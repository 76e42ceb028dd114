"""Parsing and shape-checking event contents by kind. A receiver trusts nothing it has not checked here."""

from __future__ import annotations

import json
import re
from typing import Any

from engine.errors import EventRejected
from engine.nostr_event import NostrEvent
from engine.protocol import (
    KIND_CHANGESET,
    KIND_GENESIS,
    KIND_MANIFEST,
    KIND_ROLE,
    KIND_SCHEMA,
    OPS,
    PARENT_MARKER,
    PROTOCOL_VERSION,
    TAG_CLOCK,
    TAG_DATASET,
    TAG_PARENT,
    TAG_VERSION,
    VISIBILITIES,
)

_ID = re.compile(r"^[0-9a-f]{32}$")
_RECORD_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def dataset_of(ev: NostrEvent) -> str:
    ds = ev.first_tag(TAG_DATASET)
    if ds is None or not _ID.match(ds):
        raise EventRejected("the event has no valid dataset tag D")
    return ds


def clock_of(ev: NostrEvent) -> int:
    value = ev.first_tag(TAG_CLOCK)
    if value is None or not value.isdigit() or len(value) > 15:
        raise EventRejected("the event has no valid clock tag")
    return int(value)


def parents_of(ev: NostrEvent) -> list[str]:
    parents = [t[1] for t in ev.tags if len(t) >= 4 and t[0] == TAG_PARENT and t[3] == PARENT_MARKER]
    if len(set(parents)) != len(parents):
        raise EventRejected("the event names the same parent twice")
    if any(len(p) != 64 for p in parents):
        raise EventRejected("a parent id is not 64 hex characters")
    if ev.id in parents:
        raise EventRejected("the event names itself as a parent")
    return parents


def version_of(ev: NostrEvent) -> int:
    value = ev.first_tag(TAG_VERSION)
    if value != str(PROTOCOL_VERSION):
        raise EventRejected(
            f"unknown protocol version {value!r} (this Kobold reads version {PROTOCOL_VERSION})"
        )
    return PROTOCOL_VERSION


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys all differ: parsers disagree on which of two equal keys wins (Python's the last,
    DuckDB's the first), so replicas taking different paths would apply different values."""
    data = dict(pairs)
    if len(data) != len(pairs):
        keys = [k for k, _ in pairs]
        raise EventRejected(f"the content repeats the key {next(k for k in keys if keys.count(k) > 1)!r}")
    return data


def load_json_object(ev: NostrEvent) -> dict[str, Any]:
    try:
        data = json.loads(ev.content, object_pairs_hook=_unique_keys)
    except ValueError:
        raise EventRejected("the content is not valid JSON") from None
    if not isinstance(data, dict):
        raise EventRejected("the content is not a JSON object")
    return data


def genesis(ev: NostrEvent) -> dict[str, Any]:
    data = load_json_object(ev)
    for key in ("name", "type", "visibility", "nonce"):
        if not isinstance(data.get(key), str):
            raise EventRejected(f"the genesis content lacks a string {key!r}")
    if data["visibility"] not in VISIBILITIES:
        raise EventRejected(f"unknown visibility {data['visibility']!r}")
    origin = data.get("origin")
    if origin is not None and not (isinstance(origin, dict) and isinstance(origin.get("dataset"), str)):
        raise EventRejected("the genesis origin must name a dataset")
    return data


def manifest(ev: NostrEvent) -> dict[str, Any]:
    data = {k: v for k, v in load_json_object(ev).items() if k != "v"}
    allowed = {"name", "description", "visibility", "type"}
    if not data or set(data) - allowed or not all(isinstance(v, str) for v in data.values()):
        raise EventRejected("a manifest change holds only string name, description, type or visibility")
    if "visibility" in data and data["visibility"] not in VISIBILITIES:
        raise EventRejected(f"unknown visibility {data['visibility']!r}")
    return data


def schema(ev: NostrEvent) -> dict[str, Any]:
    data = load_json_object(ev)
    definition = data.get("definition")
    if not isinstance(definition, dict):
        raise EventRejected("the schema content lacks a definition")
    if not isinstance(definition.get("key"), str) or not _KEY.match(definition["key"]):
        raise EventRejected("the schema definition has no valid key")
    fields = definition.get("fields")
    if not isinstance(fields, list) or not all(
        isinstance(f, dict)
        and isinstance(f.get("key"), str)
        and _KEY.match(f["key"])
        and isinstance(f.get("type"), str)
        for f in fields
    ):
        raise EventRejected("the schema definition's fields are malformed")
    return data


def changeset(ev: NostrEvent) -> list[dict[str, Any]]:
    data = load_json_object(ev)
    ops = data.get("ops")
    if not isinstance(ops, list) or not ops:
        raise EventRejected("the changeset has no ops")
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or op.get("o") not in OPS:
            raise EventRejected(f"op {i} has no valid operation")
        if not isinstance(op.get("r"), str) or not _KEY.match(op["r"]):
            raise EventRejected(f"op {i} has no valid resource")
        if not isinstance(op.get("id"), str) or not _RECORD_ID.match(op["id"]):
            raise EventRejected(f"op {i} has no valid record id")
        fields = op.get("f", {})
        if not isinstance(fields, dict) or not all(isinstance(k, str) and _KEY.match(k) for k in fields):
            raise EventRejected(f"op {i} has malformed fields")
        if op["o"] in ("delete", "restore") and fields:
            raise EventRejected(f"op {i}: a {op['o']} carries no fields")
    return ops


def role(ev: NostrEvent) -> Any:
    from engine.roles import parse

    return parse(load_json_object(ev))


PARSERS = {KIND_GENESIS: genesis, KIND_MANIFEST: manifest, KIND_SCHEMA: schema, KIND_CHANGESET: changeset,
           KIND_ROLE: role}  # fmt: skip
