"""This store's own NIP-01 profile (kind 0): the name other stores show for its author.

`kobold id name NAME` signs a kind-0 event holding just that name; the next sync offers it to each relay. A relay
that already holds a profile for this key (from another Nostr client, with a picture or an about text) keeps it:
kind 0 is replaceable, and a name-only event would wipe the rest. That relay's refusal is recorded instead, with
the reason, so the sync report says it once.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from engine import names
from engine.nostr_event import NostrEvent, sign_event
from sync import state

if TYPE_CHECKING:
    from engine.store import Store

KIND_PROFILE = 0

DDL = """
CREATE TABLE IF NOT EXISTS sync_profile (pubkey VARCHAR PRIMARY KEY, event_id VARCHAR NOT NULL, raw VARCHAR NOT NULL);
"""


def ensure_tables(store: Store) -> None:
    state.ensure_tables(store)
    store.prepare("profile", DDL)


def set_name(store: Store, name: str) -> NostrEvent:
    """Sign this store's profile with `name` and keep it to publish; the name shows here at once."""
    ensure_tables(store)
    now = int(time.time())
    clean = " ".join(name.split())
    names.save_profile(store, store.identity.pubkey, clean, now)  # refuses an empty or overlong name
    ev = sign_event(
        store.identity.secret, now, KIND_PROFILE, (), json.dumps({"name": clean}, ensure_ascii=False)
    )
    store.con.execute(
        "INSERT OR REPLACE INTO sync_profile VALUES (?, ?, ?)", [store.identity.pubkey, ev.id, ev.to_json()]
    )
    return ev


def unsent(store: Store, relay: str) -> NostrEvent | None:
    """This store's profile, unless `relay` already confirmed holding it."""
    ensure_tables(store)
    row = store.con.execute(
        """SELECT raw FROM sync_profile WHERE pubkey = $1
           AND event_id NOT IN (SELECT event_id FROM sync_held WHERE relay = $2)
           AND event_id NOT IN (SELECT event_id FROM sync_refused WHERE relay = $2)""",
        [store.identity.pubkey, relay],
    ).fetchone()
    return NostrEvent.from_json(row[0]) if row else None
