"""What reaches a relay: never a private dataset, a tribe dataset only sealed; members read it, others cannot."""

from __future__ import annotations

import asyncio

import pytest

from engine import datasets, records, state_hash
from engine.store import Store
from sync import replication, state, tribe
from sync.report import SyncReport
from sync.session import sync_once
from tests.conftest import SEED_SCHEMA
from tests.sync.relays import NostrRelayServer

SECRET_WORD = "Glasshouse-Moonflower"


def sync(store: Store) -> SyncReport:
    return asyncio.run(sync_once(store))


def catalog(store: Store, visibility: str) -> str:
    ds = datasets.create_dataset(store, f"Seeds {visibility}", visibility=visibility)
    datasets.apply_schema(store, ds, [SEED_SCHEMA])
    records.create_record(store, ds, "SeedVariety", {"species": SECRET_WORD, "variety_name": "V1"})
    return ds


def on_relay(server: NostrRelayServer, ds: str) -> list[dict[str, object]]:
    return [e for e in server.events() if ["D", ds] in e["tags"]]


def test_a_private_dataset_never_reaches_a_relay(alice: Store, nostr_relay: NostrRelayServer) -> None:
    private = catalog(alice, "private")
    public = catalog(alice, "public")
    replication.add_relay(alice, nostr_relay.url)
    with pytest.raises(state.SyncError, match="private dataset never leaves this store"):
        replication.publish(alice, private)
    # Even marked for replication behind the command's back, it is not sent.
    state.ensure_tables(alice)
    alice.con.execute("INSERT INTO sync_published VALUES (?, 0)", [private])
    replication.publish(alice, public)
    report = sync(alice)
    assert report.relays_ok == [nostr_relay.url]
    assert on_relay(nostr_relay, public) and not on_relay(nostr_relay, private)
    # Made private later: nothing more goes out.
    datasets.update_manifest(alice, public, visibility="private")
    records.create_record(alice, public, "SeedVariety", {"species": "After", "variety_name": "V2"})
    before = len(nostr_relay.events())
    sync(alice)
    assert len(nostr_relay.events()) == before


def test_a_tribe_dataset_travels_sealed_and_only_members_read_it(
    alice: Store, bob: Store, carol: Store, nostr_relay: NostrRelayServer
) -> None:
    ds = catalog(alice, "tribe")
    replication.add_relay(alice, nostr_relay.url)
    replication.publish(alice, ds)
    tribe.add_member(alice, ds, bob.identity.pubkey)
    assert sync(alice).relays_ok == [nostr_relay.url]

    stored = on_relay(nostr_relay, ds)
    assert stored and {e["kind"] for e in stored} == {tribe.KIND_SEALED, tribe.KIND_KEY_GRANT}
    assert not any(SECRET_WORD in str(e["content"]) or "Seeds tribe" in str(e["content"]) for e in stored)

    address = replication.share_address(alice, ds)
    assert address is not None
    for store in (bob, carol):
        replication.follow(store, address, None, [])
    got = sync(bob)
    assert not got.rejected and got.unreadable == 0
    assert state_hash.state_hash(bob, ds) == state_hash.state_hash(alice, ds)

    outsider = sync(carol)
    assert outsider.unreadable > 0 and outsider.received == 0
    assert carol.con.execute("SELECT count(*) FROM events").fetchone() == (0,)
    assert any("member add" in note for note in outsider.notes)


def test_a_removed_member_cannot_read_what_is_written_after(
    alice: Store, bob: Store, carol: Store, local_relay: str
) -> None:
    ds = catalog(alice, "tribe")
    replication.add_relay(alice, local_relay)
    replication.publish(alice, ds)
    for member in (bob, carol):
        tribe.add_member(alice, ds, member.identity.pubkey)
    sync(alice)
    address = replication.share_address(alice, ds)
    assert address is not None
    for member in (bob, carol):
        replication.follow(member, address, None, [])
        sync(member)
        assert state_hash.state_hash(member, ds) == state_hash.state_hash(alice, ds)

    assert tribe.remove_member(alice, ds, carol.identity.pubkey) == 1
    records.create_record(alice, ds, "SeedVariety", {"species": "After removal", "variety_name": "V9"})
    sync(alice)

    assert sync(bob).received == 1
    assert state_hash.state_hash(bob, ds) == state_hash.state_hash(alice, ds)
    removed = sync(carol)
    assert removed.received == 0 and removed.unreadable >= 1
    assert state_hash.state_hash(carol, ds) != state_hash.state_hash(alice, ds)
    assert [m["pubkey"] for m in tribe.members(alice, ds) if m["removed_at"] is None] == [bob.identity.pubkey]
