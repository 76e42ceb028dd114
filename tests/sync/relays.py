"""Real relays on 127.0.0.1 for the sync tests: nostr-sdk's LocalRelay, the nostr-relay server, a hostile one."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nostr_sdk import LocalRelay, LocalRelayBuilder, RateLimit


def start_local_relay() -> tuple[LocalRelay, str]:
    """An in-process relay (it runs on nostr-sdk's own runtime, so any event loop can use it)."""

    async def start() -> tuple[LocalRelay, str]:
        relay = (
            LocalRelayBuilder()
            .addr("127.0.0.1")
            .rate_limit(RateLimit(max_reqs=500, notes_per_minute=100_000_000))
            .build()
        )
        await relay.run()
        return relay, str(await relay.url())

    return asyncio.run(start())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class NostrRelayServer:
    """The nostr-relay PyPI server as a separate process with its own SQLite file."""

    def __init__(self, directory: Path, max_event_size: int = 100_000) -> None:
        self.directory = directory
        self.port = free_port()
        self.db = directory / "relay.sqlite3"
        self.config = directory / "relay.yaml"
        self.config.write_text(
            f"""storage: {{sqlalchemy.url: "sqlite+aiosqlite:///{self.db}"}}
gunicorn: {{bind: "127.0.0.1:{self.port}", workers: 1, loglevel: warning}}
authentication: {{enabled: false}}
max_event_size: {max_event_size}
oldest_event: 315360000
max_limit: 6000
"""
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = Path(sys.executable).parent / "nostr-relay"
        self.proc = subprocess.Popen(
            [str(exe), "-c", str(self.config), "serve", "--use-uvicorn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def count(self) -> int:
        import sqlite3

        try:
            # read-only, so the poll never holds a lock the relay's writes would wait for
            with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=0.2) as con:
                return int(con.execute("SELECT count(*) FROM events").fetchone()[0])
        except sqlite3.Error:
            return 0

    def events(self) -> list[dict[str, Any]]:
        """Every event the relay stored, read straight from its database."""
        import sqlite3

        with sqlite3.connect(self.db) as con:
            rows = con.execute("SELECT hex(id), kind, tags, content FROM events").fetchall()
        return [{"id": r[0].lower(), "kind": r[1], "tags": json.loads(r[2]), "content": r[3]} for r in rows]


Responder = Callable[[list[Any]], list[dict[str, Any]]]


class HostileRelay:
    """A tiny relay that answers every REQ with events of its choosing and OKs every EVENT without storing it.

    It also serves a NIP-11 document with the given `limitation`.
    """

    def __init__(self, respond: Responder, limitation: dict[str, Any] | None = None) -> None:
        self.respond = respond
        self.limitation = limitation or {}
        self.port = free_port()
        self.received: list[dict[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> HostileRelay:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        from websockets.asyncio.server import ServerConnection, serve
        from websockets.datastructures import Headers
        from websockets.http11 import Request, Response

        def nip11(connection: ServerConnection, request: Request) -> Response | None:
            if request.headers.get("Accept") == "application/nostr+json":
                body = json.dumps(
                    {"name": "hostile", "supported_nips": [1, 11], "limitation": self.limitation}
                )
                return Response(200, "OK", Headers({"Content-Type": "application/nostr+json"}), body.encode())
            return None

        async def handler(ws: ServerConnection) -> None:
            async for message in ws:
                msg = json.loads(message)
                if msg[0] == "REQ":
                    for ev in self.respond(msg[2:]):
                        await ws.send(json.dumps(["EVENT", msg[1], ev]))
                    await ws.send(json.dumps(["EOSE", msg[1]]))
                elif msg[0] == "EVENT":
                    self.received.append(msg[1])
                    await ws.send(json.dumps(["OK", msg[1]["id"], True, ""]))
                elif msg[0] == "CLOSE":
                    await ws.send(json.dumps(["CLOSED", msg[1], ""]))

        self._stop = self._loop.create_future()
        async with serve(handler, "127.0.0.1", self.port, process_request=nip11):
            self._ready.set()
            await self._stop
