"""Who may do what: every event is judged by the role events in its own causal past (docs/PROTOCOL.md, "Roles").

- schema changes, manifest changes and merge decisions: owner or maintainer;
- record changesets: owner, maintainer, or a contributor whose grant covers every resource the changeset touches;
- role events: owners assign any role; maintainers grant and revoke the contributor role of non-maintainers;
  anyone may give up their own role; no role event may leave the dataset without an owner;
- genesis and merge proposals: anyone (a proposal asks; it changes nothing).

Receivers reject unauthorized events with a reason (`check_batch`, called by engine/ingest.py for both the
per-event and the bulk path); local writes are refused before signing (`check_local`, called by engine/writes.py
and engine/csv_import.py) with a hint to fork and propose instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine import roles
from engine.errors import EventRejected, NotAuthorized, ValidationError
from engine.identity import short_npub
from engine.protocol import (
    KIND_CHANGESET,
    KIND_DECISION,
    KIND_GENESIS,
    KIND_MANIFEST,
    KIND_ROLE,
    KIND_SCHEMA,
)
from engine.roles import CONTRIBUTOR, MAINTAINER, NONE, OWNER, Assignment, RoleState

if TYPE_CHECKING:
    from engine.apply import Checked
    from engine.snapshot import Base
    from engine.store import Store

MAINTAINER_OR_OWNER = "the maintainer or owner role"
# What each kind that needs a maintainer does, in the words of a refusal.
_MAINTAINER_KINDS = {
    KIND_SCHEMA: "change the schema",
    KIND_MANIFEST: "change the dataset's name, description, type or visibility",
    KIND_DECISION: "decide on merge proposals",
}


@dataclass(frozen=True)
class Refusal:
    """Why an author may not do something: what they tried, what it needs, what they hold."""

    what: str
    needed: str
    held: str
    data: bool = True  # a data or schema write, which a fork and a merge proposal can still offer

    def reason(self, author: str) -> str:
        """The reason recorded for an event from elsewhere."""
        return (
            f"{short_npub(author)} may not {self.what}: that needs {self.needed}, "
            f"and their role in the event's causal past is {self.held}"
        )

    def local_message(self) -> str:
        """The message for a write refused on this store before signing."""
        text = f"You may not {self.what} in this dataset: that needs {self.needed}, and your role is {self.held}."
        if self.data:
            text += " Fork the dataset (`kobold fork`) and propose your changes (`kobold propose`) instead."
        return text


def held_text(entry: roles.RoleEntry | None) -> str:
    return entry.describe() if entry is not None else "none"


def refusal(
    state: RoleState, author: str, kind: int, body: Any = None,
    resources: Callable[[], frozenset[str]] | None = None, name: Callable[[str], str] = short_npub,
) -> Refusal | None:  # fmt: skip
    """None when `author` may sign an event of `kind` (with this role-event `body`, or a changeset touching
    `resources()`, asked only when it matters) given the role state of the event's causal past."""
    entry = roles.role_of(state, author)
    role = entry.role if entry else NONE
    held = held_text(entry)
    if kind in _MAINTAINER_KINDS:
        return (
            None
            if role in (OWNER, MAINTAINER)
            else Refusal(_MAINTAINER_KINDS[kind], MAINTAINER_OR_OWNER, held)
        )
    if kind == KIND_CHANGESET:
        if role in (OWNER, MAINTAINER) or (role == CONTRIBUTOR and entry and entry.resources is None):
            return None
        touched = resources() if resources else frozenset()
        scope = (
            entry.resources if entry and role == CONTRIBUTOR and entry.resources is not None else frozenset()
        )
        outside = sorted(touched - scope)
        if role == CONTRIBUTOR and not outside:
            return None
        listed = ", ".join(outside) if outside else "this dataset"
        return Refusal(f"write records of {listed}",
                       f"a contributor grant for {listed} or {MAINTAINER_OR_OWNER}", held)  # fmt: skip
    if kind == KIND_ROLE:
        return _role_refusal(state, author, role, held, list(body or []), name)
    return None  # genesis, proposals, snapshots (engine/snapshot.py has its own rule)


def _role_refusal(
    state: RoleState,
    author: str,
    role: str,
    held: str,
    assignments: list[Assignment],
    name: Callable[[str], str],
) -> Refusal | None:
    for a in assignments:
        if a.pubkey == author and a.role == NONE:
            continue  # anyone may step down
        if role == OWNER:
            continue
        target = roles.role_of(state, a.pubkey)
        target_role = target.role if target else NONE
        if a.role in (OWNER, MAINTAINER) or target_role in (OWNER, MAINTAINER):
            what = (
                f"make {name(a.pubkey)} {a.role}"
                if a.role != NONE
                else f"revoke the role of {name(a.pubkey)}"
            )
            return Refusal(what, "the owner role", held, data=False)
        if role != MAINTAINER:
            what = (
                f"grant {name(a.pubkey)} the contributor role"
                if a.role != NONE
                else f"revoke the role of {name(a.pubkey)}"
            )
            return Refusal(what, MAINTAINER_OR_OWNER, held, data=False)
    after = roles.with_event(state, 2**62, "f" * 64, assignments)
    if not roles.owners(after):
        return Refusal(
            "leave the dataset without an owner",
            "another owner first (grant one, then step down)",
            held,
            data=False,
        )
    return None


# --- local writes ---------------------------------------------------------------------------------------------


def check_local(
    store: Store, dataset_id: str, kind: int, body: Any = None, resources: Sequence[str] = ()
) -> None:
    """Refuse, before anything is signed, an event this store's identity may not write on the current heads."""
    if kind == KIND_GENESIS:
        return
    if kind == KIND_ROLE and isinstance(body, dict):
        try:
            body = roles.parse(body)
        except EventRejected as exc:
            raise ValidationError(f"This role change is malformed: {exc.reason}.") from None
    state = roles.current_state(store, dataset_id)
    from engine import datasets, names

    def resource_names() -> frozenset[str]:
        by_key = {r.key: r.name for r in datasets.resources(store, dataset_id)}
        return frozenset(by_key.get(k, k) for k in resources)

    author = store.identity.pubkey
    entry = roles.role_of(state, author)
    if entry is not None and entry.role == CONTRIBUTOR and entry.resources is not None:
        # Name the grant's resources as the user knows them, like the resources they tried to write.
        by_key = {r.key: r.name for r in datasets.resources(store, dataset_id)}
        state = {**state, author: roles.RoleEntry(CONTRIBUTOR, frozenset(by_key.get(k, k) for k in entry.resources),
                                                  entry.clock, entry.event_id)}  # fmt: skip
    found = refusal(state, author, kind, body, resource_names, lambda p: names.display_name(store, p))
    if found is not None:
        raise NotAuthorized(found.local_message())


def require(
    store: Store, dataset_id: str, author: str, kind: int, *, body: Any = None, resources: Sequence[str] = (),
    parents: Sequence[str] | None = None,
) -> None:  # fmt: skip
    """Raise NotAuthorized unless `author` may sign an event of `kind` on `parents` (default: the current heads).

    For callers outside the write path, e.g. accepting a merge proposal (kind 4875) or checking a proposal's
    events before offering to apply them.
    """
    state = state_at(store, dataset_id, parents)
    found = refusal(state, author, kind, body, lambda: frozenset(resources))
    if found is not None:
        raise NotAuthorized(found.reason(author))


def state_at(store: Store, dataset_id: str, parents: Sequence[str] | None = None) -> RoleState:
    """The role state of an event that would name `parents` (default: the current heads)."""
    if parents is None:
        return roles.current_state(store, dataset_id)
    tracker = RoleTracker.from_store(store, dataset_id)
    return roles.merge(tracker.state_of(p) for p in parents)


# --- events from elsewhere ------------------------------------------------------------------------------------


class RoleTracker:
    """Role states of a dataset's events, computed along the DAG (like engine/event_checks.SchemaTracker).

    Each event's state is the merge of its parents' states plus its own assignments; a chain of events without
    role events between them shares one state object, so the walk is cheap.
    """

    def __init__(self, seed: dict[str, RoleState] | None = None) -> None:
        self._states: dict[str, RoleState] = dict(seed or {})

    @classmethod
    def from_store(
        cls, store: Store, dataset_id: str, seed: dict[str, RoleState] | None = None
    ) -> RoleTracker:
        tracker = cls(seed)
        rows = store.con.execute(
            "SELECT id, clock, parents, kind, pubkey, CASE WHEN kind = ? THEN raw END FROM events "
            "WHERE dataset_id = ? ORDER BY clock, id",
            [KIND_ROLE, dataset_id],
        ).fetchall()
        for event_id, clock, parents, kind, pubkey, raw in rows:
            body = roles.parse(json.loads(json.loads(raw)["content"])) if raw is not None else None
            tracker.add(event_id, clock, parents, kind, pubkey, body)
        return tracker

    def before(self, parents: Sequence[str]) -> RoleState:
        return roles.merge(self._states.get(p, {}) for p in parents)

    def add(self, event_id: str, clock: int, parents: Sequence[str], kind: int, author: str,
            body: list[Assignment] | None) -> RoleState:  # fmt: skip
        if kind == KIND_GENESIS:
            state = roles.genesis_state(author, event_id)
        else:
            state = self.before(parents)
            if kind == KIND_ROLE and body:
                state = roles.with_event(state, clock, event_id, body)
        self._states[event_id] = state
        return state

    def state_of(self, event_id: str) -> RoleState:
        return self._states.get(event_id, {})


def check_batch(
    store: Store, ready: list[Checked], bases: dict[str, Base]
) -> tuple[dict[str, str], set[str]]:
    """Judge a batch of events (parents first) by the role events in each one's causal past.

    Returns (event id -> reason, for events to reject; ids to hold). A dataset with no role event stored or
    arriving is decided in O(1) per event: only its genesis author may write. While a dataset's history is
    partial (bootstrapped from a snapshot), role events before the snapshot may be missing: an event that looks
    unauthorized waits until the history is complete instead of being rejected.
    """
    refused: dict[str, str] = {}
    held: set[str] = set()
    by_dataset: dict[str, list[Checked]] = {}
    for c in ready:
        by_dataset.setdefault(c.dataset_id, []).append(c)
    for ds, events in by_dataset.items():
        base = bases.get(ds)
        genesis = next((c for c in events if c.event.kind == KIND_GENESIS), None)
        owner, genesis_id = (
            (genesis.event.pubkey, genesis.event.id) if genesis else roles.genesis_of(store, ds)
        )
        has_roles = any(c.event.kind == KIND_ROLE for c in events) or bool(
            genesis is None
            and store.con.execute(
                "SELECT 1 FROM events WHERE dataset_id = ? AND kind = ? LIMIT 1", [ds, KIND_ROLE]
            ).fetchone()
        )
        tracker: RoleTracker | None = None
        fixed = roles.genesis_state(owner, genesis_id)
        if base is not None and base.roles:
            # The snapshot carries the roles at its heads (signed by the owner, like its state hash).
            fixed, has_roles = base.roles, True
        if has_roles:
            seed = {h: fixed for h in base.heads} if base else None
            tracker = RoleTracker(seed) if genesis else RoleTracker.from_store(store, ds, seed)
        blocked: set[str] = set()
        for c in events:
            if any(p in blocked for p in c.parents):
                blocked.add(c.event.id)  # a descendant of a refused event waits (engine/ingest.py holds it)
                continue
            state = tracker.before(c.parents) if tracker and c.event.kind != KIND_GENESIS else fixed
            found = refusal(state, c.event.pubkey, c.event.kind, c.body, _resources_of(c))
            if found is not None:
                blocked.add(c.event.id)
                if base is not None:
                    held.add(c.event.id)
                else:
                    refused[c.event.id] = found.reason(c.event.pubkey)
                continue
            if tracker:
                tracker.add(c.event.id, c.clock, c.parents, c.event.kind, c.event.pubkey,
                            c.body if c.event.kind == KIND_ROLE else None)  # fmt: skip
    return refused, held


def _resources_of(c: Checked) -> Callable[[], frozenset[str]]:
    """The resources a changeset touches, parsed only when a scoped contributor wrote it."""

    def parse() -> frozenset[str]:
        from engine import content

        try:
            ops = c.body if isinstance(c.body, list) else content.changeset(c.event)
        except EventRejected:
            return frozenset()  # malformed: the content check rejects it with its own reason
        return frozenset(str(op["r"]) for op in ops)

    return parse
