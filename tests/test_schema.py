from pathlib import Path

import pytest

from engine import datasets, query, records
from engine.errors import SchemaError
from engine.schema import load_definitions
from engine.store import Store

PRD_SEED_VARIETY = """\
resource: SeedVariety
fields:
  species:
    type: string
    required: true
  variety_name:
    type: string
    required: true
  germination_days:
    type: integer
computed_fields:
  display_name:
    formula: |
      ${record.species} · ${record.variety_name}
relationships:
  suppliers:
    type: many
    target: Supplier
"""


def test_the_product_briefs_seed_variety_is_accepted_verbatim(store: Store, tmp_path: Path) -> None:
    ds = datasets.create_dataset(store, "Catalog")
    (tmp_path / "supplier.yaml").write_text(
        "resource: Supplier\nfields:\n  name: {type: string, required: true}\n"
    )
    (tmp_path / "seed.yaml").write_text(PRD_SEED_VARIETY)
    datasets.apply_schema(store, ds, load_definitions(tmp_path / "supplier.yaml"))
    datasets.apply_schema(store, ds, load_definitions(tmp_path / "seed.yaml"))
    res = datasets.resource(store, ds, "SeedVariety")
    assert [f["name"] for f in res.fields] == ["species", "variety_name", "germination_days", "suppliers"]
    assert res.field("suppliers")["type"] == "references"
    assert res.computed[0]["formula"].strip() == "${record.species} · ${record.variety_name}"


def test_a_reference_to_a_missing_resource_is_refused(store: Store) -> None:
    ds = datasets.create_dataset(store, "Catalog")
    with pytest.raises(SchemaError, match="refers to 'Supplier', which is not a resource"):
        datasets.apply_schema(
            store, ds, [{"resource": "X", "relationships": {"s": {"type": "one", "target": "Supplier"}}}]
        )
    assert datasets.resources(store, ds) == []


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"fields": {}}, "needs `resource: Name`"),
        ({"resource": "R", "fields": {"a": {"type": "colour"}}}, "unknown type 'colour'"),
        ({"resource": "R", "fields": {"a": {"type": "choice"}}}, "needs `choices:`"),
        (
            {"resource": "R", "fields": {"a": {"type": "integer", "default": "many"}}},
            "default 'many' does not fit",
        ),
        ({"resource": "R", "fields": {"bad name": "string"}}, "letters, digits"),
        ({"resource": "R", "fields": {"a": {"type": "string", "colour": 1}}}, "unknown option"),
    ],
)
def test_bad_definitions_get_one_clear_sentence(store: Store, spec: dict, message: str) -> None:
    ds = datasets.create_dataset(store, "Catalog")
    with pytest.raises(SchemaError, match=message):
        datasets.apply_schema(store, ds, [spec])


def test_add_rename_and_remove_keep_old_events_readable(store: Store, seeds: str) -> None:
    rid = records.create_record(
        store, seeds, "SeedVariety", {"species": "Zea mays", "variety_name": "Painted Mountain"}
    )
    spec = {
        "resource": "SeedVariety",
        "fields": {
            "latin_name": {"type": "string", "required": True, "renamed_from": "species"},
            "variety_name": {"type": "string", "required": True},
            "colour": {"type": "string"},
        },
    }
    applied = datasets.apply_schema(store, seeds, [spec])
    kinds = [c["change"] for c in applied[0]["changes"]]
    assert "rename" in kinds and "add" in kinds and kinds.count("remove") == 6
    rec = records.get_record(store, seeds, "SeedVariety", rid)
    assert rec["latin_name"] == "Zea mays" and rec["colour"] is None
    records.update_record(store, seeds, "SeedVariety", rid, {"latin_name": "Zea mays subsp. mays"})
    from engine import history, maintenance

    assert maintenance.verify(store, seeds).ok
    entries = history.history(store, seeds, "SeedVariety", rid)
    assert entries[0].changes["latin_name"] == (None, "Zea mays")
    assert entries[-1].changes["latin_name"] == ("Zea mays", "Zea mays subsp. mays")
    before = maintenance.rebuild(store, seeds)
    assert maintenance.rebuild(store, seeds, full=True) == before


def test_a_field_added_again_after_removal_gets_a_fresh_key(store: Store, seeds: str) -> None:
    base = {"resource": "SeedVariety", "fields": {"species": {"type": "string", "required": True},
                                                  "variety_name": {"type": "string", "required": True}}}  # fmt: skip
    rid = records.create_record(
        store, seeds, "SeedVariety", {"species": "a", "variety_name": "b", "notes": "old note"}
    )
    datasets.apply_schema(store, seeds, [base])
    datasets.apply_schema(
        store, seeds, [{**base, "fields": {**base["fields"], "notes": {"type": "integer"}}}]
    )
    res = datasets.resource(store, seeds, "SeedVariety")
    assert res.field("notes")["key"] == "notes_2"
    assert records.get_record(store, seeds, "SeedVariety", rid)["notes"] is None


def test_retype_lists_the_records_that_cannot_convert_and_writes_nothing(store: Store, seeds: str) -> None:
    ok = records.create_record(store, seeds, "SeedVariety", {"species": "a", "variety_name": "1"})
    bad = records.create_record(store, seeds, "SeedVariety", {"species": "b", "variety_name": "Black Krim"})
    from engine import state_hash

    before = state_hash.state_hash(store, seeds)
    spec = {"resource": "SeedVariety", "fields": {"species": {"type": "string", "required": True},
                                                  "variety_name": {"type": "integer"}}}  # fmt: skip
    with pytest.raises(SchemaError, match=rf"1 record\(s\) would not convert: {bad}"):
        datasets.apply_schema(store, seeds, [spec])
    assert state_hash.state_hash(store, seeds) == before
    records.update_record(store, seeds, "SeedVariety", bad, {"variety_name": "2"})
    datasets.apply_schema(store, seeds, [spec])
    rows = query.page(store, seeds, query.Query("SeedVariety", sort=(("variety_name", False),))).as_dicts()
    assert [(r["_id"], r["variety_name"]) for r in rows] == [(ok, 1), (bad, 2)]
