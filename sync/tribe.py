"""Tribe-read datasets: what leaves the store is sealed with the dataset key; members get the key by NIP-44.

A sealed event (kind 4878) wraps one signed dataset event in a PyNaCl secret box. Its nonce derives from the key
and the inner event id, so sealing the same event twice gives the same wire event (retries stay idempotent),
and only equality of repeats is visible. Indexing tags stay in the clear (`D`, the inner kind as `k`, a
snapshot's `S`/`P`, the key epoch `K`): a relay operator sees which dataset and when, never what.

A key grant (kind 4879) carries {dataset, epoch, key} encrypted with NIP-44 from the granter to one member
(`p` tag). Removing a member starts a new epoch whose key goes to everyone else: new events are unreadable
to the removed member, who keeps what they could already read.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from typing import TYPE_CHECKING

import nacl.exceptions
import nacl.secret
from nostr_sdk import Nip44Version, PublicKey, SecretKey, nip44_decrypt, nip44_encrypt

from engine import datasets
from engine.identity import short_npub
from engine.nostr_event import NostrEvent, Tag, sign_event
from sync.state import SyncError, ensure_tables

if TYPE_CHECKING:
    from engine.store import Store

KIND_SEALED = 4878
KIND_KEY_GRANT = 4879
CLEAR_TAGS = ("D", "S", "P")


def newest_key(store: Store, dataset_id: str) -> tuple[int, bytes] | None:
    ensure_tables(store)
    row = store.con.execute(
        "SELECT epoch, key FROM dataset_keys WHERE dataset_id = ? ORDER BY epoch DESC LIMIT 1", [dataset_id]
    ).fetchone()
    return (int(row[0]), bytes.fromhex(row[1])) if row else None


def key_for(store: Store, dataset_id: str, epoch: int) -> bytes | None:
    row = store.con.execute(
        "SELECT key FROM dataset_keys WHERE dataset_id = ? AND epoch = ?", [dataset_id, epoch]
    ).fetchone()
    return bytes.fromhex(row[0]) if row else None


def ensure_key(store: Store, dataset_id: str) -> tuple[int, bytes]:
    """The key new events are sealed with; the owner mints epoch 0 on first use."""
    found = newest_key(store, dataset_id)
    if found:
        return found
    info = datasets.info(store, dataset_id)
    if info.owner != store.identity.pubkey:
        raise SyncError(
            f"{info.name} is tribe-read and this store has no key for it; ask its owner to run "
            f"`kobold member add {info.id} {store.identity.npub}`."
        )
    key = os.urandom(32)
    store.con.execute("INSERT INTO dataset_keys VALUES (?, 0, ?)", [dataset_id, key.hex()])
    return 0, key


def seal(store: Store, raw: str) -> NostrEvent:
    """The sealed wire form of one signed dataset event (raw JSON), signed by this store."""
    inner = NostrEvent.from_json(raw)
    ds = inner.first_tag("D") or ""
    epoch, key = ensure_key(store, ds)
    nonce = hashlib.blake2b(bytes.fromhex(inner.id), key=key, digest_size=24).digest()
    box = nacl.secret.SecretBox(key).encrypt(raw.encode(), nonce)
    tags: list[Tag] = [(t[0], t[1]) for t in inner.tags if t and t[0] in CLEAR_TAGS and len(t) > 1]
    tags += [("k", str(inner.kind)), ("K", str(epoch))]
    return sign_event(
        store.identity.secret, inner.created_at, KIND_SEALED, tuple(tags), base64.b64encode(box).decode()
    )


def unseal(store: Store, wire: NostrEvent) -> str | None:
    """The inner event's raw JSON, or None when this store holds no key that opens it."""
    ds = wire.first_tag("D") or ""
    try:
        epoch = int(wire.first_tag("K") or "")
    except ValueError:
        return None
    key = key_for(store, ds, epoch)
    if key is None:
        return None
    try:
        return nacl.secret.SecretBox(key).decrypt(base64.b64decode(wire.content, validate=True)).decode()
    except (nacl.exceptions.CryptoError, ValueError, UnicodeDecodeError):
        return None


def grant_event(store: Store, dataset_id: str, member: str, epoch: int, key: bytes) -> NostrEvent:
    secret = SecretKey.parse(store.identity.secret.hex())
    body = json.dumps({"dataset": dataset_id, "epoch": epoch, "key": key.hex()})
    content = nip44_encrypt(secret, PublicKey.parse(member), body, Nip44Version.V2)
    tags: tuple[Tag, ...] = (("D", dataset_id), ("p", member), ("K", str(epoch)))
    return sign_event(store.identity.secret, int(time.time()), KIND_KEY_GRANT, tags, content)


def accept_grant(store: Store, ev: NostrEvent, owner: str) -> bool:
    """Keep the key a grant carries if it is addressed to us, signed by the dataset's owner, and opens."""
    ds = ev.first_tag("D") or ""
    if ev.kind != KIND_KEY_GRANT or ev.pubkey != owner or ev.first_tag("p") != store.identity.pubkey:
        return False
    if not (ev.check_id() and ev.check_signature()):
        return False
    try:
        text = nip44_decrypt(SecretKey.parse(store.identity.secret.hex()), PublicKey.parse(owner), ev.content)
        body = json.loads(text)
        epoch, key = int(body["epoch"]), bytes.fromhex(body["key"])
    except Exception:
        return False
    if body.get("dataset") != ds or len(key) != 32:
        return False
    ensure_tables(store)
    store.con.execute("INSERT OR IGNORE INTO dataset_keys VALUES (?, ?, ?)", [ds, epoch, key.hex()])
    return True


# --- membership (owner side) ----------------------------------------------------------------------------------


def _require_tribe_owner(store: Store, dataset_id: str) -> datasets.DatasetInfo:
    info = datasets.info(store, dataset_id)
    if info.visibility != "tribe":
        raise SyncError(
            f"{info.name} is {info.visibility}, not tribe-read: members only matter for tribe datasets "
            f"(kobold dataset update {info.name} --visibility tribe)."
        )
    if info.owner != store.identity.pubkey:
        raise SyncError(f"Only the owner of {info.name} ({short_npub(info.owner)}) can change its members.")
    return info


def add_member(store: Store, dataset_id: str, member: str) -> int:
    """Give a member every epoch's key (so they can read the history); returns the grants signed."""
    _require_tribe_owner(store, dataset_id)
    ensure_key(store, dataset_id)
    keys = store.con.execute(
        "SELECT epoch, key FROM dataset_keys WHERE dataset_id = ? ORDER BY epoch", [dataset_id]
    ).fetchall()
    with store.transaction():
        store.con.execute(
            """INSERT INTO tribe_members VALUES (?, ?, ?, NULL) ON CONFLICT (dataset_id, pubkey)
               DO UPDATE SET removed_at = NULL""",
            [dataset_id, member, int(time.time())],
        )
        for epoch, key in keys:
            _store_grant(
                store, dataset_id, grant_event(store, dataset_id, member, int(epoch), bytes.fromhex(key))
            )
    return len(keys)


def remove_member(store: Store, dataset_id: str, member: str) -> int:
    """Drop a member and rotate the key; returns the new epoch."""
    _require_tribe_owner(store, dataset_id)
    row = store.con.execute(
        "SELECT 1 FROM tribe_members WHERE dataset_id = ? AND pubkey = ? AND removed_at IS NULL",
        [dataset_id, member],
    ).fetchone()
    if row is None:
        raise SyncError(
            f"{short_npub(member)} is not a member of this dataset; `kobold member list` shows them."
        )
    epoch = ensure_key(store, dataset_id)[0] + 1
    key = os.urandom(32)
    with store.transaction():
        store.con.execute(
            "UPDATE tribe_members SET removed_at = ? WHERE dataset_id = ? AND pubkey = ?",
            [int(time.time()), dataset_id, member],
        )
        store.con.execute("INSERT INTO dataset_keys VALUES (?, ?, ?)", [dataset_id, epoch, key.hex()])
        for m in current_members(store, dataset_id):
            _store_grant(store, dataset_id, grant_event(store, dataset_id, m, epoch, key))
    return epoch


def current_members(store: Store, dataset_id: str) -> list[str]:
    ensure_tables(store)
    rows = store.con.execute(
        "SELECT pubkey FROM tribe_members WHERE dataset_id = ? AND removed_at IS NULL ORDER BY pubkey",
        [dataset_id],
    ).fetchall()
    return [str(r[0]) for r in rows]


def members(store: Store, dataset_id: str) -> list[dict[str, object]]:
    ensure_tables(store)
    rows = store.con.execute(
        "SELECT pubkey, added_at, removed_at FROM tribe_members WHERE dataset_id = ? ORDER BY added_at, pubkey",
        [dataset_id],
    ).fetchall()
    return [{"pubkey": r[0], "added_at": r[1], "removed_at": r[2]} for r in rows]


def _store_grant(store: Store, dataset_id: str, ev: NostrEvent) -> None:
    store.con.execute(
        "INSERT INTO sync_outgoing VALUES (?, 'key-grant', 0, ?, ?)", [dataset_id, ev.id, ev.to_json()]
    )
