"""The one entry point for events from outside (bundles, relays, other stores): trust nothing.

parse → verify id and signature → check envelope and content → known dataset and parents (else hold it,
bounded) → store idempotently → project. A rejected event is recorded with its reason and never touches a
projection; the rest of the batch still applies.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.apply import Checked, apply_events, check_envelope
from engine.errors import EventRejected
from engine.nostr_event import NostrEvent
from engine.protocol import KIND_GENESIS
from engine.writes import dataset_id_for

if TYPE_CHECKING:
    from engine.store import Store

MAX_PENDING = 100_000


@dataclass
class IngestReport:
    applied: int = 0
    duplicates: int = 0
    pending: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (event id or "", reason)

    def to_dict(self) -> dict[str, object]:
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "pending": self.pending,
            "rejected": [{"event": e, "reason": r} for e, r in self.rejected],
        }


def ingest(store: Store, items: Iterable[NostrEvent | str | bytes]) -> IngestReport:
    """Verify and apply events from outside; returns what happened to each."""
    report = IngestReport()
    candidates: dict[str, Checked] = {}
    for item in items:
        raw = item if isinstance(item, str | bytes) else None
        try:
            ev = item if isinstance(item, NostrEvent) else NostrEvent.from_json(item)
            ev.verify()
            checked = check_envelope(ev)
            if ev.kind == KIND_GENESIS:
                nonce = checked.body["nonce"]
                if dataset_id_for(ev.pubkey, nonce) != checked.dataset_id:
                    raise EventRejected("the dataset id does not derive from the genesis author and nonce")
        except EventRejected as exc:
            _reject(store, report, _safe_id(item), None, exc.reason, raw)
            continue
        if ev.id in candidates:
            report.duplicates += 1
            continue
        candidates[ev.id] = checked
    if not candidates:
        return report
    known = {
        r[0]
        for r in store.con.execute(
            "SELECT id FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))", [sorted(candidates)]
        ).fetchall()
    }
    report.duplicates += len(known)
    fresh = [c for c in candidates.values() if c.event.id not in known]
    pending = _load_pending(store)
    pool = {c.event.id: c for c in [*pending, *fresh]}
    ready = _resolve(store, pool, report)
    if ready:
        apply_events(store, ready)
        report.applied = len([c for c in ready if c.event.id not in {p.event.id for p in pending}])
    _save_pending(store, [c for c in pool.values() if c.event.id not in {r.event.id for r in ready}], report)
    return report


def _resolve(store: Store, pool: dict[str, Checked], report: IngestReport) -> list[Checked]:
    """Events whose dataset and parents are known (stored or in the pool), parents first; reject bad lineage."""
    stored_clock: dict[str, int] = {}
    parent_ids = sorted({p for c in pool.values() for p in c.parents})
    if parent_ids:
        stored_clock = dict(
            store.con.execute(
                "SELECT id, clock FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))", [parent_ids]
            ).fetchall()
        )
    datasets = {r[0] for r in store.con.execute("SELECT id FROM datasets").fetchall()}
    datasets |= {c.dataset_id for c in pool.values() if c.event.kind == KIND_GENESIS}
    ready: list[Checked] = []
    progress = True
    placed: dict[str, int] = {}
    waiting = dict(pool)
    while progress:
        progress = False
        for eid, c in sorted(waiting.items(), key=lambda kv: (kv[1].clock, kv[0])):
            if c.dataset_id not in datasets:
                continue
            clocks = []
            for p in c.parents:
                clock = stored_clock.get(p, placed.get(p))
                if clock is None:
                    break
                clocks.append(clock)
            else:
                if c.event.kind != KIND_GENESIS and not c.parents:
                    _reject(
                        store, report, eid, c.dataset_id, "a non-genesis event must name its parents", None
                    )
                elif clocks and max(clocks) >= c.clock:
                    _reject(
                        store,
                        report,
                        eid,
                        c.dataset_id,
                        "the clock is not greater than its parents' clocks",
                        None,
                    )
                else:
                    ready.append(c)
                    placed[eid] = c.clock
                del waiting[eid]
                progress = True
    for eid in list(pool):
        if eid not in waiting and eid not in placed:
            del pool[eid]
    ready.sort(key=lambda c: (c.clock, c.event.id))
    return ready


def _load_pending(store: Store) -> list[Checked]:
    rows = store.con.execute("SELECT raw FROM pending").fetchall()
    out = []
    for (raw,) in rows:
        out.append(check_envelope(NostrEvent.from_json(raw)))
    return out


def _save_pending(store: Store, waiting: list[Checked], report: IngestReport) -> None:
    store.con.execute("DELETE FROM pending")
    if len(waiting) > MAX_PENDING:
        for c in sorted(waiting, key=lambda c: c.clock)[MAX_PENDING:]:
            _reject(
                store, report, c.event.id, c.dataset_id, "too many events waiting for missing parents", None
            )
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
            raw: str | bytes | None) -> None:  # fmt: skip
    report.rejected.append((event_id, reason))
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    store.con.execute(
        "INSERT INTO rejected VALUES (?, ?, ?, ?, ?)",
        [event_id, dataset_id, reason, (text or "")[:100_000], dt.datetime.now(dt.UTC).replace(tzinfo=None)],
    )


def _safe_id(item: NostrEvent | str | bytes) -> str:
    if isinstance(item, NostrEvent):
        return item.id
    try:
        data = json.loads(item)
        return str(data.get("id", ""))[:64] if isinstance(data, dict) else ""
    except (ValueError, UnicodeDecodeError):
        return ""


def all_events(store: Store, dataset_id: str) -> list[str]:
    """The dataset's signed events as JSON, parents before children."""
    rows = store.con.execute(
        "SELECT raw FROM events WHERE dataset_id = ? ORDER BY clock, id", [dataset_id]
    ).fetchall()
    return [r[0] for r in rows]
