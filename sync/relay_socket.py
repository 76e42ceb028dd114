"""A NIP-01 connection to one relay for bulk traffic: publish with acknowledgements, fetch until EOSE.

nostr-sdk's Python bindings copy every string into Rust one byte at a time (about 5 ms for a 32 KiB
event), which makes publishing a large dataset through them take minutes. Dataset events are large by
design (changesets batch many records), so the bulk path speaks the protocol directly over `websockets`;
nostr-sdk still does what only it does here: NIP-77 reconciliation, NIP-44 and NIP-19.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Iterable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from engine.limits import MAX_RELAY_FRAME
from engine.nostr_event import NostrEvent

_sub_ids = itertools.count(1)


class RelayGone(Exception):
    """The connection failed or closed; the message says how."""


class RelaySocket:
    def __init__(self, url: str) -> None:
        self.url = url
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._acks: dict[str, asyncio.Future[tuple[bool, str]]] = {}
        self._subs: dict[str, asyncio.Queue[tuple[str, Any]]] = {}
        self._closed: str | None = None
        self.acked = 0  # OKs received on this connection

    async def open(self, timeout: float) -> None:
        try:
            self._ws = await asyncio.wait_for(
                connect(self.url, max_size=MAX_RELAY_FRAME, open_timeout=timeout, ping_interval=20),
                timeout + 1,
            )
        except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
            raise RelayGone(f"cannot connect: {exc or type(exc).__name__}") from None
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for frame in self._ws:
                self._dispatch(frame)
            self._fail("the relay closed the connection")
        except (WebSocketException, OSError) as exc:
            self._fail(f"connection lost: {exc or type(exc).__name__}")

    def _dispatch(self, frame: str | bytes) -> None:
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return
        if not isinstance(msg, list) or not msg or not isinstance(msg[0], str):
            return
        kind = msg[0]
        if kind == "OK" and len(msg) >= 3:
            fut = self._acks.pop(str(msg[1]), None)
            if fut is not None and not fut.done():
                self.acked += 1
                fut.set_result((msg[2] is True, str(msg[3]) if len(msg) > 3 else ""))
        elif kind in ("EVENT", "EOSE", "CLOSED") and len(msg) >= 2:
            queue = self._subs.get(str(msg[1]))
            if queue is not None:
                queue.put_nowait((kind, msg[2] if len(msg) > 2 else None))

    def _fail(self, reason: str) -> None:
        self._closed = reason
        for fut in self._acks.values():
            if not fut.done():
                fut.set_exception(RelayGone(reason))
        self._acks.clear()
        for queue in self._subs.values():
            queue.put_nowait(("GONE", reason))

    async def _send(self, text: str) -> None:
        if self._closed or self._ws is None:
            raise RelayGone(self._closed or "not connected")
        try:
            await self._ws.send(text)
        except (WebSocketException, OSError) as exc:
            raise RelayGone(f"connection lost: {exc or type(exc).__name__}") from None

    async def publish(self, event_id: str, raw: str, timeout: float) -> tuple[bool, str]:
        """Send one event; (accepted, the relay's message). A relay that never answers raises RelayGone."""
        fut: asyncio.Future[tuple[bool, str]] = asyncio.get_running_loop().create_future()
        self._acks[event_id] = fut
        await self._send(f'["EVENT",{raw}]')
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            self._acks.pop(event_id, None)
            raise RelayGone(f"no OK within {timeout:.0f} s") from None

    async def fetch(self, filters: Iterable[dict[str, Any]], timeout: float) -> list[NostrEvent]:
        """Every stored event matching the filters, up to the relay's EOSE."""
        sub = f"k{next(_sub_ids)}"
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._subs[sub] = queue
        out: list[NostrEvent] = []
        try:
            await self._send(json.dumps(["REQ", sub, *filters]))
            while True:
                try:
                    kind, payload = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError:
                    raise RelayGone(f"no end of stored events within {timeout:.0f} s") from None
                if kind == "EVENT":
                    with contextlib.suppress(Exception):  # a malformed event is simply not one
                        out.append(NostrEvent.from_dict(payload))
                elif kind == "EOSE":
                    break
                elif kind == "CLOSED":
                    raise RelayGone(f"the relay closed the request: {payload}")
                else:
                    raise RelayGone(str(payload))
        finally:
            self._subs.pop(sub, None)
            if not self._closed:
                with contextlib.suppress(RelayGone):
                    await self._send(json.dumps(["CLOSE", sub]))
        return out
