"""Signing local changes: dataset genesis, manifest and schema events, and changesets split under the size limit."""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

from engine import authorization
from engine.apply import Checked, apply_events, check_envelope
from engine.errors import ValidationError
from engine.nostr_event import NostrEvent, Tag, sign_event
from engine.protocol import (
    KIND_CHANGESET,
    KIND_GENESIS,
    PARENT_MARKER,
    PROTOCOL_VERSION,
    TAG_CLOCK,
    TAG_DATASET,
    TAG_PARENT,
    TAG_VERSION,
)

if TYPE_CHECKING:
    from engine.store import Store

# Everything in a signed event but its content: id, pubkey, sig, created_at, kind, keys and punctuation.
_ENVELOPE_BYTES = 64 + 64 + 128 + 20 + 8 + 80
_PARENT_TAG_BYTES = 64 + 20


def dataset_id_for(pubkey: str, nonce: str) -> str:
    """Self-certifying dataset id: nobody else can mint a genesis with the same id."""
    return hashlib.sha256(f"kobold-dataset:{pubkey}:{nonce}".encode()).hexdigest()[:32]


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def envelope_tags(
    dataset_id: str, clock: int, parents: list[str], extra: tuple[Tag, ...] = ()
) -> tuple[Tag, ...]:
    tags: list[Tag] = [
        (TAG_DATASET, dataset_id),
        (TAG_VERSION, str(PROTOCOL_VERSION)),
        (TAG_CLOCK, str(clock)),
    ]
    tags += [(TAG_PARENT, p, "", PARENT_MARKER) for p in sorted(parents)]
    return (*tags, *extra)


def heads(store: Store, dataset_id: str) -> tuple[list[str], int]:
    """The dataset's current heads and the clock a new event on top of them gets."""
    rows = store.con.execute(
        "SELECT event_id, clock FROM heads WHERE dataset_id = ?", [dataset_id]
    ).fetchall()
    return sorted(r[0] for r in rows), (max(r[1] for r in rows) + 1 if rows else 0)


def sign_on_heads(
    store: Store, dataset_id: str, kind: int, body: str, extra: tuple[Tag, ...] = ()
) -> NostrEvent:
    parents, clock = heads(store, dataset_id)
    return sign_event(
        store.identity.secret, store.now(), kind, envelope_tags(dataset_id, clock, parents, extra), body
    )


def append(store: Store, dataset_id: str, kind: int, body: dict[str, Any]) -> NostrEvent:
    """Sign one event on the dataset's heads and apply it."""
    authorization.check_local(store, dataset_id, kind, body)  # before signing: say which role is missing
    with store.transaction():
        ev = sign_on_heads(store, dataset_id, kind, dumps({"v": PROTOCOL_VERSION, **body}))
        apply_events(store, [check_envelope(ev)], fresh=True)
    return ev


def create_genesis(store: Store, name: str, dtype: str, visibility: str, description: str,
                   origin: dict[str, Any] | None = None) -> str:  # fmt: skip
    nonce = os.urandom(16).hex()
    ds = dataset_id_for(store.identity.pubkey, nonce)
    body: dict[str, Any] = {
        "v": PROTOCOL_VERSION, "name": name, "type": dtype, "visibility": visibility,
        "description": description, "nonce": nonce,
    }  # fmt: skip
    if origin:
        body["origin"] = origin
    ev = sign_event(store.identity.secret, store.now(), KIND_GENESIS, envelope_tags(ds, 0, []), dumps(body))
    apply_events(store, [check_envelope(ev)], fresh=True)
    return ds


def escaped_size(text: str) -> int:
    """Bytes `text` takes once embedded as a JSON string (quotes and backslashes gain a backslash)."""
    return len(text.encode()) + text.count('"') + text.count("\\")


def pack(op_texts: list[str], sizes: list[int], budget: int) -> list[tuple[int, int]]:
    """Greedy split of ops into [start, end) runs whose content fits `budget` bytes."""
    runs: list[tuple[int, int]] = []
    start, used = 0, 0
    for i, size in enumerate(sizes):
        if size + 1 > budget:
            raise ValidationError(
                f"One record operation is {size} bytes, more than an event may hold ({budget}); shorten its values."
            )
        if used + size + 1 > budget and i > start:
            runs.append((start, i))
            start, used = i, 0
        used += size + 1
    if start < len(op_texts):
        runs.append((start, len(op_texts)))
    return runs


def content_budget(store: Store, n_parents: int) -> int:
    limit = store.config.max_event_bytes
    prefix = escaped_size(f'{{"v":{PROTOCOL_VERSION},"ops":[]}}')
    return limit - _ENVELOPE_BYTES - prefix - _PARENT_TAG_BYTES * max(n_parents, 1) - 40


def sign_changesets(store: Store, dataset_id: str, op_texts: list[str], sizes: list[int]) -> list[Checked]:
    """Sign ops as a chain of changesets under the size limit, each on top of the previous one."""
    parents, clock = heads(store, dataset_id)
    runs = pack(op_texts, sizes, content_budget(store, len(parents)))
    out: list[Checked] = []
    now = store.now()
    for start, end in runs:
        body = f'{{"v":{PROTOCOL_VERSION},"ops":[' + ",".join(op_texts[start:end]) + "]}"
        ev = sign_event(
            store.identity.secret, now, KIND_CHANGESET, envelope_tags(dataset_id, clock, parents), body
        )
        out.append(Checked(ev, dataset_id, clock, parents, None))
        parents, clock = [ev.id], clock + 1
    return out


def write_ops(store: Store, dataset_id: str, ops: list[dict[str, Any]]) -> list[NostrEvent]:
    """Sign and apply already-validated record ops as one or more changesets."""
    authorization.check_local(
        store, dataset_id, KIND_CHANGESET, resources=sorted({str(op["r"]) for op in ops})
    )
    texts = [dumps(op) for op in ops]
    sizes = [escaped_size(t) for t in texts]
    with store.transaction():
        signed = sign_changesets(store, dataset_id, texts, sizes)
        batch = [
            Checked(c.event, dataset_id, c.clock, c.parents, json.loads(c.event.content)["ops"])
            for c in signed
        ]
        apply_events(store, batch, fresh=True)
    return [c.event for c in batch]
