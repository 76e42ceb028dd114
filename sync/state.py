"""What this store knows about replication: published and followed datasets, what each relay holds, keys.

None of it is derived from the event log (it is local knowledge about the outside world), so `rebuild` leaves
it alone. The outbox is not a queue but a question: which events of replicated datasets has a relay not yet
confirmed holding? That makes it durable across restarts and idempotent by construction: an event is marked
held only after the relay's OK (or after it was seen on that relay), and sending it again is harmless.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine import datasets
from engine.errors import KoboldError

if TYPE_CHECKING:
    from engine.store import Store

DDL = """
CREATE TABLE IF NOT EXISTS sync_published (dataset_id VARCHAR PRIMARY KEY, since BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS sync_follows (
    dataset_id VARCHAR PRIMARY KEY, owner VARCHAR NOT NULL, relays VARCHAR[] NOT NULL, since BIGINT NOT NULL
);
-- relay confirmed holding the event (its OK, a duplicate answer, or the event seen there)
CREATE TABLE IF NOT EXISTS sync_held (relay VARCHAR NOT NULL, event_id VARCHAR NOT NULL, PRIMARY KEY (relay, event_id));
CREATE TABLE IF NOT EXISTS sync_refused (
    relay VARCHAR NOT NULL, event_id VARCHAR NOT NULL, reason VARCHAR NOT NULL, refused_at BIGINT NOT NULL,
    PRIMARY KEY (relay, event_id)
);
-- sealed (tribe) wrappers: the wire id a relay knows, and the dataset event inside it
CREATE TABLE IF NOT EXISTS sync_wire (
    wire_id VARCHAR PRIMARY KEY, event_id VARCHAR NOT NULL, dataset_id VARCHAR NOT NULL, created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_relay_status (
    relay VARCHAR PRIMARY KEY, last_ok BIGINT, last_error VARCHAR, error_at BIGINT
);
-- events this store publishes that are not in a dataset log: snapshots it signed (bootstraps for new
-- followers; `grp` = header id, `part` = chunk number) and tribe key grants (`grp` = 'key-grant')
CREATE TABLE IF NOT EXISTS sync_outgoing (
    dataset_id VARCHAR NOT NULL, grp VARCHAR NOT NULL, part INTEGER NOT NULL, event_id VARCHAR PRIMARY KEY,
    raw VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS dataset_keys (
    dataset_id VARCHAR NOT NULL, epoch INTEGER NOT NULL, key VARCHAR NOT NULL, PRIMARY KEY (dataset_id, epoch)
);
CREATE TABLE IF NOT EXISTS tribe_members (
    dataset_id VARCHAR NOT NULL, pubkey VARCHAR NOT NULL, added_at BIGINT NOT NULL, removed_at BIGINT,
    PRIMARY KEY (dataset_id, pubkey)
);
"""


class SyncError(KoboldError):
    """A replication command that cannot do what was asked (the message says why and what to do)."""


def ensure_tables(store: Store) -> None:
    store.prepare("sync", DDL)


def replicated(store: Store) -> list[tuple[str, str]]:
    """(dataset id, visibility) of every dataset that goes to relays: published or followed, never private."""
    ensure_tables(store)
    rows = store.con.execute(
        """SELECT d.id, d.visibility FROM datasets d
           WHERE (d.id IN (SELECT dataset_id FROM sync_published) OR d.id IN (SELECT dataset_id FROM sync_follows))
             AND d.visibility <> 'private' ORDER BY d.id"""
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def visibility(store: Store, dataset_id: str) -> str | None:
    row = store.con.execute("SELECT visibility FROM datasets WHERE id = ?", [dataset_id]).fetchone()
    return str(row[0]) if row else None


def publish(store: Store, dataset_id: str) -> None:
    """Mark a dataset for replication; a private one is refused, whatever the caller."""
    info = datasets.info(store, dataset_id)
    if info.visibility == "private":
        raise SyncError(
            f"{info.name} is private: a private dataset never leaves this store. To share it, make it tribe or "
            f"public first: kobold dataset update {info.name} --visibility tribe"
        )
    ensure_tables(store)
    store.con.execute("INSERT OR IGNORE INTO sync_published VALUES (?, ?)", [dataset_id, int(time.time())])


def unpublish(store: Store, dataset_id: str) -> None:
    ensure_tables(store)
    store.con.execute("DELETE FROM sync_published WHERE dataset_id = ?", [dataset_id])


def follow(store: Store, dataset_id: str, owner: str, relays: list[str]) -> None:
    ensure_tables(store)
    store.con.execute(
        """INSERT INTO sync_follows VALUES (?, ?, ?, ?) ON CONFLICT (dataset_id)
           DO UPDATE SET relays = list_distinct(list_concat(sync_follows.relays, excluded.relays))""",
        [dataset_id, owner, relays, int(time.time())],
    )


@dataclass(frozen=True)
class Follow:
    dataset_id: str
    owner: str
    relays: list[str]


def follows(store: Store) -> list[Follow]:
    ensure_tables(store)
    rows = store.con.execute(
        "SELECT dataset_id, owner, relays FROM sync_follows ORDER BY dataset_id"
    ).fetchall()
    return [Follow(str(r[0]), str(r[1]), list(r[2])) for r in rows]


def mark_held(store: Store, relay: str, event_ids: list[str]) -> None:
    if event_ids:
        store.con.execute(
            "INSERT OR IGNORE INTO sync_held SELECT ?, unnest(?::VARCHAR[])", [relay, sorted(set(event_ids))]
        )
        store.con.execute(
            "DELETE FROM sync_refused WHERE relay = ? AND event_id IN (SELECT unnest(?::VARCHAR[]))",
            [relay, event_ids],
        )


def mark_refused(store: Store, relay: str, event_id: str, reason: str) -> None:
    store.con.execute(
        "INSERT OR REPLACE INTO sync_refused VALUES (?, ?, ?, ?)", [relay, event_id, reason, int(time.time())]
    )


def outbox(store: Store, relay: str, dataset_id: str, limit: int = 1 << 62) -> list[tuple[str, str, bool]]:
    """(event id, raw JSON, is a key grant) of what the relay has not confirmed: the dataset's events, its
    published snapshot and key grants, parents first."""
    rows = store.con.execute(
        """SELECT id, raw, grant FROM (
               SELECT id, raw, clock, created_at, false AS grant FROM events WHERE dataset_id = ?
               UNION ALL SELECT event_id, raw, -1, part, grp = 'key-grant' FROM sync_outgoing WHERE dataset_id = ?)
           WHERE id NOT IN (SELECT event_id FROM sync_held WHERE relay = ?)
             AND id NOT IN (SELECT event_id FROM sync_refused WHERE relay = ?)
           ORDER BY clock, created_at, id LIMIT ?""",
        [dataset_id, dataset_id, relay, relay, limit],
    ).fetchall()
    return [(str(r[0]), str(r[1]), bool(r[2])) for r in rows]


def outbox_size(store: Store, relays: list[str]) -> int:
    """Events still to confirm, summed over relays (what the status bar shows)."""
    ensure_tables(store)
    ids = [ds for ds, _ in replicated(store)]
    if not relays or not ids:
        return 0
    row = store.con.execute(
        """SELECT count(*) FROM (SELECT unnest(?::VARCHAR[]) AS relay) r,
               (SELECT id FROM events WHERE dataset_id IN (SELECT unnest(?::VARCHAR[]))
                UNION ALL SELECT event_id FROM sync_outgoing WHERE dataset_id IN (SELECT unnest(?::VARCHAR[]))) e
           WHERE NOT EXISTS (SELECT 1 FROM sync_held h WHERE h.relay = r.relay AND h.event_id = e.id)
             AND NOT EXISTS (SELECT 1 FROM sync_refused f WHERE f.relay = r.relay AND f.event_id = e.id)""",
        [relays, ids, ids],
    ).fetchone()
    return int(row[0]) if row else 0


def refusals(store: Store) -> list[dict[str, Any]]:
    ensure_tables(store)
    rows = store.con.execute(
        "SELECT relay, event_id, reason, refused_at FROM sync_refused ORDER BY refused_at DESC"
    ).fetchall()
    return [{"relay": r[0], "event": r[1], "reason": r[2], "at": r[3]} for r in rows]


def note_relay(store: Store, relay: str, error: str | None) -> None:
    now = int(time.time())
    if error is None:
        store.con.execute(
            """INSERT INTO sync_relay_status VALUES (?, ?, NULL, NULL) ON CONFLICT (relay)
               DO UPDATE SET last_ok = excluded.last_ok, last_error = NULL, error_at = NULL""",
            [relay, now],
        )
    else:
        store.con.execute(
            """INSERT INTO sync_relay_status VALUES (?, NULL, ?, ?) ON CONFLICT (relay)
               DO UPDATE SET last_error = excluded.last_error, error_at = excluded.error_at""",
            [relay, error, now],
        )


def relay_status(store: Store) -> dict[str, dict[str, Any]]:
    ensure_tables(store)
    rows = store.con.execute("SELECT relay, last_ok, last_error, error_at FROM sync_relay_status").fetchall()
    return {str(r[0]): {"last_ok": r[1], "last_error": r[2], "error_at": r[3]} for r in rows}
