"""A new follower starts from the owner's newest snapshot, then takes only the events after it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine import csv_import, datasets, records, snapshot, state_hash
from engine.store import Store
from sync import replication
from sync.report import SyncReport
from sync.session import sync_once
from tests.conftest import SEED_SCHEMA
from tests.test_bundle import seed_csv


def sync(store: Store) -> SyncReport:
    return asyncio.run(sync_once(store))


def test_a_new_follower_bootstraps_from_the_newest_snapshot(
    alice: Store, bob: Store, local_relay: str, tmp_path: Path
) -> None:
    real_now = alice.now
    alice.now = lambda: real_now() - 3 * 3600  # the history was written hours before the snapshot
    ds = datasets.create_dataset(alice, "Seeds", visibility="public")
    datasets.apply_schema(alice, ds, [SEED_SCHEMA])
    csv_import.import_csv(alice, ds, "SeedVariety", seed_csv(tmp_path / "s.csv", 3000))
    replication.add_relay(alice, local_relay)
    replication.publish(alice, ds, with_snapshot=True)
    alice.now = real_now
    records.create_record(alice, ds, "SeedVariety", {"species": "Newer", "variety_name": "V"})
    replication.publish(alice, ds, with_snapshot=True)  # the newest snapshot replaces the older one here
    after = records.create_record(alice, ds, "SeedVariety", {"species": "After", "variety_name": "V"})
    assert sync(alice).relays_ok == [local_relay]

    replication.follow(bob, replication.share_address(alice, ds) or "", None, [])
    report = sync(bob)
    assert report.bootstrapped == [ds] and not report.rejected
    assert snapshot.history_status(bob, ds) == "partial"
    assert state_hash.state_hash(bob, ds) == state_hash.state_hash(alice, ds)
    assert records.get_record(bob, ds, "SeedVariety", after)["species"] == "After"
    held = bob.con.execute("SELECT count(*) FROM events WHERE dataset_id = ?", [ds]).fetchone()
    total = alice.con.execute("SELECT count(*) FROM events WHERE dataset_id = ?", [ds]).fetchone()
    assert (
        held is not None and total is not None and held[0] < total[0]
    )  # the old history stayed on the relay

    records.update_record(alice, ds, "SeedVariety", after, {"notes": "later"})
    sync(alice)
    assert sync(bob).received == 1
    assert state_hash.state_hash(bob, ds) == state_hash.state_hash(alice, ds)

    # The history before the snapshot, when asked for: complete, and the same state.
    asyncio.run(sync_once(bob, full_history=True))
    assert snapshot.history_status(bob, ds) == "complete"
    assert state_hash.state_hash(bob, ds) == state_hash.state_hash(alice, ds)
    count = "SELECT count(*) FROM events WHERE dataset_id = ?"
    assert bob.con.execute(count, [ds]).fetchone() == alice.con.execute(count, [ds]).fetchone()


def test_a_snapshot_with_more_chunks_than_an_ingest_batch_arrives_whole(
    alice: Store, bob: Store, local_relay: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found with a million records: the follower cut the snapshot's 8,458 chunks into ingest batches of 5,000,
    so the header's batch held too few and every other chunk was rejected."""
    from sync import relay_pass

    ds = datasets.create_dataset(alice, "Seeds", visibility="public")
    datasets.apply_schema(alice, ds, [SEED_SCHEMA])
    csv_import.import_csv(alice, ds, "SeedVariety", seed_csv(tmp_path / "s.csv", 2000))
    replication.add_relay(alice, local_relay)
    replication.publish(alice, ds, with_snapshot=True)
    assert sync(alice).relays_ok == [local_relay]
    chunks = alice.con.execute("SELECT count(*) FROM sync_outgoing WHERE part > 0").fetchone()
    monkeypatch.setattr(relay_pass, "INGEST_BATCH", 4)  # well below the snapshot's chunk count
    replication.follow(bob, replication.share_address(alice, ds) or "", None, [])
    report = sync(bob)
    assert chunks is not None and chunks[0] > 4
    assert report.bootstrapped == [ds] and not report.rejected
    assert state_hash.state_hash(bob, ds) == state_hash.state_hash(alice, ds)


def test_a_follower_bootstrapped_from_a_snapshot_knows_who_may_write(
    alice: Store, bob: Store, carol: Store, local_relay: str
) -> None:
    from engine import roles

    real_now = alice.now
    alice.now = lambda: real_now() - 3 * 3600
    ds = datasets.create_dataset(alice, "Seeds", visibility="public")
    datasets.apply_schema(alice, ds, [SEED_SCHEMA])
    roles.grant(alice, ds, [bob.identity.pubkey], "contributor")
    records.create_record(alice, ds, "SeedVariety", {"species": "Old", "variety_name": "V"})
    alice.now = real_now
    replication.add_relay(alice, local_relay)
    replication.publish(alice, ds, with_snapshot=True)
    sync(alice)
    address = replication.share_address(alice, ds) or ""

    replication.follow(bob, address, None, [])
    sync(bob)
    rid = records.create_record(bob, ds, "SeedVariety", {"species": "By Bob", "variety_name": "V"})
    sync(bob)

    replication.follow(carol, address, None, [])
    report = sync(carol)
    assert report.bootstrapped == [ds] and snapshot.history_status(carol, ds) == "partial"
    assert records.get_record(carol, ds, "SeedVariety", rid)["species"] == "By Bob"
    assert roles.role_of(roles.current_state(carol, ds), bob.identity.pubkey) is not None
    sync(alice)
    assert state_hash.state_hash(carol, ds) == state_hash.state_hash(alice, ds)
