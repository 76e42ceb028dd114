"""The one entry point for events from outside (bundles, relays, other stores): trust nothing.

parse → size → verify id and signature → kind, version, time, envelope and content shape → known dataset and
parents (else hold it, bounded) → content against the schema as of the event → store idempotently → project.
A rejected event is recorded with its reason and never touches a projection; the rest of the batch still applies.
Large batches take the set-based path (engine/bulk_apply.py); snapshots go to engine/snapshot.py.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from engine import authorization, bulk_apply, content, event_checks, forks, merge_content, snapshot
from engine.apply import Checked, apply_events
from engine.errors import EventRejected
from engine.limits import MAX_EVENT_BYTES, MAX_FUTURE_SECONDS, MAX_PENDING
from engine.nostr_event import NostrEvent
from engine.protocol import (
    DATASET_KINDS,
    KIND_CHANGESET,
    KIND_DECISION,
    KIND_GENESIS,
    KIND_NAMES,
    KIND_PROPOSAL,
    KIND_SCHEMA,
    KIND_SNAPSHOT,
)
from engine.writes import dataset_id_for

if TYPE_CHECKING:
    from engine.store import Store

BULK_MIN_CHANGESETS = 64  # from this many changesets in one batch on, the set-based path runs
NOT_YET_SUPPORTED: set[int] = set()  # kinds this version refuses to store

Progress = Callable[[str, int, int], None]


@dataclass
class IngestReport:
    applied: int = 0
    duplicates: int = 0
    pending: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (event id or "", reason)
    snapshots: int = 0  # snapshots a dataset was bootstrapped from
    completed_history: list[str] = field(
        default_factory=list
    )  # datasets whose partial history became complete

    def to_dict(self) -> dict[str, object]:
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "pending": self.pending,
            "rejected": [{"event": e, "reason": r} for e, r in self.rejected],
            "snapshots": self.snapshots,
            "completed_history": self.completed_history,
        }


@dataclass(frozen=True)
class Prechecked:
    """An event from outside whose `check_event` already ran (a bundle verifies each line as it is read, while a
    thread decompresses the next ones): the checked event, or why it failed."""

    item: NostrEvent | str | bytes
    checked: Checked | None
    reason: str = ""


def precheck(item: NostrEvent | str | bytes, now: int) -> Prechecked:
    try:
        return Prechecked(item, check_event(item, now))
    except EventRejected as exc:
        return Prechecked(item, None, exc.reason)


def ingest(
    store: Store, items: Iterable[NostrEvent | str | bytes | Prechecked], *, dataset: str | None = None,
    progress: Progress | None = None,
) -> IngestReport:  # fmt: skip
    """Verify and apply events from outside; returns what happened to each.

    `dataset`, when given (a bundle names one), refuses events of any other dataset.
    """
    report = IngestReport()
    tick = progress or (lambda phase, done, total: None)
    now = store.now()
    candidates: dict[str, Checked] = {}
    snapshots: list[Checked] = []
    proposals: list[Checked] = []
    with store.transaction():
        snapshot.ensure_tables(store)
        items = list(items)
        for n, entry in enumerate(items):
            if n % 500 == 0:
                tick("verifying", n, len(items))
            item = entry.item if isinstance(entry, Prechecked) else entry
            try:
                checked = _checked(entry, now)
                if (
                    dataset is not None
                    and checked.dataset_id != dataset
                    and not _proposal_from(checked, dataset)
                ):
                    raise EventRejected(
                        f"the event belongs to dataset {checked.dataset_id}, not to the dataset expected here ({dataset})"
                    )
            except EventRejected as exc:
                _reject(store, report, _safe_id(item), dataset, exc.reason, item)
                continue
            if checked.event.id in candidates or any(s.event.id == checked.event.id for s in snapshots[-1:]):
                report.duplicates += 1
                continue
            if checked.event.kind == KIND_SNAPSHOT:
                snapshots.append(checked)
            elif checked.event.kind == KIND_PROPOSAL:
                proposals.append(checked)  # judged after the batch, once the fork events it names are stored
            else:
                candidates[checked.event.id] = checked
        tick("verifying", len(items), len(items))
        if snapshots:
            genesis = {k: c for k, c in candidates.items() if c.event.kind == KIND_GENESIS}
            _process(store, genesis, report, tick)
            _receive_snapshots(store, snapshots, report)
            candidates = {k: c for k, c in candidates.items() if k not in genesis}
        _process(store, candidates, report, tick)
        if report.pending and any(c.event.kind == KIND_GENESIS for c in candidates.values()):
            _process(store, {}, report, tick)  # a fork's genesis held for its origin's events of this batch
        if proposals:
            from engine import proposals as proposal_store

            for c, reason in proposal_store.receive(store, proposals, report):
                _reject(store, report, c.event.id, c.dataset_id, reason, c.event)
        bulk_apply.drop_temp(store)
    return report


def _checked(entry: NostrEvent | str | bytes | Prechecked, now: int) -> Checked:
    if not isinstance(entry, Prechecked):
        return check_event(entry, now)
    if entry.checked is None:
        raise EventRejected(entry.reason)
    return entry.checked


def _proposal_from(c: Checked, fork: str) -> bool:
    """A bundle of a fork may carry merge proposals from that fork to its upstream."""
    return c.event.kind == KIND_PROPOSAL and c.event.first_tag(merge_content.TAG_FORK) == fork


def check_event(item: NostrEvent | str | bytes, now: int) -> Checked:
    """Everything that can be checked on one event alone; raises EventRejected with the reason."""
    if isinstance(item, NostrEvent):
        ev = item
        if len(ev.content.encode()) > MAX_EVENT_BYTES:
            raise EventRejected(f"the content is larger than {MAX_EVENT_BYTES} bytes")
    else:
        if len(item) > MAX_EVENT_BYTES:
            raise EventRejected(f"the event is {len(item)} bytes, larger than {MAX_EVENT_BYTES}")
        try:
            data = orjson.loads(item)
        except orjson.JSONDecodeError as exc:
            raise EventRejected(f"malformed JSON: {exc}") from None
        ev = NostrEvent.from_dict(data)
    raw = ev.verified_json()
    if raw is None:
        raise EventRejected("the event id does not match its content")
    if not ev.check_signature():
        raise EventRejected("the signature does not verify against the author's key")
    if ev.kind not in DATASET_KINDS:
        raise EventRejected(f"unknown kind {ev.kind}")
    if ev.kind in NOT_YET_SUPPORTED:
        raise EventRejected(f"kind {ev.kind} ({KIND_NAMES[ev.kind]}) is not supported by this version yet")
    content.version_of(ev)
    if ev.created_at > now + MAX_FUTURE_SECONDS:
        raise EventRejected("created_at is more than a day in the future")
    ds = content.dataset_of(ev)
    clock = content.clock_of(ev)
    parents = content.parents_of(ev)
    body: Any = None
    if ev.kind == KIND_GENESIS:
        if parents or clock != 0:
            raise EventRejected("a genesis event has no parents and clock 0")
        body = content.genesis(ev)
        if dataset_id_for(ev.pubkey, body["nonce"]) != ds:
            raise EventRejected("the dataset id does not derive from the genesis author and nonce")
    elif ev.kind in content.PARSERS and ev.kind != KIND_CHANGESET:
        body = content.PARSERS[ev.kind](ev)
    elif ev.kind == KIND_PROPOSAL:
        body = merge_content.proposal_content(ev)
    elif ev.kind == KIND_SNAPSHOT and parents:
        raise EventRejected("a snapshot event names no parents")
    return Checked(ev, ds, clock, parents, body, raw)


def _process(store: Store, candidates: dict[str, Checked], report: IngestReport, tick: Progress) -> None:
    known = {
        r[0]
        for r in store.con.execute(
            "SELECT id FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))", [sorted(candidates)]
        ).fetchall()
    } if candidates else set()  # fmt: skip
    report.duplicates += len(known)
    fresh = [c for c in candidates.values() if c.event.id not in known]
    bulk_apply.drop_temp(store)
    pending = _load_pending(store)
    pending_ids = {c.event.id for c in pending}
    pool = {c.event.id: c for c in [*pending, *fresh]}
    if not pool:
        return
    bases = snapshot.bases(store)
    ready = _resolve(store, pool, report, bases)
    ready = _check_content(store, ready, pool, report, bases, tick)
    ready, completed = _settle_partial(store, ready, bases)
    if ready:
        tick("applying", 0, len(ready))
        _apply(store, ready, completed)
        tick("applying", len(ready), len(ready))
        report.applied += len([c for c in ready if c.event.id not in pending_ids])
    for ds in completed:
        snapshot.complete_history(store, ds)
        report.completed_history.append(ds)
    placed = {c.event.id for c in ready}
    _save_pending(store, [c for c in pool.values() if c.event.id not in placed], report)
    if completed and report.pending:
        _process(store, {}, report, tick)  # events held while role history was partial: judge them now


def _resolve(
    store: Store, pool: dict[str, Checked], report: IngestReport, bases: dict[str, snapshot.Base]
) -> list[Checked]:
    """Events whose dataset and parents are known (stored, a snapshot's heads, or in the pool), parents first.

    Rejects bad lineage and drops it from the pool; events of datasets this store lacks stay there (held).
    """
    stored_clock: dict[str, int] = {}
    parent_ids = sorted({p for c in pool.values() for p in c.parents})
    if parent_ids:
        stored_clock = dict(
            store.con.execute(
                "SELECT id, clock FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))", [parent_ids]
            ).fetchall()
        )
    for base in bases.values():
        for h, clock in base.heads.items():
            stored_clock.setdefault(h, clock)
    datasets = {r[0] for r in store.con.execute("SELECT id FROM datasets").fetchall()}
    datasets |= {c.dataset_id for c in pool.values() if c.event.kind == KIND_GENESIS}
    ready: list[Checked] = []
    placed: dict[str, int] = {}
    waiting = dict(pool)
    progress = True
    while progress:
        progress = False
        for eid, c in sorted(waiting.items(), key=lambda kv: (kv[1].clock, kv[0])):
            if c.dataset_id not in datasets:
                continue  # held, like a missing parent, until the dataset's genesis arrives (any order converges)
            if not forks.origin_ready(store, c):
                continue  # a fork's genesis waits for its fork point, like an event for a missing parent
            clocks: list[int] = []
            for p in c.parents:
                found = stored_clock.get(p, placed.get(p))
                if found is None:
                    break
                clocks.append(found)
            else:
                reason = None
                if c.event.kind != KIND_GENESIS and not c.parents:
                    reason = "a non-genesis event must name its parents"
                elif clocks and max(clocks) >= c.clock:
                    reason = (
                        "the clock is not greater than its parents' clocks (a parent cycle or a forged clock)"
                    )
                if reason:
                    _reject(store, report, eid, c.dataset_id, reason, c.event)
                    del pool[eid]
                else:
                    ready.append(c)
                    placed[eid] = c.clock
                del waiting[eid]
                progress = True
    ready.sort(key=lambda c: (c.clock, c.event.id))
    return ready


def _check_content(
    store: Store, ready: list[Checked], pool: dict[str, Checked], report: IngestReport,
    bases: dict[str, snapshot.Base], tick: Progress,
) -> list[Checked]:  # fmt: skip
    """Check every changeset against the schema as of its event; a refused event's descendants wait."""
    trackers: dict[str, event_checks.SchemaTracker] = {}
    states: dict[str, event_checks.SchemaState] = {}
    for c in ready:
        tracker = trackers.get(c.dataset_id)
        if tracker is None:
            base = bases.get(c.dataset_id)
            seed = {h: base.schema_state() for h in base.heads} if base else None
            tracker = trackers[c.dataset_id] = event_checks.SchemaTracker(
                store, c.dataset_id, seed, forks.root_state(store, c.dataset_id, ready)
            )
        definition = c.body["definition"] if c.event.kind == KIND_SCHEMA else None
        states[c.event.id] = tracker.add(c.event.id, c.clock, c.parents, definition)
    # Authorization by the role events in each event's causal past, before the content checks of either path.
    refused, held = authorization.check_batch(store, ready, bases)
    changesets = [
        c
        for c in ready
        if c.event.kind == KIND_CHANGESET and c.event.id not in refused and c.event.id not in held
    ]
    parsed: dict[str, list[dict[str, Any]]] = {}
    if len(changesets) >= BULK_MIN_CHANGESETS:
        tick("checking", 0, len(changesets))
        group_of: dict[int, int] = {}
        distinct: list[event_checks.SchemaState] = []
        groups = []
        for c in changesets:
            st = states[c.event.id]
            if id(st) not in group_of:
                group_of[id(st)] = len(distinct)
                distinct.append(st)
            groups.append(group_of[id(st)])
        bulk_apply.stage(store, changesets, groups)
        suspects = [changesets[i] for i in sorted(bulk_apply.flag_suspects(store, distinct))]
    else:
        suspects = changesets
    for c in suspects:
        try:
            ops = content.changeset(c.event)
            problem = event_checks.ops_problem(ops, states[c.event.id])
            if problem:
                raise EventRejected(problem)
            parsed[c.event.id] = ops
        except EventRejected as exc:
            refused[c.event.id] = exc.reason
    decisions, refused_decisions = merge_content.check_decisions(
        [
            c
            for c in ready
            if c.event.kind == KIND_DECISION and c.event.id not in refused and c.event.id not in held
        ],
        states,
    )
    refused.update(refused_decisions)
    out: list[Checked] = []
    for c in ready:
        if c.event.id in refused:
            _reject(store, report, c.event.id, c.dataset_id, refused[c.event.id], c.event)
            held.add(c.event.id)
        elif c.event.id in held or any(p in held for p in c.parents):
            held.add(c.event.id)  # its parent was refused: it waits like any event with a missing parent
        elif c.event.id in parsed:
            out.append(Checked(c.event, c.dataset_id, c.clock, c.parents, parsed[c.event.id]))
        elif c.event.id in decisions:
            out.append(Checked(c.event, c.dataset_id, c.clock, c.parents, decisions[c.event.id]))
        else:
            out.append(c)
    for eid in refused:
        pool.pop(eid, None)
    return out


def _settle_partial(
    store: Store, ready: list[Checked], bases: dict[str, snapshot.Base]
) -> tuple[list[Checked], list[str]]:
    """On a snapshot-based dataset, events at or below the snapshot's clock wait until the history is complete."""
    if not bases:
        return ready, []
    stored = set()
    heads = sorted({h for b in bases.values() for h in b.heads})
    if heads:
        stored = {
            r[0]
            for r in store.con.execute(
                "SELECT id FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))", [heads]
            ).fetchall()
        }
    ready_ids = {c.event.id for c in ready}
    completed = []
    held: set[str] = set()
    for ds, base in bases.items():
        old = [c for c in ready if c.dataset_id == ds and c.clock <= base.clock]
        if not old:
            continue
        if all(h in stored or h in ready_ids for h in base.heads) and _reaches_genesis(store, ds, ready):
            completed.append(ds)
        else:
            held |= {c.event.id for c in old}
    if not held:
        return ready, completed
    out = []
    for c in ready:
        if c.event.id in held or any(p in held for p in c.parents):
            held.add(c.event.id)
        else:
            out.append(c)
    return out, completed


def _reaches_genesis(store: Store, ds: str, ready: list[Checked]) -> bool:
    """Every parent of every event below the snapshot is stored or arriving: the history is whole."""
    mine = [c for c in ready if c.dataset_id == ds]
    have = {c.event.id for c in mine}
    missing = sorted({p for c in mine for p in c.parents} - have)
    if not missing:
        return True
    row = store.con.execute(
        "SELECT count(*) FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))", [missing]
    ).fetchone()
    return bool(row and row[0] == len(missing))


def _apply(store: Store, ready: list[Checked], completed: list[str]) -> None:
    for ds in completed:
        base = snapshot.base_of(store, ds)
        if base:  # the real history replaces the snapshot's stand-in ops before it is applied
            store.con.execute(
                "DELETE FROM record_ops WHERE dataset_id = ? AND event_id = ?", [ds, base.snapshot_id]
            )
    staged = bulk_apply.is_staged(store)
    if not staged:
        apply_events(store, ready)
        return
    others = [c for c in ready if c.event.kind != KIND_CHANGESET]
    changesets = {c.event.id for c in ready if c.event.kind == KIND_CHANGESET}
    with store.transaction():
        apply_events(store, others)
        order = bulk_apply.staged_ids(store)
        kept = [i for i, eid in enumerate(order) if eid in changesets]
        bulk_apply.apply_staged(store, kept, _staged_checked(order, ready))


def _staged_checked(order: list[str], ready: list[Checked]) -> list[Checked]:
    by_id = {c.event.id: c for c in ready}
    return [by_id.get(eid) or _placeholder(eid) for eid in order]


def _placeholder(event_id: str) -> Checked:
    return Checked(NostrEvent(event_id, "", 0, 0, (), "", ""), "", 0, [], None)


def _receive_snapshots(store: Store, chunks: list[Checked], report: IngestReport) -> None:
    headers = [c for c in chunks if c.event.first_tag(snapshot.TAG_SNAPSHOT) is None]
    parts: dict[str, list[Checked]] = {}
    for c in chunks:
        sid = c.event.first_tag(snapshot.TAG_SNAPSHOT)
        if sid is not None:
            parts.setdefault(sid, []).append(c)
    for h in headers:
        problem = snapshot.receive(store, h, parts.pop(h.event.id, []))
        if problem:
            _reject(store, report, h.event.id, h.dataset_id, problem, h.event)
        elif snapshot.base_of(store, h.dataset_id) is not None:
            report.snapshots += 1
    for sid, orphans in parts.items():
        for c in orphans:
            _reject(store, report, c.event.id, c.dataset_id,
                    f"a snapshot chunk whose header {sid[:12]} is not in this batch", c.event)  # fmt: skip


def _load_pending(store: Store) -> list[Checked]:
    rows = store.con.execute("SELECT raw FROM pending").fetchall()
    out = []
    for (raw,) in rows:
        ev = NostrEvent.from_json(raw)
        out.append(check_event(ev, 2**53))
    return out


def _save_pending(store: Store, waiting: list[Checked], report: IngestReport) -> None:
    store.con.execute("DELETE FROM pending")
    if len(waiting) > MAX_PENDING:
        for c in sorted(waiting, key=lambda c: c.clock)[MAX_PENDING:]:
            _reject(store, report, c.event.id, c.dataset_id,
                    "too many events waiting for missing parents", c.event)  # fmt: skip
        waiting = sorted(waiting, key=lambda c: c.clock)[:MAX_PENDING]
    if waiting:
        store.con.execute(
            "INSERT INTO pending SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
            [
                [c.event.id for c in waiting],
                [c.dataset_id for c in waiting],
                [c.event.to_json() for c in waiting],
            ],
        )
    report.pending = len(waiting)


def _reject(store: Store, report: IngestReport, event_id: str, dataset_id: str | None, reason: str,
            raw: NostrEvent | str | bytes | None) -> None:  # fmt: skip
    report.rejected.append((event_id, reason))
    text: str | None
    if isinstance(raw, NostrEvent):
        text = raw.to_json()
    else:
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    store.con.execute(
        "INSERT INTO rejected VALUES (?, ?, ?, ?, ?)",
        [event_id, dataset_id, reason, (text or "")[:100_000], dt.datetime.now(dt.UTC).replace(tzinfo=None)],
    )


def _safe_id(item: NostrEvent | str | bytes) -> str:
    if isinstance(item, NostrEvent):
        return item.id
    try:
        data = json.loads(item[:MAX_EVENT_BYTES])
        return str(data.get("id", ""))[:64] if isinstance(data, dict) else ""
    except (ValueError, UnicodeDecodeError):
        return ""


def rejected(store: Store, dataset_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Events refused for this dataset, newest first, with their reasons."""
    sql = "SELECT event_id, reason, received_at, raw FROM rejected WHERE dataset_id = ? ORDER BY received_at DESC"
    rows = store.con.execute(sql + (f" LIMIT {int(limit)}" if limit else ""), [dataset_id]).fetchall()
    return [
        {"event": e or "", "reason": r, "received_at": t.isoformat(timespec="seconds"), "raw": raw or ""}
        for e, r, t, raw in rows
    ]


def all_events(store: Store, dataset_id: str) -> list[str]:
    """The dataset's signed events as JSON, parents before children."""
    rows = store.con.execute(
        "SELECT raw FROM events WHERE dataset_id = ? ORDER BY clock, id", [dataset_id]
    ).fetchall()
    return [r[0] for r in rows]
