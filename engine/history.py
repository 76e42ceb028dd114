"""History and blame of a record, read from the op log: who changed what, when, old → new, verified or not."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine import datasets
from engine.identity import short_npub
from engine.names import display_names

if TYPE_CHECKING:
    from engine.store import Store


@dataclass(frozen=True)
class HistoryEntry:
    event_id: str
    author: str
    created_at: int
    clock: int
    op: str
    changes: dict[str, tuple[Any, Any]]  # field name -> (old, new)
    verified: bool
    author_name: str = ""  # engine/names.display_name: a petname, profile name or short npub
    # On ops a merge decision accepted: {"merge": decision id, "accepted_by": its author, "sources": {field name:
    # {"event", "author", "verified"}}}, the original events (signed by their authors) the values came from.
    accepted: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event_id,
            "author": self.author,
            "author_short": self.author_name or short_npub(self.author),
            "created_at": self.created_at,
            "clock": self.clock,
            "op": self.op,
            "changes": {k: {"old": o, "new": n} for k, (o, n) in self.changes.items()},
            "verified": self.verified,
            **({"accepted": self.accepted} if self.accepted else {}),
        }


def history(store: Store, dataset_id: str, resource: str, record_id: str) -> list[HistoryEntry]:
    """Every op on the record in (clock, id) order, with each field's value before and after."""
    res = datasets.resource(store, dataset_id, resource)
    names = {f["key"]: f["name"] for f in res.definition["fields"]}
    rows = store.con.execute(
        """SELECT o.event_id, e.pubkey, e.created_at, o.clock, o.op, o.fields, e.sig_ok
           FROM record_ops o JOIN events e ON e.id = o.event_id
           WHERE o.dataset_id = ? AND o.resource = ? AND o.record_id = ?
           ORDER BY o.clock, o.event_id, o.op_index""",
        [dataset_id, res.key, record_id],
    ).fetchall()
    state: dict[str, Any] = {}
    out = []
    shown = display_names(store, {r[1] for r in rows})
    for event_id, author, created_at, clock, op, fields_json, sig_ok in rows:
        fields = json.loads(fields_json) if fields_json else {}
        changes = {}
        for key, new in fields.items():
            old = state.get(key)
            if old != new or op == "create":
                changes[names.get(key, key)] = (old, new)
            state[key] = new
        out.append(
            HistoryEntry(event_id, author, created_at, clock, op, changes, bool(sig_ok), shown[author])
        )
    return _with_merge_sources(store, res.key, record_id, out, names)


def _with_merge_sources(
    store: Store, resource: str, record_id: str, entries: list[HistoryEntry], names: dict[str, str]
) -> list[HistoryEntry]:
    """Name the original author of each value a merge decision accepted ("by X, accepted by Y in merge Z")."""
    from dataclasses import replace

    from engine.merge_content import accepted_sources, is_decision

    out = []
    for e in entries:
        if is_decision(store, e.event_id):
            sources = accepted_sources(store, e.event_id, resource, record_id)
            named = {names.get(k, k) if k != "@" else "@": v for k, v in sources.items()}
            e = replace(e, accepted={"merge": e.event_id, "accepted_by": e.author, "sources": named})
        out.append(e)
    return out


def blame(store: Store, dataset_id: str, resource: str, record_id: str) -> dict[str, dict[str, Any]]:
    """For each field, the event and author that last set its current value."""
    out: dict[str, dict[str, Any]] = {}
    for entry in history(store, dataset_id, resource, record_id):
        for name in entry.changes:
            out[name] = {"event": entry.event_id, "author": entry.author, "created_at": entry.created_at,
                         "author_name": entry.author_name}  # fmt: skip
            source = (entry.accepted or {}).get("sources", {}).get(name)
            if source and source.get("author"):  # accepted in a merge: the value's author wrote the original
                out[name].update(event=source["event"], author=source["author"], verified=source["verified"],
                                 author_name=display_names(store, {source["author"]})[source["author"]],
                                 accepted_by=entry.author, merge=entry.event_id)  # fmt: skip
    return out
