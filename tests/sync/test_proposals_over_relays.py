"""Merge proposals travel over relays; a maintainer decides offline and the decision reaches the proposer later."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine import datasets, forks, history, merge, proposals, records, state_hash
from engine.store import Store
from sync import replication
from sync.report import SyncReport
from sync.session import sync_once
from tests.conftest import SEED_SCHEMA
from tests.sync.relays import NostrRelayServer


def sync(store: Store) -> SyncReport:
    return asyncio.run(sync_once(store))


def test_a_proposal_reaches_the_maintainer_and_an_offline_decision_reaches_the_proposer(
    tmp_path: Path, alice: Store, bob: Store, carol: Store
) -> None:
    (tmp_path / "relay").mkdir()
    relay = NostrRelayServer(tmp_path / "relay")
    relay.start()
    try:
        ds = datasets.create_dataset(alice, "Seeds", visibility="public")
        datasets.apply_schema(alice, ds, [SEED_SCHEMA])
        rid = records.create_record(alice, ds, "SeedVariety", {"species": "Solanum", "variety_name": "Old"})
        replication.add_relay(alice, relay.url)
        replication.publish(alice, ds)
        sync(alice)
        address = replication.share_address(alice, ds) or ""
        for store in (bob, carol):
            replication.follow(store, address, None, [])
            sync(store)

        fork = forks.fork_dataset(bob, ds, "Bob's seeds")
        records.update_record(bob, fork, "SeedVariety", rid, {"variety_name": "Better"})
        proposal = proposals.create(bob, fork, "A better name")
        assert sync(bob).relays_ok == [relay.url]

        got = sync(alice)  # the proposal, then (second round) the fork's events it names
        assert not got.rejected
        assert [p["status"] for p in proposals.listing(alice, ds)] == ["open"]
        assert proposals.datasets_to_fetch(alice) == []

        relay.stop()  # offline from here: review and decide anyway
        merge.accept(alice, proposal.id, merge.Choices(), "thanks")
        assert records.get_record(alice, ds, "SeedVariety", rid)["variety_name"] == "Better"
        assert sync(alice).relays_failed  # nothing reachable; the decision waits in the outbox
        relay.start()
        assert sync(alice).relays_ok == [relay.url]

        sync(bob)
        assert [p["status"] for p in proposals.listing(bob, ds)] == ["accepted"]
        assert state_hash.state_hash(bob, ds) == state_hash.state_hash(alice, ds)
        sync(carol)  # a bystander converges too, and the accepted change keeps bob's signature
        assert state_hash.state_hash(carol, ds) == state_hash.state_hash(alice, ds)
        blame = history.blame(carol, ds, "SeedVariety", rid)["variety_name"]
        assert (blame["author"], blame["verified"]) == (bob.identity.pubkey, True)
    finally:
        relay.stop()
