"""Forks and merges across two real stores: fork, edit both sides, propose by bundle, review, accept in part."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import datasets, forks, history, maintenance, merge, proposals, records, state_hash
from engine.errors import KoboldError
from engine.store import Store
from sync import bundle
from tests.conftest import SEED_SCHEMA


def seed(store: Store, ds: str, n: int) -> list[str]:
    return [
        records.create_record(
            store,
            ds,
            "SeedVariety",
            {"species": f"Solanum {i}", "variety_name": f"V{i}", "germination_days": i},
        )
        for i in range(n)
    ]


def make_two_stores(tmp_path: Path) -> Iterator[tuple[Store, Store, str, list[str]]]:
    """The maintainer's store with a dataset, and a contributor's store holding a copy of it."""
    up = Store.open(tmp_path / "maintainer")
    ds = datasets.create_dataset(up, "Seeds", visibility="public")
    datasets.apply_schema(up, ds, [SEED_SCHEMA])
    ids = seed(up, ds, 4)
    bundle.export_bundle(up, ds, tmp_path / "seeds.kobold")
    contrib = Store.open(tmp_path / "contributor")
    bundle.import_bundle(contrib, tmp_path / "seeds.kobold")
    yield up, contrib, ds, ids
    up.close()
    contrib.close()


@pytest.fixture
def two_stores(tmp_path: Path) -> Iterator[tuple[Store, Store, str, list[str]]]:
    yield from make_two_stores(tmp_path)


def send_proposal(contrib: Store, up: Store, proposal: proposals.Proposal, path: Path) -> bundle.BundleReport:
    proposals.export_bundle(contrib, proposal.id, path)
    return bundle.import_bundle(up, path)


def test_a_fork_starts_from_its_origins_state_and_survives_a_rebuild(two_stores: Any) -> None:
    _, contrib, ds, _ = two_stores
    fork = forks.fork_dataset(contrib, ds, "My seeds")
    assert state_hash.state_hash(contrib, fork) == state_hash.state_hash(contrib, ds)
    info = datasets.info(contrib, fork)
    assert info.origin is not None and info.origin["dataset"] == ds
    assert maintenance.verify(contrib, fork).ok
    before = state_hash.state_hash(contrib, fork)
    assert maintenance.rebuild(contrib, fork) == before
    assert maintenance.rebuild(contrib, fork, full=True) == before


def test_fork_edit_both_sides_propose_and_accept_in_part(two_stores: Any, tmp_path: Path) -> None:
    up, contrib, ds, ids = two_stores
    fork = forks.fork_dataset(contrib, ds)
    # the fork: change two records (one field also changed upstream), delete one, add one
    records.update_record(contrib, fork, "SeedVariety", ids[0], {"variety_name": "Fork name"})
    records.update_record(
        contrib, fork, "SeedVariety", ids[1], {"germination_days": 11, "notes": "from fork"}
    )
    records.delete_records(contrib, fork, "SeedVariety", [ids[2]])
    new_id = records.create_record(
        contrib, fork, "SeedVariety", {"species": "Capsicum", "variety_name": "New"}
    )
    # upstream meanwhile: the same field of ids[0] differently, another field of ids[1]
    records.update_record(up, ds, "SeedVariety", ids[0], {"variety_name": "Upstream name"})
    records.update_record(up, ds, "SeedVariety", ids[1], {"species": "Solanum upstream"})

    p = proposals.create(contrib, fork, "Fixes", "please take these")
    report = send_proposal(contrib, up, p, tmp_path / "proposal.kobold")
    assert report.report.rejected == []
    assert [x["status"] for x in proposals.listing(up, ds)] == ["open"]

    review = merge.review_proposal(up, p.id)
    kinds = {r.record_id: r.kind for r in review.records}
    assert kinds == {ids[0]: "conflict", ids[1]: "changed", ids[2]: "deleted", new_id: "added"}
    conflict = next(r for r in review.records if r.record_id == ids[0])
    (vf,) = conflict.fields
    assert (vf.base, vf.upstream, vf.fork) == ("V0", "Upstream name", "Fork name")
    assert review.authors[vf.incoming_event or ""] == contrib.identity.pubkey

    # accepting with the conflict unresolved is refused, and nothing is written
    events_before = up.con.execute("SELECT count(*) FROM events").fetchone()
    with pytest.raises(KoboldError, match="unresolved"):
        merge.accept(up, p.id, merge.Choices())
    assert up.con.execute("SELECT count(*) FROM events").fetchone() == events_before

    # partial: take the fork's name for ids[0], ids[1] but not its notes, and the new record; not the delete
    choices = merge.Choices(
        rejected={ids[2], f"{ids[1]}.notes"}, resolutions={f"{ids[0]}.variety_name": merge.Resolution("fork")}
    )
    result = merge.accept(up, p.id, choices, "thanks")
    assert result["status"] == "partial"

    expected = {
        ids[0]: {"variety_name": "Fork name"},
        ids[1]: {"germination_days": 11, "species": "Solanum upstream"},
        ids[2]: {},
        ids[3]: {},
    }
    got = {r["_id"]: r for r in _rows(up, ds)}
    assert set(got) == {*ids, new_id}
    for rid, changes in expected.items():
        for name, value in changes.items():
            assert got[rid][name] == value
    assert got[ids[1]]["notes"] is None and got[new_id]["variety_name"] == "New"
    # the state hash equals the merged state built independently: the same values written as plain edits
    assert state_hash.state_hash(up, ds) == _independent_hash(tmp_path, up, ds)

    # provenance: the fork author wrote the value, the maintainer accepted it in this merge
    blame = history.blame(up, ds, "SeedVariety", ids[0])["variety_name"]
    assert blame["author"] == contrib.identity.pubkey and blame["accepted_by"] == up.identity.pubkey
    assert blame["merge"] == result["decision"] and blame["verified"] is True
    entry = history.history(up, ds, "SeedVariety", ids[0])[-1]
    assert (
        entry.accepted is not None
        and entry.accepted["sources"]["variety_name"]["author"] == contrib.identity.pubkey
    )
    assert maintenance.verify(up, ds).ok
    assert maintenance.rebuild(up, ds, full=True) == state_hash.state_hash(up, ds)

    # the proposer sees the decision once the upstream's events reach the fork's store
    bundle.export_bundle(up, ds, tmp_path / "upstream.kobold")
    bundle.import_bundle(contrib, tmp_path / "upstream.kobold")
    (mine,) = proposals.listing(contrib, fork)
    assert mine["status"] == "partial" and mine["message"] == "thanks"
    assert state_hash.state_hash(contrib, ds) == state_hash.state_hash(up, ds)


def _rows(store: Store, ds: str) -> list[dict[str, Any]]:
    from engine import query

    return query.page(store, ds, query.Query("SeedVariety"), 0, 100).as_dicts()


def _independent_hash(tmp_path: Path, up: Store, ds: str) -> str:
    """Build the expected merged state another way: a fresh dataset given the same schema and final values."""
    with Store.open(tmp_path / "expected") as other:
        ds2 = datasets.create_dataset(other, "Expected")
        for d in up.definitions(ds):
            from engine import writes
            from engine.protocol import KIND_SCHEMA

            writes.append(other, ds2, KIND_SCHEMA, {"definition": d, "changes": []})
        for row in _rows(up, ds):
            values = {k: v for k, v in row.items() if not k.startswith("_") and v is not None}
            records.apply_changes(other, ds2, [records.Change("create", "SeedVariety", row["_id"], values)])
        return state_hash.compute(other, ds2)


def test_reject_with_a_message_reaches_the_fork(two_stores: Any, tmp_path: Path) -> None:
    up, contrib, ds, ids = two_stores
    fork = forks.fork_dataset(contrib, ds)
    records.update_record(contrib, fork, "SeedVariety", ids[0], {"variety_name": "Nope"})
    p = proposals.create(contrib, fork)
    send_proposal(contrib, up, p, tmp_path / "p.kobold")
    before = state_hash.state_hash(up, ds)
    merge.reject(up, p.id, "not now")
    assert state_hash.state_hash(up, ds) == before
    with pytest.raises(KoboldError, match="already decided"):
        merge.accept(up, p.id, merge.Choices())
    bundle.export_bundle(up, ds, tmp_path / "u.kobold")
    bundle.import_bundle(contrib, tmp_path / "u.kobold")
    (mine,) = proposals.listing(contrib, fork)
    assert (mine["status"], mine["message"]) == ("rejected", "not now")


def test_pull_upstream_brings_newer_events_and_reports_conflicts(two_stores: Any, tmp_path: Path) -> None:
    up, contrib, ds, ids = two_stores
    fork = forks.fork_dataset(contrib, ds)
    records.update_record(contrib, fork, "SeedVariety", ids[0], {"variety_name": "Mine"})
    records.update_record(up, ds, "SeedVariety", ids[0], {"variety_name": "Theirs"})
    records.update_record(up, ds, "SeedVariety", ids[1], {"germination_days": 99})
    bundle.export_bundle(up, ds, tmp_path / "u.kobold")
    bundle.import_bundle(contrib, tmp_path / "u.kobold")
    review = merge.review_pull(contrib, fork)
    assert {r.record_id: r.kind for r in review.records} == {ids[0]: "conflict", ids[1]: "changed"}
    with pytest.raises(KoboldError, match="unresolved"):
        merge.pull(contrib, fork, merge.Choices())
    merge.pull(contrib, fork, merge.Choices(prefer="fork"))
    got = {r["_id"]: r for r in _rows(contrib, fork)}
    assert got[ids[0]]["variety_name"] == "Mine" and got[ids[1]]["germination_days"] == 99
    assert merge.pull(contrib, fork, merge.Choices())["status"] == "up to date"
    assert forks.current_base(contrib, fork) == sorted(r[0] for r in contrib.con.execute(
        "SELECT event_id FROM heads WHERE dataset_id = ?", [ds]).fetchall())  # fmt: skip


def test_accepting_is_refused_when_the_merge_would_break_unique_or_reference_rules(tmp_path: Path) -> None:
    schema = [
        {"resource": "Supplier", "fields": {"name": {"type": "string", "required": True}}},
        {"resource": "Variety", "fields": {"code": {"type": "string", "unique": True},
                                           "supplier": {"type": "reference", "target": "Supplier"}}},
    ]  # fmt: skip
    with Store.open(tmp_path / "up") as up, Store.open(tmp_path / "contrib") as contrib:
        ds = datasets.create_dataset(up, "Shop", visibility="public")
        datasets.apply_schema(up, ds, schema)
        gone = records.create_record(up, ds, "Supplier", {"name": "Closing soon"})
        bundle.export_bundle(up, ds, tmp_path / "shop.kobold")
        bundle.import_bundle(contrib, tmp_path / "shop.kobold")
        fork = forks.fork_dataset(contrib, ds)
        records.create_record(contrib, fork, "Variety", {"code": "A1", "supplier": gone})
        records.create_record(contrib, fork, "Variety", {"code": "B2"})
        p = proposals.create(contrib, fork)
        send_proposal(contrib, up, p, tmp_path / "p.kobold")

        records.create_record(up, ds, "Variety", {"code": "B2"})  # meanwhile, upstream: the same code
        records.delete_records(up, ds, "Supplier", [gone])  # and the supplier the fork points at is gone
        before = state_hash.state_hash(up, ds)
        with pytest.raises(KoboldError, match="not valid") as refused:
            merge.accept(up, p.id, merge.Choices())
        assert "is not a Supplier record" in str(refused.value) or "must be unique" in str(refused.value)
        problems = merge.validation_problems(up, merge.review_proposal(up, p.id),
                                             merge.make_plan(merge.review_proposal(up, p.id), merge.Choices()))  # fmt: skip
        assert any("must be unique" in x for x in problems) and any(
            "is not a Supplier record" in x for x in problems
        )
        assert state_hash.state_hash(up, ds) == before  # nothing half-written
