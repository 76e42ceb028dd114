"""One sync pass against the relays: connect to each, run its part (sync/relay_pass.py) concurrently.

A relay that cannot be reached or fails midway costs only its own part; the next pass resumes where the
confirmations left off (the outbox is what each relay has not confirmed, sync/state.py).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from nostr_sdk import Client

from sync import state
from sync.relay_info import fetch_limits
from sync.relay_pass import CONNECT_TIMEOUT, Link, Progress, RelayPass
from sync.relay_socket import RelayGone, RelaySocket
from sync.report import SyncReport
from sync.targets import relay_urls

if TYPE_CHECKING:
    from engine.store import Store


async def sync_once(
    store: Store,
    relays: list[str] | None = None,
    progress: Progress | None = None,
    *,
    full_history: bool = False,
) -> SyncReport:
    """Push and pull every replicated dataset through every relay once. `full_history` also fetches the history
    before the snapshot a dataset was bootstrapped from (otherwise left on the relays)."""
    report = SyncReport()
    urls = relays if relays is not None else relay_urls(store)
    if not urls:
        report.notes.append("no relays configured: add one with `kobold relay add wss://…`")
        return report
    client = Client()  # nostr-sdk, for NIP-77 reconciliation only
    links: list[Link] = []
    try:
        links = await _connect(client, urls, report)
        with store.lock:
            for url, reason in report.relays_failed.items():
                state.note_relay(store, url, reason)
        await asyncio.gather(
            *(RelayPass(store, link, report, progress, full_history).run() for link in links)
        )
    finally:
        for link in links:
            await link.socket.close()
        await client.shutdown()
    return report


async def _connect(client: Client, urls: list[str], report: SyncReport) -> list[Link]:
    async def one(url: str) -> Link | None:
        socket = RelaySocket(url)
        try:
            await socket.open(CONNECT_TIMEOUT.total_seconds())
        except RelayGone as exc:
            report.relays_failed[url] = str(exc)
            return None
        limits = await asyncio.to_thread(fetch_limits, url)
        return Link(url, socket, limits, client)

    return [link for link in await asyncio.gather(*(one(u) for u in urls)) if link is not None]
