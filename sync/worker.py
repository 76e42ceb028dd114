"""Keep syncing until stopped: a pass, then listen for live events (or a local change) and pass again.

`SyncWorker` runs that loop on a thread of its own so a UI never waits on the network; it reports a small
`SyncStatus` and the datasets that received events through callbacks (called on the worker's thread).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nostr_sdk import Client, Filter, NostrSdkError, RelayUrl, ReqTarget

from sync import state
from sync.relay_pass import CONNECT_TIMEOUT
from sync.report import SyncReport
from sync.session import sync_once
from sync.targets import relay_urls, targets

if TYPE_CHECKING:
    from engine.store import Store

LOCAL_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class SyncStatus:
    relays_total: int
    relays_connected: int
    outbox: int
    last_ok: float | None  # time of the last pass that reached at least one relay
    error: str | None
    busy: bool

    def line(self) -> str:
        if not self.relays_total:
            return "not syncing: no relays yet (s on the datasets screen adds one)"
        parts = [f"⇅ {self.relays_connected}/{self.relays_total} relays", f"outbox {self.outbox}"]
        if self.busy:
            parts.append("syncing…")
        elif self.last_ok:
            parts.append("synced " + time.strftime("%H:%M:%S", time.localtime(self.last_ok)))
        if self.error:
            parts.append(f"⚠ {self.error}")
        return " · ".join(parts)


def status_after(store_outbox: int, relays_total: int, report: SyncReport | None, last_ok: float | None,
                 busy: bool) -> SyncStatus:  # fmt: skip
    error = None
    if report and report.relays_failed:
        url, reason = next(iter(report.relays_failed.items()))
        error = f"{url}: {reason}"
    connected = len(report.relays_ok) if report else 0
    return SyncStatus(relays_total, connected, store_outbox, last_ok, error, busy)


async def listen(
    urls: list[str], dataset_ids: list[str], seconds: float, wake: threading.Event,
    known: Callable[[str], bool] = lambda event_id: False,
) -> bool:  # fmt: skip
    """Wait up to `seconds` for a live event of these datasets that this store lacks (True) or a wake-up;
    never raises."""
    if not urls or not dataset_ids or wake.is_set():
        return await _sleep(seconds, wake)
    client = Client()
    try:
        for u in urls:
            await client.add_relay(RelayUrl.parse(u))
        await client.try_connect(CONNECT_TIMEOUT)
        stream = client.notifications()
        f = Filter.from_json(json.dumps({"#D": dataset_ids, "since": int(time.time()) - 2}))
        await client.subscribe(ReqTarget.auto([f]))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not wake.is_set():
            try:
                n = await asyncio.wait_for(stream.next(), timeout=0.5)
            except TimeoutError:
                continue
            if n is not None and n.is_new_event() and not known(n.event.id().to_hex()):
                return True
        return False
    except (NostrSdkError, ValueError):
        return await _sleep(seconds, wake)
    finally:
        await client.shutdown()


async def _sleep(seconds: float, wake: threading.Event) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not wake.is_set():
        await asyncio.sleep(0.2)
    return False


class SyncWorker:
    """The background sync loop for an open store."""

    def __init__(
        self, store: Store, on_status: Callable[[SyncStatus], object],
        on_changed: Callable[[set[str]], object] | None = None, interval: float = 20.0,
    ) -> None:  # fmt: skip
        self.store = store
        self.on_status = on_status
        self.on_changed = on_changed or (lambda changed: None)
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_report: SyncReport | None = None
        self.last_ok: float | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main()), name="kobold-sync", daemon=True
        )
        self._thread.start()
        threading.Thread(target=self._watch_local_writes, name="kobold-sync-watch", daemon=True).start()

    def _known(self, event_id: str) -> bool:
        """The event (or the sealed wrapper) is already here: the relay just echoed the recent past."""
        with self.store.lock:
            row = self.store.con.execute(
                """SELECT 1 FROM events WHERE id = ? UNION ALL SELECT 1 FROM sync_wire WHERE wire_id = ?
                   UNION ALL SELECT 1 FROM sync_outgoing WHERE event_id = ?""",
                [event_id, event_id, event_id],
            ).fetchone()
        return row is not None

    def _log_marker(self) -> tuple[int, int]:
        with self.store.lock:
            row = self.store.con.execute("SELECT count(*), coalesce(max(seq), 0) FROM events").fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _watch_local_writes(self) -> None:
        """Wake the loop when the log grows (a local edit, an import), whoever wrote it."""
        seen = self._log_marker()
        while not self._stop.wait(LOCAL_POLL_SECONDS):
            try:
                now = self._log_marker()
            except Exception:
                return
            if now != seen:
                seen = now
                self._wake.set()

    def trigger(self) -> None:
        """Sync soon (a local change is waiting in the outbox)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    def status(self, busy: bool = False) -> SyncStatus:
        with self.store.lock:
            urls = relay_urls(self.store)
            size = state.outbox_size(self.store, urls)
        return status_after(size, len(urls), self.last_report, self.last_ok, busy)

    async def _main(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self.on_status(self.status(busy=True))
            try:
                report = await sync_once(self.store)
            except Exception as exc:
                report = SyncReport(relays_failed={"sync": str(exc) or type(exc).__name__})
            self.last_report = report
            if report.relays_ok:
                self.last_ok = time.time()
            self.on_status(self.status())
            if report.changed:
                self.on_changed(set(report.changed))
            if self._stop.is_set():
                break
            with self.store.lock:
                ids = [t.dataset_id for t in targets(self.store)]
                urls = relay_urls(self.store)
            await listen(urls, ids, self.interval, self._wake, self._known)
