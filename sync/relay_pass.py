"""One relay's part of a sync pass, per dataset: bootstrap, reconcile and pull, then push the outbox.

Pull: a NIP-77 negentropy dry run where the relay speaks it (else a paged fetch of the dataset's events), then
the missing events by id in chunks the relay allows, handed to the one ingest path (verify, authorize,
idempotent). Push: the outbox in batches with bounded concurrency; an event counts as held only on the relay's
OK. Tribe-read datasets travel sealed (sync/tribe.py); a private dataset is never sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from nostr_sdk import (
    Client,
    EventId,
    Filter,
    NegentropyItem,
    NostrSdkError,
    Relay,
    RelayUrl,
    SyncOptions,
    Timestamp,
)

from engine import ingest, limits, names, snapshot
from engine.nostr_event import NostrEvent
from engine.protocol import DATASET_KINDS, KIND_GENESIS, KIND_SNAPSHOT
from sync import profile, state, tribe
from sync.relay_info import DEFAULT_MAX_LIMIT, RelayLimits
from sync.relay_socket import RelayGone, RelaySocket
from sync.report import SyncReport
from sync.targets import Target, targets

if TYPE_CHECKING:
    from engine.store import Store

LOG_KINDS = sorted(DATASET_KINDS - {KIND_SNAPSHOT})
IN_FLIGHT = 64  # unacknowledged sends per relay: more makes relays reset the connection
FETCH_CONCURRENCY = 4
CONNECT_TIMEOUT = timedelta(seconds=3)
FETCH_TIMEOUT = timedelta(seconds=20)
OK_TIMEOUT = timedelta(seconds=10)
NEGENTROPY_TIMEOUT = timedelta(seconds=3)
INGEST_BATCH = 5_000  # events per ingest call: bounds how long the store lock is held (the UI waits on it)
PUSH_RECONNECTS = 20
PUSH_BATCH = 2000
PROFILE_TTL = 86_400  # refetch a profile name after a day
PROFILES_PER_PASS = 2000
HISTORY_SLACK = 3600
# OK-false prefixes that mean "later", not "never" (NIP-01 machine-readable prefixes and common wording)
_TRANSIENT = ("rate-limited", "rate limit", "slow down", "try again", "timeout")

Progress = Callable[[str], None]


@dataclass
class Link:
    url: str
    socket: RelaySocket
    limits: RelayLimits
    client: Client
    _negentropy: Relay | None = None

    async def reconnect(self) -> None:
        await self.socket.close()
        self.socket = RelaySocket(self.url)
        await self.socket.open(CONNECT_TIMEOUT.total_seconds())

    async def negentropy_relay(self) -> Relay | None:
        """nostr-sdk's connection to this relay, opened on first use; None if it cannot connect."""
        if self._negentropy is None:
            try:
                parsed = RelayUrl.parse(self.url)
                await self.client.add_relay(parsed)
                relay = await self.client.relay(parsed)
                if relay is None:
                    return None
                await relay.try_connect(CONNECT_TIMEOUT)
                self._negentropy = relay
            except (NostrSdkError, ValueError):
                return None
        return self._negentropy


def _reason(exc: BaseException) -> str:
    text = str(exc.args[0]) if getattr(exc, "args", None) else str(exc)
    return text.strip() or type(exc).__name__


def _d_filter(ds: str, kinds: Iterable[int], **extra: Any) -> dict[str, Any]:
    return {"kinds": sorted(kinds), "#D": [ds], **extra}


class RelayPass:
    def __init__(
        self,
        store: Store,
        link: Link,
        report: SyncReport,
        progress: Progress | None,
        full_history: bool = False,
    ) -> None:
        self.full_history = full_history
        self.store, self.link, self.report = store, link, report
        self.url = link.url
        self.tick = progress or (lambda message: None)
        self.negentropy: bool | None = None

    async def run(self) -> None:
        try:
            done: set[str] = set()
            for _ in range(2):  # a second round for forks that proposals received in the first one name
                for target in [t for t in targets(self.store) if t.dataset_id not in done]:
                    await self.dataset(target)
                    done.add(target.dataset_id)
            await self.profiles(sorted(done))
            await self.push_profile()
        except RelayGone as exc:
            reason = _reason(exc)
            self.report.relays_failed[self.url] = reason
            with self.store.lock:
                state.note_relay(self.store, self.url, reason)
            return
        self.report.relays_ok.append(self.url)
        with self.store.lock:
            state.note_relay(self.store, self.url, None)

    async def dataset(self, target: Target) -> None:
        ds = target.dataset_id
        if target.visibility is None:
            await self.fetch_keys(ds, target.owner)
            if not await self.bootstrap(ds):
                return
            with self.store.lock:
                row = self.store.con.execute("SELECT visibility FROM datasets WHERE id = ?", [ds]).fetchone()
            if row is None:
                return
            target = Target(ds, str(row[0]), target.owner)
        elif target.visibility == "tribe":
            await self.fetch_keys(ds, target.owner)
        sealed = target.visibility == "tribe"
        self.tick(f"{self.url}: reconciling {ds[:8]}")
        await self.pull(ds, sealed)
        await self.push(ds, sealed)

    # --- pulling ------------------------------------------------------------------------------------------

    async def profiles(self, dataset_ids: list[str]) -> None:
        """Fetch the NIP-01 profile (kind 0) of authors we show without a name, so history reads as people."""
        with self.store.lock:
            names.ensure_tables(self.store)
            rows = self.store.con.execute(
                """SELECT DISTINCT pubkey FROM events WHERE dataset_id IN (SELECT unnest(?::VARCHAR[]))
                   AND pubkey NOT IN (SELECT pubkey FROM profiles WHERE fetched_at > ?) ORDER BY pubkey LIMIT ?""",
                [dataset_ids, int(time.time()) - PROFILE_TTL, PROFILES_PER_PASS],
            ).fetchall()
        wanted = {str(r[0]) for r in rows}
        if not wanted:
            return
        step = self.link.limits.max_limit
        ordered = sorted(wanted)
        found = await self.fetch_many(
            [{"kinds": [0], "authors": ordered[i : i + step]} for i in range(0, len(ordered), step)]
        )
        newest: dict[str, NostrEvent] = {}
        for ev in found:
            current = newest.get(ev.pubkey)
            if current is not None and (ev.created_at, ev.id) <= (current.created_at, current.id):
                continue
            if ev.kind == 0 and ev.pubkey in wanted and ev.check_id() and ev.check_signature():
                newest[ev.pubkey] = ev
        now = int(time.time())
        with self.store.lock:
            for pubkey, ev in newest.items():
                name = profile_name(ev.content)
                if name:
                    names.save_profile(self.store, pubkey, name, now)

    async def push_profile(self) -> None:
        """Offer this store's own profile (`kobold id name`), unless the relay holds a newer one for this key, or one
        with more than a name (made by another Nostr client: a name-only event would replace all of it)."""
        with self.store.lock:
            mine = profile.unsent(self.store, self.url)
        if mine is None:
            return
        there = [
            e for e in await self.fetch({"kinds": [0], "authors": [mine.pubkey]})
            if e.kind == 0 and e.pubkey == mine.pubkey and e.check_id() and e.check_signature()
        ]  # fmt: skip
        if any(e.id == mine.id for e in there):
            with self.store.lock:
                state.mark_held(self.store, self.url, [mine.id])
            return
        theirs = max(there, key=lambda e: (e.created_at, e.id), default=None)
        if theirs is not None and (theirs.created_at > mine.created_at or not _name_only(theirs.content)):
            # Recorded as refused: not offered to this relay again (until the next `id name`), reported once.
            why = (
                "a newer profile"
                if theirs.created_at > mine.created_at
                else "a profile with more than a name"
            )
            self.refuse(
                mine.id,
                f"the relay has {why} for you ({profile_name(theirs.content) or 'without a name'}); Kobold leaves "
                "it as it is: change your name in the Nostr client that made it",
            )
            return
        held, failure = await self.send_all([(mine.id, mine)])
        with self.store.lock:
            state.mark_held(self.store, self.url, held)
        if failure is not None:
            raise RelayGone(f"sending the profile failed: {failure}")

    async def fetch_keys(self, ds: str, owner: str | None) -> None:
        if owner is None:
            with self.store.lock:
                row = self.store.con.execute("SELECT owner FROM datasets WHERE id = ?", [ds]).fetchone()
            owner = str(row[0]) if row else None
        if owner is None:
            return
        grants = {"kinds": [tribe.KIND_KEY_GRANT], "#D": [ds], "#p": [self.store.identity.pubkey]}
        for ev in await self.fetch(grants):
            with self.store.lock:
                tribe.accept_grant(self.store, ev, owner)

    async def bootstrap(self, ds: str) -> bool:
        """First contact with a followed dataset: the genesis, and the newest snapshot when there is one."""
        plain = await self.fetch(_d_filter(ds, [KIND_SNAPSHOT], **{"#P": ["0"]}))
        plain += await self.fetch(_d_filter(ds, [KIND_GENESIS]))
        sealed = await self.fetch(
            _d_filter(ds, [tribe.KIND_SEALED], **{"#k": [str(KIND_GENESIS), str(KIND_SNAPSHOT)]})
        )
        opened = self.unseal_all(ds, sealed, headers_only=True)
        found = [e for e in plain if e.first_tag("D") == ds] + opened
        genesis = [e for e in found if e.kind == KIND_GENESIS]
        headers = [e for e in found if e.kind == KIND_SNAPSHOT]
        if not genesis:
            if sealed and self.report.unreadable:
                self.report.notes.append(
                    f"{ds[:8]} is tribe-read and no key for it reached this store: ask its owner to run "
                    f"`kobold member add {ds} {self.store.identity.npub}`"
                )
            elif not sealed:
                self.report.notes.append(
                    f"{self.url} has nothing of dataset {ds[:8]} yet: its owner may not have published it there"
                )
            return False
        batch = genesis[:1]
        if headers:
            newest = max(headers, key=lambda h: (int(h.first_tag("clock") or 0), h.created_at, h.id))
            batch += [newest, *await self.snapshot_chunks(ds, newest, sealed=newest in opened)]
        self.apply(ds, batch)
        if headers:
            self.report.bootstrapped.append(ds)
        return True

    async def snapshot_chunks(self, ds: str, header: NostrEvent, sealed: bool) -> list[NostrEvent]:
        try:
            parts = int(json.loads(header.content)["parts"])
        except (ValueError, KeyError, TypeError):
            return []
        numbers = [str(i) for i in range(1, parts)]
        step = self.link.limits.max_limit
        kinds = [tribe.KIND_SEALED] if sealed else [KIND_SNAPSHOT]
        filters = [_d_filter(ds, kinds, **{"#S": [header.id], "#P": numbers[i : i + step]})
                   for i in range(0, len(numbers), step)]  # fmt: skip
        events = await self.fetch_many(filters)
        return self.unseal_all(ds, events) if sealed else events

    def history_since(self, ds: str) -> int | None:
        """For a dataset bootstrapped from a snapshot: fetch only what came after it (an hour's slack for
        clocks). The history before it stays on the relays until asked for (`full_history`)."""
        if self.full_history:
            return None
        with self.store.lock:
            base = snapshot.base_of(self.store, ds)
            if base is None:
                return None
            row = self.store.con.execute(
                "SELECT raw FROM snapshot_events WHERE snapshot_id = ? AND part = 0", [base.snapshot_id]
            ).fetchone()
        return NostrEvent.from_json(row[0]).created_at - HISTORY_SLACK if row else None

    async def pull(self, ds: str, sealed: bool) -> None:
        since = self.history_since(ds)
        missing = await self.reconcile(ds, sealed, since)
        if missing is None:  # no NIP-77: everything the relay holds for the dataset
            events = await self.fetch_paged(self.log_filter(ds, sealed, since))
        else:
            step = self.link.limits.max_limit
            ids = sorted(missing)
            events = await self.fetch_many([{"ids": ids[n : n + step]} for n in range(0, len(ids), step)])
            events = [e for e in events if e.id in missing]
        inner = self.unseal_all(ds, events) if sealed else events
        self.apply(ds, inner)
        with self.store.lock:
            state.mark_held(self.store, self.url, [e.id for e in inner])

    def log_filter(self, ds: str, sealed: bool, since: int | None = None) -> dict[str, Any]:
        extra: dict[str, Any] = {} if since is None else {"since": since}
        if sealed:
            return _d_filter(ds, [tribe.KIND_SEALED], **{"#k": [str(k) for k in LOG_KINDS]}, **extra)
        return _d_filter(ds, LOG_KINDS, **extra)

    async def reconcile(self, ds: str, sealed: bool, since: int | None) -> set[str] | None:
        """Ids the relay holds and we lack (NIP-77 dry run); marks what it already holds. None: no NIP-77."""
        nips = self.link.limits.supported_nips
        if self.negentropy is False or (nips and 77 not in nips):
            return None
        relay = await self.link.negentropy_relay()
        if relay is None:
            self.negentropy = False
            return None
        with self.store.lock:
            if sealed:
                rows = self.store.con.execute(
                    """SELECT w.wire_id, w.created_at, w.event_id FROM sync_wire w
                       JOIN events e ON e.id = w.event_id WHERE w.dataset_id = ? AND w.created_at >= ?""",
                    [ds, since or 0],
                ).fetchall()
            else:
                rows = self.store.con.execute(
                    "SELECT id, created_at, id FROM events WHERE dataset_id = ? AND kind <> ? AND created_at >= ?",
                    [ds, KIND_SNAPSHOT, since or 0],
                ).fetchall()
        items = [
            NegentropyItem(id=EventId.parse(r[0]), timestamp=Timestamp.from_secs(int(r[1]))) for r in rows
        ]
        try:
            opts = SyncOptions().dry_run().initial_timeout(NEGENTROPY_TIMEOUT)
            f = Filter.from_json(json.dumps(self.log_filter(ds, sealed, since)))
            summary = await relay.sync(f, items=items, opts=opts)
        except NostrSdkError:
            # Relays without NIP-77 answer with an error or not at all; the paged fetch finds out the rest.
            self.negentropy = False
            return None
        self.negentropy = True
        lacking = {i.to_hex() for i in summary.local}
        with self.store.lock:
            state.mark_held(self.store, self.url, [r[2] for r in rows if r[0] not in lacking])
        return {i.to_hex() for i in summary.remote}

    async def fetch(self, f: dict[str, Any]) -> list[NostrEvent]:
        return await self.link.socket.fetch([f], FETCH_TIMEOUT.total_seconds())

    async def fetch_many(self, filters: list[dict[str, Any]]) -> list[NostrEvent]:
        gate = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def one(f: dict[str, Any]) -> list[NostrEvent]:
            async with gate:
                return await self.fetch(f)

        out: list[NostrEvent] = []
        for chunk in await asyncio.gather(*(one(f) for f in filters)):
            out += chunk
        return out

    async def fetch_paged(self, base: dict[str, Any]) -> list[NostrEvent]:
        """All events matching `base`, newest first, a page at a time until a page brings nothing new.

        Relays may serve fewer events than asked without saying so, hence no "short page means done"."""
        limit = self.link.limits.page_size
        seen: dict[str, NostrEvent] = {}
        until: int | None = None
        while True:
            page = await self.fetch({**base, "limit": limit, **({} if until is None else {"until": until})})
            fresh = [e for e in page if e.id not in seen]
            for e in fresh:
                seen[e.id] = e
            if not fresh:
                if (
                    until is not None
                    and len(page) >= DEFAULT_MAX_LIMIT
                    and {e.created_at for e in page} == {until}
                ):
                    self.report.notes.append(
                        f"{self.url} holds more events with one timestamp than it serves at once; some may not "
                        "have been fetched (a relay with NIP-77 avoids this)"
                    )
                return list(seen.values())
            until = min(e.created_at for e in page)

    def unseal_all(self, ds: str, events: list[NostrEvent], headers_only: bool = False) -> list[NostrEvent]:
        """Open sealed events into their inner events (verifying the wrapper), remembering the wire ids."""
        out: list[NostrEvent] = []
        rows: list[tuple[str, str, str, int]] = []
        with self.store.lock:
            state.ensure_tables(self.store)
            for wire in events:
                if wire.kind != tribe.KIND_SEALED or wire.first_tag("D") != ds:
                    continue
                if headers_only and wire.first_tag("k") == str(KIND_SNAPSHOT) and wire.first_tag("P") != "0":
                    continue
                if not (wire.check_id() and wire.check_signature()):
                    self.report.rejected.append((wire.id, "a sealed event's id or signature does not verify"))
                    continue
                inner = tribe.unseal(self.store, wire)
                if inner is None:
                    self.report.unreadable += 1
                    continue
                try:
                    opened = NostrEvent.from_json(inner)
                except Exception:
                    self.report.rejected.append((wire.id, "a sealed event does not hold a valid event"))
                    continue
                rows.append((wire.id, opened.id, ds, wire.created_at))
                out.append(opened)
            if rows:
                self.store.con.executemany("INSERT OR IGNORE INTO sync_wire VALUES (?, ?, ?, ?)", rows)
        return out

    def apply(self, ds: str, events: list[NostrEvent]) -> None:
        for part in _ingest_batches(events):
            with self.store.lock:
                result = ingest.ingest(self.store, part, dataset=ds)
            self.report.absorb(result, ds)

    # --- pushing ------------------------------------------------------------------------------------------

    async def push(self, ds: str, sealed: bool) -> None:
        """Send the outbox a batch at a time (memory stays flat however large the dataset)."""
        reconnects = 0
        while True:
            with self.store.lock:
                if state.visibility(self.store, ds) == "private":
                    return  # checked again here: nothing private goes out, whatever marked it
                rows = state.outbox(self.store, self.url, ds, PUSH_BATCH)
                todo = [(eid, self.wire(raw, sealed and not grant)) for eid, raw, grant in rows]
            if not todo:
                return
            self.tick(f"{self.url}: sending {len(todo)} events of {ds[:8]}")
            held, failure = await self.send_all(todo)
            with self.store.lock:
                state.mark_held(self.store, self.url, held)
            if failure is not None:
                if not self.link.socket.acked or reconnects >= PUSH_RECONNECTS:
                    raise RelayGone(f"sending failed: {failure}")
                # Progress, then a dropped connection (some relays cap messages per connection): go on.
                reconnects += 1
                await self.link.reconnect()

    async def send_all(self, todo: list[tuple[str, NostrEvent]]) -> tuple[list[str], str | None]:
        """Send with bounded concurrency; (ids the relay now holds, why sending stopped or None)."""
        gate = asyncio.Semaphore(IN_FLIGHT)
        now = int(time.time())
        held: list[str] = []
        failure: list[str] = []

        async def send(event_id: str, wire: NostrEvent) -> None:
            raw = wire.to_json()
            refusal = self.link.limits.refusal(raw, len(wire.content), wire.created_at, now)
            if refusal:
                self.refuse(event_id, refusal)
                return
            async with gate:
                if failure:
                    return
                try:
                    ok, message = await self.link.socket.publish(wire.id, raw, OK_TIMEOUT.total_seconds())
                except RelayGone as exc:
                    failure.append(str(exc))
                    return
                if ok or message.lower().startswith("duplicate"):
                    held.append(event_id)
                    self.report.sent += ok
                elif any(word in message.lower() for word in _TRANSIENT):
                    failure.append(message)
                else:
                    self.refuse(event_id, message or "refused without a reason")

        await asyncio.gather(*(send(eid, w) for eid, w in todo))
        return held, failure[0] if failure else None

    def wire(self, raw: str, seal: bool) -> NostrEvent:
        if not seal:
            return NostrEvent.from_json(raw)
        ev = tribe.seal(self.store, raw)
        inner = NostrEvent.from_json(raw)
        self.store.con.execute(
            "INSERT OR IGNORE INTO sync_wire VALUES (?, ?, ?, ?)",
            [ev.id, inner.id, inner.first_tag("D") or "", inner.created_at],
        )
        return ev

    def refuse(self, event_id: str, reason: str) -> None:
        self.report.refused.append({"relay": self.url, "event": event_id, "reason": reason})
        with self.store.lock:
            state.mark_refused(self.store, self.url, event_id, reason)


def _name_only(content: str) -> bool:
    """A profile holding nothing but a name (as `kobold id name` writes them): replacing it loses nothing."""
    try:
        data = json.loads(content)
    except ValueError:
        return True
    return not isinstance(data, dict) or set(data) <= {"name", "display_name"}


def profile_name(content: str) -> str | None:
    """`display_name`, else `name`, of a kind-0 profile; None when it has neither or is not JSON."""
    try:
        data = json.loads(content)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key in ("display_name", "name"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[: limits.MAX_NAME]  # anyone's profile: shortened, never refused
    return None


def _ingest_batches(events: list[NostrEvent]) -> list[list[NostrEvent]]:
    """`events` in order, cut every INGEST_BATCH events, except that a run of snapshot events (a header and its
    chunks) stays whole: a snapshot is only received with all its chunks in one ingest call."""
    out: list[list[NostrEvent]] = []
    for snap, run in itertools.groupby(events, key=lambda e: e.kind == KIND_SNAPSHOT):
        items = list(run)
        out += [items] if snap else [items[n : n + INGEST_BATCH] for n in range(0, len(items), INGEST_BATCH)]
    return out
