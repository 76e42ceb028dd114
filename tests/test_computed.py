"""Computed fields and validations in the engine: materialized, recomputed, flagged, refused."""

from __future__ import annotations

import pytest

from engine import datasets, demo, ingest, maintenance, query, records, roles, state_hash
from engine.errors import SchemaError, ValidationError
from engine.store import Store

GERMINATION = {
    "resource": "Test",
    "fields": {
        "name": {"type": "string", "required": True},
        "slug": {
            "type": "string",
            "default_formula": "record.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')",
        },
        "sown": "integer",
        "sprouted": "integer",
    },
    "computed_fields": {
        "rate": {
            "type": "decimal",
            "formula": "export function compute(record) { if (!record.sown) return null; return record.sprouted / record.sown }",
        },
        "label": {"formula": "${record.name} (${record.sprouted}/${record.sown})"},
    },
    "validations": {
        "not_more_sprouted": {"formula": 'record.sprouted <= record.sown || "sprouted cannot exceed sown"'}
    },
}


@pytest.fixture
def tests_ds(store: Store) -> str:
    ds = datasets.create_dataset(store, "Germination")
    datasets.apply_schema(store, ds, [GERMINATION])
    return ds


def rows(store: Store, ds: str, resource: str = "Test", **kw: object) -> list[dict]:
    return query.page(store, ds, query.Query(resource, **kw), 0, 1000).as_dicts()  # type: ignore[arg-type]


def test_computed_values_are_materialized_sortable_and_recomputed(store: Store, tests_ds: str) -> None:
    a = records.create_record(store, tests_ds, "Test", {"name": "Black Krim", "sown": 20, "sprouted": 17})
    records.create_record(store, tests_ds, "Test", {"name": "Brandywine", "sown": 20, "sprouted": 10})
    records.create_record(store, tests_ds, "Test", {"name": "Empty", "sown": 0, "sprouted": 0})
    got = {r["name"]: (r["rate"], r["label"], r["slug"]) for r in rows(store, tests_ds)}
    assert got["Black Krim"] == (0.85, "Black Krim (17/20)", "black-krim")
    assert got["Empty"][0] is None
    by_rate = rows(store, tests_ds, sort=(("rate", True),))
    assert [r["name"] for r in by_rate] == ["Black Krim", "Brandywine", "Empty"]
    records.update_record(store, tests_ds, "Test", a, {"sprouted": 5})
    assert [
        r["rate"] for r in rows(store, tests_ds, conditions=(query.Condition("name", "=", "Black Krim"),))
    ] == [0.25]
    h = state_hash.state_hash(store, tests_ds)
    assert maintenance.rebuild(store, tests_ds) == h
    assert {r["name"]: r["rate"] for r in rows(store, tests_ds)}["Black Krim"] == 0.25


def test_a_local_write_failing_a_validation_is_refused_with_its_message(store: Store, tests_ds: str) -> None:
    before = store.con.execute("SELECT count(*) FROM events").fetchone()
    with pytest.raises(ValidationError, match="Test: sprouted cannot exceed sown"):
        records.create_record(store, tests_ds, "Test", {"name": "x", "sown": 1, "sprouted": 5})
    rid = records.create_record(store, tests_ds, "Test", {"name": "y", "sown": 5, "sprouted": 5})
    with pytest.raises(ValidationError, match="sprouted cannot exceed sown"):
        records.update_record(store, tests_ds, "Test", rid, {"sown": 4})
    assert store.con.execute("SELECT count(*) FROM events").fetchone()[0] == before[0] + 1


def test_records_from_elsewhere_that_fail_a_validation_are_kept_and_flagged(
    tmp_path, store: Store, tests_ds: str
) -> None:
    other = Store.open(tmp_path / "other")
    try:
        roles.grant(store, tests_ds, [other.identity.pubkey], "maintainer")  # other may change the schema
        ingest.ingest(other, ingest.all_events(store, tests_ds))
        spec = {**GERMINATION, "validations": {}}
        datasets.apply_schema(other, tests_ds, [spec])
        records.create_record(other, tests_ds, "Test", {"name": "Optimist", "sown": 2, "sprouted": 9})
        report = ingest.ingest(store, ingest.all_events(other, tests_ds))
        assert not report.rejected
        # The check comes back after the record arrived: history is kept, the record is flagged.
        datasets.apply_schema(store, tests_ds, [GERMINATION | {"description": "keeps the check"}])
    finally:
        other.close()
    flagged = [r for r in rows(store, tests_ds) if r["name"] == "Optimist"]
    assert flagged and flagged[0]["_invalid"] == "sprouted cannot exceed sown"


def test_formula_errors_are_values_next_to_the_cell_and_the_next_record_computes(store: Store) -> None:
    ds = datasets.create_dataset(store, "Errors")
    datasets.apply_schema(store, ds, [{
        "resource": "R", "fields": {"n": "integer"},
        "computed_fields": {
            "boom": {"type": "integer", "formula": "export function compute(record) { if (record.n === 2) { while (true) {} } return record.n.toFixed(0) * 2 }"},
        },
    }])  # fmt: skip
    for n in (1, 2, 3):
        records.create_record(store, ds, "R", {"n": n})
    records.create_record(store, ds, "R", {})
    got = {r["n"]: (r["boom"], r["_errors"]) for r in rows(store, ds, "R")}
    assert got[1] == (2, None) and got[3] == (6, None)
    assert got[2][0] is None and "ran longer than" in got[2][1]["boom"]
    assert got[None][0] is None and got[None][1]["boom"].startswith("#ERR TypeError")


def test_formulas_read_referenced_records_and_follow_their_changes(store: Store) -> None:
    ds = demo.create_demo(store)
    datasets.apply_schema(store, ds, [{
        "resource": "Supplier", "fields": {"name": {"type": "string", "required": True}, "town": "string"}},
    ])  # fmt: skip
    res = datasets.resource(store, ds, "SeedVariety").definition
    spec = {
        "resource": "SeedVariety",
        "fields": {f["name"]: {k: v for k, v in f.items() if k in ("type", "required", "target", "scale", "choices")}
                   for f in res["fields"] if not f.get("removed")},
        "computed_fields": {"offered_by": {"formula": "export function compute(record) { const s = ref(record.suppliers[0]); return s ? s.name : null }"}},
    }  # fmt: skip
    datasets.apply_schema(store, ds, [spec])
    krim = rows(store, ds, "SeedVariety", conditions=(query.Condition("variety_name", "=", "Black Krim"),))[0]
    assert krim["offered_by"] == "Riverside Seed Library"
    supplier = krim["suppliers"][0]
    records.update_record(store, ds, "Supplier", supplier, {"name": "Riverside Seeds"})
    krim = rows(store, ds, "SeedVariety", conditions=(query.Condition("variety_name", "=", "Black Krim"),))[0]
    assert krim["offered_by"] == "Riverside Seeds"


def test_a_formula_that_does_not_compile_is_refused_with_line_and_column(store: Store) -> None:
    ds = datasets.create_dataset(store, "Bad")
    spec = {
        "resource": "R",
        "fields": {"n": "integer"},
        "computed_fields": {"x": {"formula": "export function compute(record) {\n  return (record.n +\n}"}},
    }
    with pytest.raises(SchemaError, match=r"line \d+, column \d+"):
        datasets.apply_schema(store, ds, [spec])
    assert datasets.resources(store, ds) == []


def test_the_demo_display_name_is_computed(store: Store) -> None:
    ds = demo.create_demo(store)
    names = [r["display_name"] for r in rows(store, ds, "SeedVariety", sort=(("display_name", False),))]
    assert names[0] == "Allium cepa · Red Baron" and len(names) == 30


def test_a_bundle_brings_computed_values_to_the_receiving_store(tmp_path, store: Store) -> None:
    from sync import bundle

    ds = demo.create_demo(store)
    path = tmp_path / "demo.kobold"
    bundle.export_bundle(store, ds, path)
    with Store.open(tmp_path / "receiver") as other:
        bundle.import_bundle(other, path)
        names = sorted(r["display_name"] for r in rows(other, ds, "SeedVariety"))
        assert names == sorted(r["display_name"] for r in rows(store, ds, "SeedVariety"))
        assert names[0] == "Allium cepa · Red Baron"


def test_every_kind_of_formula_is_compiled_before_the_schema_is_signed(store: Store) -> None:
    ds = datasets.create_dataset(store, "Checked")
    for spec, where in [
        ({"resource": "R", "fields": {"n": {"type": "integer", "validate": "record.n >"}}}, "R.n"),
        ({"resource": "R", "fields": {"s": {"type": "string", "default_formula": "record.s +"}}}, "R.s"),
        (
            {"resource": "R", "fields": {"n": "integer"}, "validations": {"positive": "record.n > (0"}},
            "R.positive",
        ),
    ]:
        with pytest.raises(
            SchemaError, match=rf"{where}: the formula does not compile: Syntax error at line 1"
        ):
            datasets.apply_schema(store, ds, [spec])
    assert datasets.resources(store, ds) == []
