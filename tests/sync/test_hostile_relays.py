"""Relays are not trusted: forged or foreign events change nothing, refusals are recorded, limits respected."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from engine import datasets, records, state_hash
from engine.nostr_event import NostrEvent, sign_event
from engine.store import Store
from sync import replication, state
from sync.report import SyncReport
from sync.session import sync_once
from tests.conftest import SEED_SCHEMA
from tests.sync.relays import HostileRelay


def sync(store: Store) -> SyncReport:
    return asyncio.run(sync_once(store))


def published(store: Store, relay: str, n: int = 3) -> str:
    ds = datasets.create_dataset(store, "Seeds", visibility="public")
    datasets.apply_schema(store, ds, [SEED_SCHEMA])
    for i in range(n):
        records.create_record(store, ds, "SeedVariety", {"species": f"S{i}", "variety_name": "V"})
    replication.add_relay(store, relay)
    replication.publish(store, ds)
    return ds


def raw_events(store: Store, ds: str) -> list[dict[str, Any]]:
    rows = store.con.execute("SELECT raw FROM events WHERE dataset_id = ? ORDER BY clock", [ds]).fetchall()
    return [json.loads(r[0]) for r in rows]


def test_forged_and_foreign_events_from_a_relay_change_nothing(
    alice: Store, bob: Store, carol: Store
) -> None:
    ds = published(alice, "ws://127.0.0.1:1")
    genuine = raw_events(alice, ds)
    forged = dict(
        genuine[-1], content=genuine[-1]["content"].replace("S2", "EVIL")
    )  # signature no longer fits
    # Carol signs a changeset claiming Alice's dataset on top of its genesis: valid signature, no role.
    intruder = sign_event(carol.identity.secret, alice.now(), 4872,
                          (("D", ds), ("v", "1"), ("clock", "1"), ("e", genuine[0]["id"], "", "parent")),
                          json.dumps({"v": 1, "ops": []}))  # fmt: skip
    other = published(carol, "ws://127.0.0.1:1")
    foreign = raw_events(carol, other)[1]  # an event of another dataset, served as if it were this one
    served = [genuine[0], forged, intruder.to_dict(), foreign]

    with HostileRelay(lambda filters: served) as relay:
        replication.add_relay(alice, relay.url)
        sync(alice)  # Alice publishes to it; it pretends to store everything
        replication.follow(bob, replication.share_address(alice, ds) or "", None, [relay.url])
        report = sync(bob)

    reasons = " | ".join(r for _, r in report.rejected)
    assert "signature" in reasons or "id does not match" in reasons
    assert "may not write records" in reasons
    assert f"belongs to dataset {other}" in reasons
    held_ids = {r[0] for r in bob.con.execute("SELECT id FROM events").fetchall()}
    assert held_ids <= {genuine[0]["id"]}  # at most the genuine genesis got in
    assert forged["id"] not in held_ids and intruder.id not in held_ids and foreign["id"] not in held_ids
    if held_ids:
        assert state_hash.state_hash(bob, ds) == _genesis_only_hash(alice, genuine[0])


def _genesis_only_hash(alice: Store, genesis: dict[str, Any]) -> str:
    with Store.open(alice.home.parent / "genesis-only") as fresh:
        from engine import ingest

        ingest.ingest(fresh, [json.dumps(genesis)])
        return state_hash.state_hash(fresh, genesis["tags"][0][1])


def test_limits_from_nip11_shrink_events_and_oversized_ones_are_refused_with_reason(
    alice: Store, local_relay: str
) -> None:
    ds = published(alice, local_relay)
    alice.config.max_event_bytes = 60_000
    records.apply_changes(alice, ds, [records.Change("create", "SeedVariety", None, {
        "species": "x" * 1000, "variety_name": f"V{i}"}) for i in range(40)])  # fmt: skip
    big = [e for e in raw_events(alice, ds) if len(json.dumps(e)) > 20_000]
    assert big, "the test needs one event larger than the small relay accepts"

    with HostileRelay(
        lambda filters: [], limitation={"max_message_length": 20_000, "max_limit": 100}
    ) as small:
        _, limits, note = replication.add_relay(alice, small.url)
        assert limits.max_message_length == 20_000 and limits.max_limit == 100
        assert note is not None and alice.config.max_event_bytes < 20_000
        report = sync(alice)
        sent_to_small = {e["id"] for e in small.received}

    refused = {r["event"]: r["reason"] for r in report.refused if r["relay"] == small.url}
    assert set(refused) == {e["id"] for e in big}
    assert all("accepts messages up to 20000" in reason for reason in refused.values())
    assert not sent_to_small & set(refused)
    # The other relay still got everything, the refusal stays on record, and is not retried every pass.
    assert state.outbox_size(alice, [local_relay]) == 0
    assert {r["event"] for r in state.refusals(alice)} == set(refused)
    assert sync(alice).refused == []
    # New events now fit the small relay.
    records.apply_changes(alice, ds, [records.Change("create", "SeedVariety", None, {
        "species": "y" * 1000, "variety_name": f"W{i}"}) for i in range(40)])  # fmt: skip
    assert all(
        len(json.dumps(e)) < 20_000 for e in raw_events(alice, ds) if e["id"] not in {b["id"] for b in big}
    )


def test_a_relay_event_with_a_bad_id_is_not_taken_for_a_genuine_one(alice: Store, bob: Store) -> None:
    ds = published(alice, "ws://127.0.0.1:1", n=1)
    genuine = raw_events(alice, ds)
    tampered = [dict(e, created_at=e["created_at"] + 1) for e in genuine]  # ids no longer match
    with HostileRelay(lambda filters: tampered) as relay:
        replication.follow(bob, replication.share_address(alice, ds) or "", None, [relay.url])
        report = sync(bob)
    assert bob.con.execute("SELECT count(*) FROM events").fetchone() == (0,)
    assert report.received == 0
    assert NostrEvent.from_dict(tampered[0]).check_id() is False


def test_a_forged_profile_does_not_rename_an_author(alice: Store, bob: Store, carol: Store) -> None:
    from engine import names

    ds = published(alice, "ws://127.0.0.1:1", n=1)
    genuine = raw_events(alice, ds)
    claim = sign_event(carol.identity.secret, alice.now(), 0, (), json.dumps({"name": "Mallory"}))
    forged = dict(claim.to_dict(), pubkey=alice.identity.pubkey)  # alice's key, carol's signature

    def respond(filters: list[Any]) -> list[dict[str, Any]]:
        return [forged] if filters and filters[0].get("kinds") == [0] else genuine

    with HostileRelay(respond) as relay:
        replication.follow(bob, replication.share_address(alice, ds) or "", None, [relay.url])
        sync(bob)
    assert state_hash.state_hash(bob, ds) == state_hash.state_hash(alice, ds)
    assert names.display_name(bob, alice.identity.pubkey) != "Mallory"
