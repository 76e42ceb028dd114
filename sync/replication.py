"""Replication commands behind the CLI and the TUI: relays, publish, follow, snapshots to serve, addresses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine import datasets, snapshot
from engine.identity import short_npub
from sync import address, state
from sync.relay_info import RelayLimits, fetch_limits
from sync.state import SyncError

if TYPE_CHECKING:
    from engine.store import Store

SEAL_OVERHEAD = 1.4  # a sealed event is base64 of the inner JSON plus an envelope


def check_url(url: str) -> str:
    given = url
    url = url.strip().rstrip("/")
    host = url.split("://", 1)[1] if "://" in url else ""
    if not url.startswith(("ws://", "wss://")) or not host or any(c.isspace() for c in url):
        raise SyncError(f"{given!r} is not a relay address; relays look like wss://relay.example.org")
    return url


def add_relay(store: Store, url: str) -> tuple[str, RelayLimits, str | None]:
    """Remember a relay; read its NIP-11 limits and shrink future events to fit. Returns (url, limits, note)."""
    url = check_url(url)
    limits = fetch_limits(url)
    note = None
    fits = int(limits.max_message_length / SEAL_OVERHEAD) - 512
    if fits < store.config.max_event_bytes:
        note = (f"{url} accepts messages up to {limits.max_message_length} bytes: new events are now split "
                f"at {fits} bytes (was {store.config.max_event_bytes}).")  # fmt: skip
        store.config.max_event_bytes = max(fits, 4096)
    if url not in store.config.relays:
        store.config.relays.append(url)
    store.config.save(store.home)
    return url, limits, note


def remove_relay(store: Store, url: str) -> None:
    url = check_url(url)
    if url not in store.config.relays:
        raise SyncError(f"{url} is not configured; `kobold relay list` shows the relays.")
    store.config.relays.remove(url)
    store.config.save(store.home)


def relays(store: Store) -> list[dict[str, Any]]:
    """Configured relays, then those only named by followed addresses (`source` says which)."""
    status = state.relay_status(store)
    hints = [u for f in state.follows(store) for u in f.relays if u not in store.config.relays]
    none = {"last_ok": None, "last_error": None, "error_at": None}
    return [{"url": u, "source": source, **status.get(u, none)}
            for source, urls in (("config", store.config.relays), ("follow", list(dict.fromkeys(hints))))
            for u in urls]  # fmt: skip


def publish(store: Store, dataset_id: str, *, with_snapshot: bool = False) -> dict[str, Any]:
    """Mark a dataset for replication (a private one is refused); optionally sign a snapshot to serve."""
    state.publish(store, dataset_id)
    out: dict[str, Any] = {
        "dataset": dataset_id,
        "published": True,
        "address": share_address(store, dataset_id),
    }
    if with_snapshot:
        events = snapshot.create(store, dataset_id)
        with store.transaction():
            store.con.execute(
                "DELETE FROM sync_outgoing WHERE dataset_id = ? AND grp <> 'key-grant'", [dataset_id]
            )
            store.con.executemany(
                "INSERT INTO sync_outgoing VALUES (?, ?, ?, ?, ?)",
                [(dataset_id, events[0].id, n, ev.id, ev.to_json()) for n, ev in enumerate(events)],
            )
        out["snapshot"] = {"id": events[0].id, "events": len(events)}
    if not store.config.relays:
        out["note"] = "no relays configured yet: add one with `kobold relay add wss://…`, then `kobold sync`"
    return out


def follow(store: Store, text: str, owner: str | None, relay_urls: list[str]) -> address.Address:
    addr = address.decode(text, owner, [check_url(u) for u in relay_urls])
    if not addr.relays and not store.config.relays:
        raise SyncError("No relay to follow through: give --relay URL or add one with `kobold relay add`.")
    row = store.con.execute("SELECT owner FROM datasets WHERE id = ?", [addr.dataset_id]).fetchone()
    if row is not None and row[0] != addr.owner:
        raise SyncError(
            f"This store has dataset {addr.dataset_id} owned by {short_npub(row[0])}, not by "
            f"{short_npub(addr.owner)}; check the address."
        )
    state.follow(store, addr.dataset_id, addr.owner, addr.relays)
    return addr


def share_address(store: Store, dataset_id: str) -> str | None:
    """The naddr others follow, with this store's relays as hints; None for a private dataset."""
    info = datasets.info(store, dataset_id)
    if info.visibility == "private":
        return None
    return address.encode(info.id, info.owner, store.config.relays[:3])
