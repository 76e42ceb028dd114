"""Replicas that hold the same events have the same state hash, whatever the order they arrived in."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import datasets, ingest, maintenance, records, roles, state_hash
from engine.errors import NotFound
from engine.records import Change
from engine.store import Store

SCHEMA = [{"resource": "Item", "fields": {"name": "string", "qty": "integer", "note": "text"}}]
IDS = [f"{i:032x}" for i in range(1, 6)]

action = st.tuples(
    st.integers(0, 2),  # author
    st.sampled_from(["create", "update", "clear", "delete", "restore", "sync"]),
    st.integers(0, len(IDS) - 1),  # record
    st.integers(0, 2),  # other author / value seed
)


def _open(tmp: Path, name: str) -> Store:
    return Store.open(tmp / name, memory=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(action, min_size=1, max_size=25), seed=st.integers(0, 10_000))
def test_replicas_converge_whatever_the_delivery_order(tmp_path: Path, actions: list, seed: int) -> None:
    authors = [_open(tmp_path, f"a{i}") for i in range(3)]
    try:
        ds = datasets.create_dataset(authors[0], "Shared")
        datasets.apply_schema(authors[0], ds, SCHEMA)
        roles.grant(authors[0], ds, [a.identity.pubkey for a in authors[1:]], "maintainer")
        for other in authors[1:]:
            ingest.ingest(other, ingest.all_events(authors[0], ds))
        for who, kind, rec, arg in actions:
            store, rid = authors[who], IDS[rec]
            try:
                if kind == "create":
                    records.apply_changes(
                        store, ds, [Change("create", "Item", rid, {"name": f"n{who}{arg}", "qty": arg})]
                    )
                elif kind == "update":
                    field = "qty" if arg % 2 else "name"
                    records.update_record(
                        store, ds, "Item", rid, {field: arg if field == "qty" else f"u{who}{arg}"}
                    )
                elif kind == "clear":
                    records.update_record(store, ds, "Item", rid, {"note": None} if arg else {"name": None})
                elif kind == "delete":
                    records.delete_records(store, ds, "Item", [rid])
                elif kind == "restore":
                    records.apply_changes(store, ds, [Change("restore", "Item", rid)])
                else:
                    ingest.ingest(store, ingest.all_events(authors[arg], ds))
            except (NotFound, Exception) as exc:
                assert "Traceback" not in str(exc)
        union: dict[str, str] = {}
        for a in authors:
            for raw in ingest.all_events(a, ds):
                union[raw[7:71]] = raw
        events = list(union.values())
        hashes = set()
        rng = random.Random(seed)
        for i in range(3):
            replica = _open(tmp_path, f"r{i}")
            try:
                shuffled = events[:]
                rng.shuffle(shuffled)
                # deliver in random chunks, each possibly missing parents until a later chunk
                while shuffled:
                    n = rng.randint(1, max(1, len(shuffled)))
                    report = ingest.ingest(replica, shuffled[:n])
                    assert not report.rejected, report.rejected
                    shuffled = shuffled[n:]
                assert replica.con.execute("SELECT count(*) FROM pending").fetchone() == (0,)
                h = state_hash.state_hash(replica, ds)
                assert maintenance.rebuild(replica, ds) == h
                hashes.add(h)
            finally:
                replica.close()
        for a in authors:
            ingest.ingest(a, events)
            hashes.add(state_hash.state_hash(a, ds))
            assert maintenance.rebuild(a, ds) in hashes
        assert len(hashes) == 1
    finally:
        for a in authors:
            a.close()


def test_concurrent_edits_to_different_fields_of_one_record_both_survive(tmp_path: Path) -> None:
    a, b = _open(tmp_path, "a"), _open(tmp_path, "b")
    ds = datasets.create_dataset(a, "Shared")
    datasets.apply_schema(a, ds, SCHEMA)
    roles.grant(a, ds, [b.identity.pubkey], "maintainer")
    rid = records.create_record(a, ds, "Item", {"name": "seed", "qty": 1})
    ingest.ingest(b, ingest.all_events(a, ds))
    records.update_record(a, ds, "Item", rid, {"name": "seed packet"})
    records.update_record(b, ds, "Item", rid, {"qty": 7})
    ingest.ingest(a, ingest.all_events(b, ds))
    ingest.ingest(b, ingest.all_events(a, ds))
    for s in (a, b):
        rec = records.get_record(s, ds, "Item", rid)
        assert (rec["name"], rec["qty"]) == ("seed packet", 7)
    assert state_hash.state_hash(a, ds) == state_hash.state_hash(b, ds)
    heads = a.con.execute("SELECT count(*) FROM heads WHERE dataset_id = ?", [ds]).fetchone()
    assert heads == (2,)
    records.update_record(a, ds, "Item", rid, {"note": "merged"})
    assert a.con.execute("SELECT count(*) FROM heads WHERE dataset_id = ?", [ds]).fetchone() == (1,)
