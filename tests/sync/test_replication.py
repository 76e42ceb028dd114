"""Two stores replicate a dataset through real relays on 127.0.0.1 and end with the same state hash."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from engine import datasets, projection, records, roles, state_hash
from engine.store import Store
from sync import replication, state
from sync.report import SyncReport
from sync.session import sync_once
from tests.conftest import SEED_SCHEMA
from tests.sync.relays import NostrRelayServer


def sync(store: Store, relays: list[str] | None = None) -> SyncReport:
    return asyncio.run(sync_once(store, relays))


def shared_catalog(owner: Store, relay_url: str, n: int = 12, visibility: str = "public") -> str:
    ds = datasets.create_dataset(owner, "Seeds", visibility=visibility)
    datasets.apply_schema(owner, ds, [SEED_SCHEMA])
    for i in range(n):
        records.create_record(owner, ds, "SeedVariety", {"species": f"Solanum {i}", "variety_name": f"V{i}"})
    replication.add_relay(owner, relay_url)
    replication.publish(owner, ds)
    return ds


def follow(store: Store, publisher: Store, ds: str) -> None:
    address = replication.share_address(publisher, ds)
    assert address is not None and address.startswith("naddr1")
    replication.follow(store, address, None, [])


def first_record(store: Store, ds: str) -> str:
    table = projection.table_name(ds, datasets.resource(store, ds, "SeedVariety").key)
    row = store.con.execute(f"SELECT _id FROM {projection.q(table)} ORDER BY _id LIMIT 1").fetchone()
    assert row is not None
    return str(row[0])


def converge_scenario(alice: Store, bob: Store, url: str) -> None:
    ds = shared_catalog(alice, url)
    first = sync(alice)
    assert first.relays_ok == [url], first.relays_failed
    assert first.sent == state_count(alice, ds)
    follow(bob, alice, ds)
    got = sync(bob)
    assert got.received == state_count(alice, ds) and not got.rejected
    assert state_hash.state_hash(bob, ds) == state_hash.state_hash(alice, ds)

    rid = first_record(alice, ds)
    records.update_record(alice, ds, "SeedVariety", rid, {"notes": "from alice"})
    sync(alice)
    assert sync(bob).received == 1
    assert state_hash.state_hash(bob, ds) == state_hash.state_hash(alice, ds)

    # Bob becomes a contributor; then concurrent edits of different fields of the same record, and everyone syncs.
    roles.grant(alice, ds, [bob.identity.pubkey], "contributor")
    sync(alice), sync(bob)
    records.update_record(alice, ds, "SeedVariety", rid, {"germination_days": 9})
    records.update_record(bob, ds, "SeedVariety", rid, {"notes": "from bob"})
    sync(alice), sync(bob), sync(alice)
    assert state_hash.state_hash(bob, ds) == state_hash.state_hash(alice, ds)
    row = records.get_record(alice, ds, "SeedVariety", rid)
    assert (row["germination_days"], row["notes"]) == (9, "from bob")
    assert sync(alice).sent == 0 and sync(bob).sent == 0  # nothing left in either outbox


def state_count(store: Store, ds: str) -> int:
    row = store.con.execute("SELECT count(*) FROM events WHERE dataset_id = ?", [ds]).fetchone()
    return int(row[0]) if row else 0


def test_replicas_converge_through_local_relay(alice: Store, bob: Store, local_relay: str) -> None:
    converge_scenario(alice, bob, local_relay)


def test_replicas_converge_through_nostr_relay_server(
    alice: Store, bob: Store, nostr_relay: NostrRelayServer
) -> None:
    converge_scenario(alice, bob, nostr_relay.url)
    stored = nostr_relay.events()
    assert len(stored) == len({e["id"] for e in stored})


def test_several_relays_publish_to_all_and_fetch_from_any(
    alice: Store, bob: Store, local_relay: str, nostr_relay: NostrRelayServer
) -> None:
    ds = shared_catalog(alice, local_relay)
    replication.add_relay(alice, nostr_relay.url)
    report = sync(alice)
    assert sorted(report.relays_ok) == sorted([local_relay, nostr_relay.url])
    assert {e["id"] for e in nostr_relay.events()} == {
        r[0] for r in alice.con.execute("SELECT id FROM events WHERE dataset_id = ?", [ds]).fetchall()
    }
    follow(bob, alice, ds)  # the address hints name both relays; bob configures none
    got = sync(bob)
    assert got.received == state_count(alice, ds)
    assert state_count(bob, ds) == state_count(alice, ds)  # both relays served every event; each applied once
    assert state_hash.state_hash(bob, ds) == state_hash.state_hash(alice, ds)


def test_edits_made_offline_wait_in_a_durable_outbox(tmp_path: Path, local_relay: str) -> None:
    from tests.sync.relays import free_port

    dead = f"ws://127.0.0.1:{free_port()}"
    with Store.open(tmp_path / "a") as a:
        ds = shared_catalog(a, dead, n=3)
        report = sync(a)
        assert dead in report.relays_failed and report.sent == 0
        assert state.outbox_size(a, [dead]) == state_count(a, ds)
    with Store.open(tmp_path / "a") as a:  # a restart keeps the outbox
        assert state.outbox_size(a, [dead]) == state_count(a, ds)
        replication.remove_relay(a, dead)
        replication.add_relay(a, local_relay)
        assert state.outbox_size(a, [local_relay]) == state_count(a, ds)
        assert sync(a).sent == state_count(a, ds)
        assert state.outbox_size(a, [local_relay]) == 0


def test_a_relay_killed_mid_sync_costs_nothing(tmp_path: Path, alice: Store, bob: Store) -> None:
    (tmp_path / "relay-data").mkdir()
    server = NostrRelayServer(tmp_path / "relay-data")
    server.start()
    try:
        ds = datasets.create_dataset(alice, "Seeds", visibility="public")
        datasets.apply_schema(alice, ds, [SEED_SCHEMA])
        alice.config.max_event_bytes = 2048  # many small events, so the kill lands mid-push
        for i in range(
            80
        ):  # ~1,600 events: the push lasts seconds, so the kill lands in it even on a loaded machine
            records.apply_changes(alice, ds, [records.Change("create", "SeedVariety", None, {
                "species": f"S{i}-{j}", "variety_name": f"V{j}"}) for j in range(20)])  # fmt: skip
        replication.add_relay(alice, server.url)
        replication.publish(alice, ds)
        total = state_count(alice, ds)

        reports: list[SyncReport] = []
        pushing = threading.Thread(target=lambda: reports.append(sync(alice)))
        pushing.start()
        deadline = time.monotonic() + 60
        while server.count() < total // 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        server.kill()  # SIGKILL, a quarter of the way through the push
        pushing.join()
        first = reports[0]
        assert server.url in first.relays_failed and first.sent < total
        server.start()
        second = sync(alice)
        assert second.relays_ok == [server.url]
        assert first.sent + second.sent >= total - 1  # an OK lost in the kill is resent; the relay dedups
        assert state.outbox_size(alice, [server.url]) == 0
        stored = [e["id"] for e in server.events()]
        assert len(stored) == len(set(stored)) == total

        follow(bob, alice, ds)
        assert sync(bob).received == total
        assert state_hash.state_hash(bob, ds) == state_hash.state_hash(alice, ds)
    finally:
        server.stop()


def test_authors_are_shown_by_their_nostr_profile_name(alice: Store, bob: Store, local_relay: str) -> None:
    import json

    from engine import names
    from engine.nostr_event import sign_event
    from sync.relay_socket import RelaySocket

    ds = shared_catalog(alice, local_relay, n=1)
    sync(alice)
    profile = sign_event(
        alice.identity.secret,
        alice.now(),
        0,
        (),
        json.dumps({"name": "alice", "display_name": "Alice Gardener"}),
    )
    impostor = sign_event(bob.identity.secret, alice.now() + 5, 0, (), json.dumps({"name": "Not Alice"}))
    forged = dict(impostor.to_dict(), pubkey=alice.identity.pubkey)  # claims alice's key; signature is bob's

    async def put() -> None:
        socket = RelaySocket(local_relay)
        await socket.open(3)
        assert (await socket.publish(profile.id, profile.to_json(), 5))[0]
        await socket.publish(
            forged["id"], json.dumps(forged), 5
        )  # a real relay refuses it; we would ignore it
        await socket.close()

    asyncio.run(put())
    follow(bob, alice, ds)
    sync(bob)
    assert names.display_name(bob, alice.identity.pubkey) == "Alice Gardener"
