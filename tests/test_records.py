from decimal import Decimal

import pytest

from engine import datasets, history, maintenance, query, records, state_hash
from engine.errors import NotFound, ValidationError
from engine.records import Change
from engine.store import Store


def add(store: Store, ds: str, **values: object) -> str:
    return records.create_record(
        store, ds, "SeedVariety", {"species": "Solanum lycopersicum", "variety_name": "x", **values}
    )


def test_create_update_delete_are_signed_events_and_projected(store: Store, seeds: str) -> None:
    rid = add(store, seeds, variety_name="Black Krim", germination_days=8, price="2.5")
    rec = records.get_record(store, seeds, "SeedVariety", rid)
    assert rec["variety_name"] == "Black Krim" and rec["price"] == Decimal("2.50")
    records.update_record(store, seeds, "SeedVariety", rid, {"germination_days": 9})
    assert records.get_record(store, seeds, "SeedVariety", rid)["germination_days"] == 9
    records.delete_records(store, seeds, "SeedVariety", [rid])
    with pytest.raises(NotFound):
        records.get_record(store, seeds, "SeedVariety", rid)
    kinds = [e["summary"] for e in maintenance.log(store, seeds)][:3]
    assert kinds == ["1 delete", "1 update", "1 create"]
    assert maintenance.verify(store, seeds).ok


@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"germination_days": "eight"},
            r"SeedVariety.germination_days: 'eight' does not fit: expected a whole number",
        ),
        ({"price": "2.505"}, "at most 2 digits after the decimal point"),
        ({"organic": "maybe"}, "expected true or false"),
        ({"sow_from": "31/02/2026"}, "expected a date like"),
        ({"status": "lost"}, "expected one of active, retired"),
        ({"colour": "red"}, "SeedVariety has no field 'colour'"),
        ({"species": ""}, "SeedVariety.species is required"),
    ],
)
def test_writes_that_do_not_fit_the_schema_are_refused_before_signing(
    store: Store, seeds: str, values: dict, message: str
) -> None:
    before = store.con.execute("SELECT count(*) FROM events").fetchone()
    with pytest.raises(ValidationError, match=message):
        records.create_record(
            store, seeds, "SeedVariety", {"species": "S", "variety_name": "V", **values}, from_text=True
        )
    assert store.con.execute("SELECT count(*) FROM events").fetchone() == before


def test_dangling_references_and_duplicate_unique_values_are_refused(store: Store) -> None:
    ds = datasets.create_dataset(store, "Catalog")
    datasets.apply_schema(store, ds, [
        {"resource": "Supplier", "fields": {"name": {"type": "string", "unique": True}}},
        {"resource": "Seed", "fields": {"name": "string"}, "relationships": {"supplier": {"type": "one", "target": "Supplier"}}},
    ])  # fmt: skip
    sup = records.create_record(store, ds, "Supplier", {"name": "Acme"})
    with pytest.raises(ValidationError, match="must be unique; 'Acme' is already used"):
        records.create_record(store, ds, "Supplier", {"name": "Acme"})
    with pytest.raises(ValidationError, match="'nope' is not a Supplier record"):
        records.create_record(store, ds, "Seed", {"name": "x", "supplier": "nope"})
    seed = records.create_record(store, ds, "Seed", {"name": "x", "supplier": sup})
    assert records.get_record(store, ds, "Seed", seed)["supplier"] == sup


def test_clearing_a_field_differs_from_not_touching_it(store: Store, seeds: str) -> None:
    rid = add(store, seeds, germination_days=8, notes="keep me")
    records.update_record(store, seeds, "SeedVariety", rid, {"germination_days": None})
    rec = records.get_record(store, seeds, "SeedVariety", rid)
    assert rec["germination_days"] is None and rec["notes"] == "keep me"
    assert maintenance.rebuild(store, seeds) == state_hash.compute(store, seeds)


def test_history_shows_author_time_old_and_new_and_verification(store: Store, seeds: str) -> None:
    rid = add(store, seeds, germination_days=8)
    records.update_record(store, seeds, "SeedVariety", rid, {"germination_days": 10, "notes": "late"})
    entries = history.history(store, seeds, "SeedVariety", rid)
    assert [e.op for e in entries] == ["create", "update"]
    assert entries[1].changes == {"germination_days": (8, 10), "notes": (None, "late")}
    assert all(e.author == store.identity.pubkey and e.verified for e in entries)
    blame = history.blame(store, seeds, "SeedVariety", rid)
    assert blame["notes"]["event"] == entries[1].event_id
    assert blame["species"]["event"] == entries[0].event_id


def test_a_multi_record_change_is_one_changeset(store: Store, seeds: str) -> None:
    ids = [add(store, seeds, variety_name=f"v{i}") for i in range(3)]
    before = store.con.execute("SELECT count(*) FROM events").fetchone()[0]
    records.apply_changes(
        store, seeds, [Change("update", "SeedVariety", i, {"status": "retired"}) for i in ids]
    )
    assert store.con.execute("SELECT count(*) FROM events").fetchone()[0] == before + 1
    page = query.page(store, seeds, query.Query("SeedVariety", (query.Condition("status", "=", "retired"),)))
    assert page.matched == 3


def test_a_large_change_is_split_into_events_under_the_size_limit(store: Store, seeds: str) -> None:
    store.config.max_event_bytes = 4096
    changes = [
        Change("create", "SeedVariety", None, {"species": "S" * 50, "variety_name": f"v{i}"})
        for i in range(200)
    ]
    events = records.apply_changes(store, seeds, changes)
    assert len(events) > 3
    assert all(len(e.to_json().encode()) <= 4096 for e in events)
    assert query.count(store, seeds, query.Query("SeedVariety")) == 200
    assert events[1].tag_values("e") == [events[0].id]


def test_restore_brings_a_deleted_record_back_with_its_values(store: Store, seeds: str) -> None:
    rid = add(store, seeds, variety_name="Back again", germination_days=5)
    records.delete_records(store, seeds, "SeedVariety", [rid])
    records.apply_changes(store, seeds, [Change("restore", "SeedVariety", rid)])
    rec = records.get_record(store, seeds, "SeedVariety", rid)
    assert rec["variety_name"] == "Back again" and rec["germination_days"] == 5


def test_list_filters_search_sort_and_pages(store: Store, seeds: str) -> None:
    for i, name in enumerate(["Brandywine", "Black Krim", "Green Zebra", "Amish Paste"]):
        add(store, seeds, variety_name=name, germination_days=5 + i)
    q = query.Query("SeedVariety", sort=(("variety_name", True),))
    assert [r["variety_name"] for r in query.page(store, seeds, q).as_dicts()] == [
        "Green Zebra", "Brandywine", "Black Krim", "Amish Paste"]  # fmt: skip
    q = query.Query("SeedVariety", (query.parse_condition("germination_days>5"),), search="b")
    assert sorted(r["variety_name"] for r in query.page(store, seeds, q).as_dicts()) == [
        "Black Krim",
        "Green Zebra",
    ]
    page = query.page(
        store, seeds, query.Query("SeedVariety", sort=(("germination_days", False),)), offset=2, limit=1
    )
    assert page.as_dicts()[0]["variety_name"] == "Green Zebra" and page.total == 4
    index = query.PositionIndex(store, seeds, query.Query("SeedVariety", sort=(("germination_days", False),)))
    assert [r[1:3] for r in index.rows(1, 2)] == [
        ("Solanum lycopersicum", "Black Krim"),
        ("Solanum lycopersicum", "Green Zebra"),
    ]
