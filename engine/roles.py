"""Roles as events: the content of kind-4873 role events and the role state they produce.

A role event assigns roles to pubkeys: `{"v":1,"roles":[{"p":"<hex>","role":"contributor","resources":["Key"]}]}`
(`role` is owner, maintainer, contributor or none; `resources`, only for a contributor, narrows the grant to
those resource keys). The role state of an event is computed from the role events in its causal past: for each
pubkey, the assignment of the latest such event by (clock, id) wins, starting from the genesis author as owner.
It is a pure function of that set of events, so every replica computes the same one (docs/PROTOCOL.md, "Roles").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import EventRejected, NotFound, ValidationError
from engine.limits import MAX_ASSIGNMENTS
from engine.protocol import KIND_ROLE

if TYPE_CHECKING:
    from engine.nostr_event import NostrEvent
    from engine.store import Store

OWNER, MAINTAINER, CONTRIBUTOR, NONE = "owner", "maintainer", "contributor", "none"
ROLES = (OWNER, MAINTAINER, CONTRIBUTOR)
ASSIGNABLE = (*ROLES, NONE)
_HEX = re.compile(r"^[0-9a-f]{64}$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Assignment:
    """One entry of a role event: `pubkey` holds `role` from now on (`none` revokes)."""

    pubkey: str
    role: str
    resources: frozenset[str] | None = None  # contributor only: None means every resource

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"p": self.pubkey, "role": self.role}
        if self.resources is not None:
            out["resources"] = sorted(self.resources)
        return out


@dataclass(frozen=True)
class RoleEntry:
    """A pubkey's role as set by the event `event_id` at `clock` (LWW by (clock, event id))."""

    role: str
    resources: frozenset[str] | None
    clock: int
    event_id: str

    def describe(self) -> str:
        if self.role == CONTRIBUTOR and self.resources is not None:
            return f"contributor for {', '.join(sorted(self.resources))}"
        return self.role


RoleState = dict[
    str, RoleEntry
]  # pubkey -> entry; never mutated once built, so states are shared by identity


def parse(content: dict[str, Any]) -> list[Assignment]:
    """Shape-check a role event's content; raises EventRejected with the reason."""
    entries = content.get("roles")
    if not isinstance(entries, list) or not entries:
        raise EventRejected("the role event has no roles")
    if len(entries) > MAX_ASSIGNMENTS:
        raise EventRejected(f"the role event assigns more than {MAX_ASSIGNMENTS} roles")
    out: list[Assignment] = []
    seen: set[str] = set()
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or set(e) - {"p", "role", "resources"}:
            raise EventRejected(f"role {i} is not an object of p, role and resources")
        pubkey, role, resources = e.get("p"), e.get("role"), e.get("resources")
        if not isinstance(pubkey, str) or not _HEX.match(pubkey):
            raise EventRejected(f"role {i}: p is not a 64-hex public key")
        if pubkey in seen:
            raise EventRejected(f"role {i}: the same public key is assigned twice")
        seen.add(pubkey)
        if role not in ASSIGNABLE:
            raise EventRejected(f"role {i}: unknown role {role!r}")
        scope: frozenset[str] | None = None
        if resources is not None:
            if role != CONTRIBUTOR:
                raise EventRejected(f"role {i}: only a contributor grant names resources")
            if not isinstance(resources, list) or not resources:
                raise EventRejected(f"role {i}: resources must be a non-empty list of resource keys")
            if not all(isinstance(r, str) and _KEY.match(r) for r in resources):
                raise EventRejected(f"role {i}: resources must be resource keys")
            scope = frozenset(resources)
        out.append(Assignment(pubkey, str(role), scope))
    return out


def content_of(assignments: Iterable[Assignment]) -> dict[str, Any]:
    return {"roles": [a.to_json() for a in assignments]}


def genesis_state(owner: str, genesis_id: str) -> RoleState:
    """Before any role event the genesis author is the only owner."""
    return {owner: RoleEntry(OWNER, None, 0, genesis_id)}


def merge(states: Iterable[RoleState]) -> RoleState:
    """The role state of an event whose parents have these states: per pubkey, the latest entry."""
    states = list(states)
    if not states:
        return {}
    first = states[0]
    if all(s is first for s in states[1:]):
        return first  # the common case (a chain, or branches without role events between them): no copy
    out: RoleState = dict(first)
    for s in states[1:]:
        if s is first:
            continue
        for pubkey, entry in s.items():
            cur = out.get(pubkey)
            if cur is None or (entry.clock, entry.event_id) > (cur.clock, cur.event_id):
                out[pubkey] = entry
    return out


def with_event(state: RoleState, clock: int, event_id: str, assignments: list[Assignment]) -> RoleState:
    out = dict(state)
    for a in assignments:
        cur = out.get(a.pubkey)
        if cur is None or (clock, event_id) > (cur.clock, cur.event_id):
            out[a.pubkey] = RoleEntry(a.role, a.resources, clock, event_id)
    return out


def state_to_json(state: RoleState) -> list[list[Any]]:
    """A role state as a snapshot header carries it: [pubkey, role, resources or null, clock, event id]."""
    return [[p, e.role, sorted(e.resources) if e.resources is not None else None, e.clock, e.event_id]
            for p, e in sorted(state.items())]  # fmt: skip


def state_from_json(data: Any) -> RoleState:
    """Read a snapshot header's role state; raises EventRejected when it is malformed."""
    if not isinstance(data, list) or len(data) > 100 * MAX_ASSIGNMENTS:
        raise EventRejected("the snapshot's roles are not a list")
    out: RoleState = {}
    for row in data:
        ok = (
            isinstance(row, list) and len(row) == 5 and isinstance(row[0], str) and _HEX.match(row[0])
            and row[1] in ASSIGNABLE and isinstance(row[3], int) and isinstance(row[4], str)
            and (row[2] is None or (row[1] == CONTRIBUTOR and isinstance(row[2], list)
                                    and all(isinstance(k, str) and _KEY.match(k) for k in row[2])))
        )  # fmt: skip
        if not ok:
            raise EventRejected("the snapshot's roles are malformed")
        out[row[0]] = RoleEntry(row[1], frozenset(row[2]) if row[2] is not None else None, row[3], row[4])
    if not owners(out):
        raise EventRejected("the snapshot's roles name no owner")
    return out


def role_of(state: RoleState, pubkey: str) -> RoleEntry | None:
    entry = state.get(pubkey)
    return entry if entry is not None and entry.role != NONE else None


def owners(state: RoleState) -> list[str]:
    return sorted(p for p, e in state.items() if e.role == OWNER)


# --- the stored log --------------------------------------------------------------------------------------------


def genesis_of(store: Store, dataset_id: str) -> tuple[str, str]:
    """(genesis author, genesis event id) of a dataset."""
    row = store.con.execute("SELECT owner, genesis_id FROM datasets WHERE id = ?", [dataset_id]).fetchone()
    if row is None:
        raise NotFound(f"No dataset {dataset_id} in this store.")
    return str(row[0]), str(row[1])


def stored_role_events(store: Store, dataset_id: str) -> list[tuple[str, int, list[Assignment]]]:
    """(event id, clock, assignments) of the dataset's stored role events, by (clock, id)."""
    import json

    rows = store.con.execute(
        "SELECT id, clock, raw FROM events WHERE dataset_id = ? AND kind = ? ORDER BY clock, id",
        [dataset_id, KIND_ROLE],
    ).fetchall()
    return [(eid, int(clock), parse(json.loads(json.loads(raw)["content"]))) for eid, clock, raw in rows]


def current_state(store: Store, dataset_id: str) -> RoleState:
    """The role state on top of the dataset's heads: every stored event is in their causal past.

    Cached per store until a role event, a genesis or a snapshot base of the dataset is stored (`forget_state`):
    every local write asks, and the answer changes rarely."""
    key = ("roles", dataset_id)
    cached: RoleState | None = store.memo.get(key)
    if cached is None:
        cached = store.memo[key] = _current_state(store, dataset_id)
    return cached


def forget_state(store: Store, dataset_id: str) -> None:
    store.memo.pop(("roles", dataset_id), None)


def _current_state(store: Store, dataset_id: str) -> RoleState:
    from engine.snapshot import base_of

    owner, genesis_id = genesis_of(store, dataset_id)
    base = base_of(store, dataset_id)
    # A partial history starts from the roles its snapshot carries; role events stored later win by LWW.
    state = base.roles if base is not None and base.roles else genesis_state(owner, genesis_id)
    for eid, clock, assignments in stored_role_events(store, dataset_id):
        state = with_event(state, clock, eid, assignments)
    return state


def members(store: Store, dataset_id: str) -> list[dict[str, Any]]:
    """Everyone holding a role now, owners first, with display names and resource names."""
    from engine import datasets, names

    state = current_state(store, dataset_id)
    key_names = {r.key: r.name for r in datasets.resources(store, dataset_id)}
    order = {OWNER: 0, MAINTAINER: 1, CONTRIBUTOR: 2}
    held = [(p, e) for p, e in state.items() if e.role != NONE]
    shown = names.display_names(store, [p for p, _ in held])
    out = []
    for pubkey, e in sorted(held, key=lambda pe: (order[pe[1].role], shown[pe[0]], pe[0])):
        resources = sorted(key_names.get(k, k) for k in e.resources) if e.resources is not None else None
        out.append({"pubkey": pubkey, "npub": names.npub(pubkey), "name": shown[pubkey], "role": e.role,
                    "resources": resources, "event": e.event_id})  # fmt: skip
    return out


# --- commands ---------------------------------------------------------------------------------------------------


def grant(
    store: Store, dataset_id: str, pubkeys: Iterable[str], role: str, resources: Iterable[str] = ()
) -> NostrEvent:
    """Sign one role event giving `role` to each of `pubkeys` (hex), optionally only for the named resources.

    Granting owner transfers ownership: the signer steps down to maintainer in the same event.
    """
    from engine import datasets, names, writes

    if role not in ROLES:
        raise ValidationError(f"A role is one of {', '.join(ROLES)}, not {role!r}.")
    wanted = list(dict.fromkeys(resources))
    if wanted and role != CONTRIBUTOR:
        raise ValidationError(
            f"Only the contributor role is limited to resources; a {role} may touch them all."
        )
    scope = frozenset(datasets.resource(store, dataset_id, r).key for r in wanted) if wanted else None
    state = current_state(store, dataset_id)
    todo = []
    for pubkey in dict.fromkeys(pubkeys):
        cur = role_of(state, pubkey)
        if cur is None or (cur.role, cur.resources) != (role, scope):
            todo.append(Assignment(pubkey, role, scope))
    if not todo:
        shown = list(names.display_names(store, list(dict.fromkeys(pubkeys))).values())
        raise ValidationError(
            f"Nothing to change: {', '.join(shown) or 'nobody'} already hold{'s' * (len(shown) == 1)} that role."
        )
    me = store.identity.pubkey
    if role == OWNER and all(a.pubkey != me for a in todo):
        todo.append(Assignment(me, MAINTAINER))  # a transfer: the previous owner stays on as maintainer
    return writes.append(store, dataset_id, KIND_ROLE, content_of(todo))


def revoke(store: Store, dataset_id: str, pubkey: str) -> NostrEvent:
    """Sign a role event that takes every role from `pubkey` in this dataset."""
    from engine import names, writes

    if role_of(current_state(store, dataset_id), pubkey) is None:
        raise ValidationError(
            f"{names.display_name(store, pubkey)} holds no role in this dataset; nothing to revoke."
        )
    return writes.append(store, dataset_id, KIND_ROLE, content_of([Assignment(pubkey, NONE)]))
