"""`kobold id name`: the name other stores show for you, published as a Nostr profile on the next sync."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from engine import datasets, names
from engine.errors import ValidationError
from engine.nostr_event import NostrEvent, sign_event
from engine.store import Store
from sync import profile, replication
from sync.relay_socket import RelaySocket
from sync.report import SyncReport
from sync.session import sync_once
from tests.sync.test_cli_sync import kobold


def sync(store: Store) -> SyncReport:
    return asyncio.run(sync_once(store))


def on_relay(url: str, pubkey: str) -> list[NostrEvent]:
    async def run() -> list[NostrEvent]:
        socket = RelaySocket(url)
        await socket.open(5)
        try:
            return await socket.fetch([{"kinds": [0], "authors": [pubkey]}], 5)
        finally:
            await socket.close()

    return asyncio.run(run())


def put_on_relay(url: str, ev: NostrEvent) -> None:
    async def run() -> None:
        socket = RelaySocket(url)
        await socket.open(5)
        try:
            ok, message = await socket.publish(ev.id, ev.to_json(), 5)
            assert ok, message
        finally:
            await socket.close()

    asyncio.run(run())


def test_a_name_set_here_is_what_followers_see(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], local_relay: str
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    ds = kobold(a, capsys, "demo")["id"]
    set_name: Any = kobold(a, capsys, "id", "name", "  Ana   of the Valley ")
    assert set_name["name"] == "Ana of the Valley"
    kobold(a, capsys, "relay", "add", local_relay)
    address = kobold(a, capsys, "publish", ds)["address"]
    assert kobold(a, capsys, "sync", "--once")["relays_ok"] == [local_relay]
    with Store.open(a) as s:
        pubkey = s.identity.pubkey
    (published,) = on_relay(local_relay, pubkey)
    assert json.loads(published.content) == {"name": "Ana of the Valley"}

    kobold(b, capsys, "follow", address)
    kobold(b, capsys, "sync", "--once")
    with Store.open(b) as s:
        assert names.display_name(s, pubkey) == "Ana of the Valley"


def test_a_profile_made_by_another_client_is_left_alone(alice: Store, local_relay: str) -> None:
    rich = sign_event(alice.identity.secret, 1_700_000_000, 0, (),
                      json.dumps({"name": "ana", "about": "seeds!", "picture": "https://example.org/a.png"}))  # fmt: skip
    put_on_relay(local_relay, rich)
    ds = datasets.create_dataset(alice, "Seeds", visibility="public")
    replication.add_relay(alice, local_relay)
    replication.publish(alice, ds)
    profile.set_name(alice, "Ana")
    first = sync(alice)
    assert [r["reason"] for r in first.refused] == [
        "the relay has a profile with more than a name for you (ana); Kobold leaves it as it is: change your "
        "name in the Nostr client that made it"
    ]
    assert [e.id for e in on_relay(local_relay, alice.identity.pubkey)] == [rich.id]
    assert sync(alice).refused == []  # said once, not on every pass

    # A name-only profile (an earlier `id name`) is replaced, and a name is checked before anything is signed.
    with pytest.raises(ValidationError):
        profile.set_name(alice, "   ")


def test_an_earlier_name_is_replaced(alice: Store, local_relay: str, monkeypatch: pytest.MonkeyPatch) -> None:
    replication.add_relay(alice, local_relay)
    old = profile.set_name(alice, "Ana")
    sync(alice)
    monkeypatch.setattr(profile.time, "time", lambda: old.created_at + 60)  # a minute later
    profile.set_name(alice, "Ana B.")
    assert sync(alice).refused == []
    assert [json.loads(e.content)["name"] for e in on_relay(local_relay, alice.identity.pubkey)] == ["Ana B."]
