import json
from pathlib import Path

import pytest

from engine import csv_import, datasets, export, maintenance, query, records, state_hash
from engine.errors import ImportFailed
from engine.store import Store
from tests.conftest import SEED_SCHEMA

HEADER = "species,variety_name,germination_days,price,organic,sow_from,status,notes\n"


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "in.csv"
    path.write_text(header + body)
    return path


def test_import_creates_signed_records_that_survive_rebuild(store: Store, seeds: str, tmp_path: Path) -> None:
    rows = "".join(
        f'Solanum lycopersicum,Variety {i},{i % 9},{i}.50,{"yes" if i % 2 else "no"},2026-03-0{1 + i % 9},active,"note, {i}"\n'
        for i in range(500)
    )
    store.config.max_event_bytes = 8192
    assert csv_import.import_csv(store, seeds, "SeedVariety", write(tmp_path, rows)) == 500
    assert query.count(store, seeds, query.Query("SeedVariety")) == 500
    rec = query.page(
        store, seeds, query.Query("SeedVariety", (query.parse_condition("variety_name=Variety 7"),))
    ).as_dicts()[0]
    assert (
        rec["price"] == "7.50"
        and rec["organic"] is True
        and rec["sow_from"] == "2026-03-08"
        and rec["notes"] == "note, 7"
    )
    report = maintenance.verify(store, seeds)
    assert report.ok and report.events > 5
    sizes = [
        len(r[0].encode()) for r in store.con.execute("SELECT raw FROM events WHERE kind = 4872").fetchall()
    ]
    assert max(sizes) <= 8192
    h = state_hash.state_hash(store, seeds)
    assert maintenance.rebuild(store, seeds) == h
    assert maintenance.rebuild(store, seeds, full=True) == h
    rid = rec["_id"]
    records.update_record(store, seeds, "SeedVariety", rid, {"germination_days": 3})
    assert maintenance.rebuild(store, seeds, full=True) == state_hash.state_hash(store, seeds)


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "A,B,1,1.00,yes,2026-01-01,active,\nC,D,two,1.00,yes,2026-01-01,active,\n",
            "line 3: germination_days: two is not a whole number",
        ),
        ("A,B,1,1.005,yes,2026-01-01,active,\n", "line 2: price: 1.005 is not a decimal with at most 2"),
        ("A,,1,1.00,yes,2026-01-01,active,\n", "line 2: variety_name is required"),
        ("A,B,1,1.00,perhaps,2026-01-01,active,\n", "line 2: organic: perhaps is not true or false"),
        ("A,B,1,1.00,yes,2026-02-30,active,\n", "line 2: sow_from: 2026-02-30 is not a date"),
        ("A,B,1,1.00,yes,2026-01-01,lost,\n", "line 2: status: lost is not one of active, retired"),
    ],
)
def test_a_bad_row_aborts_the_import_with_its_line_and_nothing_is_applied(
    store: Store, seeds: str, tmp_path: Path, body: str, message: str
) -> None:
    before = (
        state_hash.state_hash(store, seeds),
        store.con.execute("SELECT count(*) FROM events").fetchone(),
    )
    with pytest.raises(ImportFailed, match=message):
        csv_import.import_csv(store, seeds, "SeedVariety", write(tmp_path, body))
    assert (
        state_hash.state_hash(store, seeds),
        store.con.execute("SELECT count(*) FROM events").fetchone(),
    ) == before


def test_unknown_columns_missing_files_and_garbage_are_refused(
    store: Store, seeds: str, tmp_path: Path
) -> None:
    with pytest.raises(ImportFailed, match="colour are not fields of SeedVariety"):
        csv_import.import_csv(
            store, seeds, "SeedVariety", write(tmp_path, "a,b,red\n", "species,variety_name,colour\n")
        )
    with pytest.raises(ImportFailed, match="no column for the required field"):
        csv_import.import_csv(store, seeds, "SeedVariety", write(tmp_path, "a\n", "species\n"))
    with pytest.raises(ImportFailed, match="No file"):
        csv_import.import_csv(store, seeds, "SeedVariety", tmp_path / "missing.csv")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\x00\xff\xfe" * 100)
    with pytest.raises(ImportFailed):
        csv_import.import_csv(store, seeds, "SeedVariety", binary)
    assert query.count(store, seeds, query.Query("SeedVariety")) == 0


def test_export_csv_and_json_round_trip(store: Store, seeds: str, tmp_path: Path) -> None:
    csv_import.import_csv(
        store, seeds, "SeedVariety", write(tmp_path, 'A,B,1,1.50,yes,2026-01-01,active,"multi\nline"\n')
    )
    export.export(store, seeds, "SeedVariety", "json", tmp_path / "out.json")
    data = json.loads((tmp_path / "out.json").read_text())
    assert data[0]["variety_name"] == "B" and data[0]["notes"] == "multi\nline" and data[0]["price"] == 1.5
    export.export(store, seeds, "SeedVariety", "csv", tmp_path / "out.csv")
    other = datasets.create_dataset(store, "Copy")
    datasets.apply_schema(store, other, [SEED_SCHEMA])
    assert csv_import.import_csv(store, other, "SeedVariety", tmp_path / "out.csv") == 1
    assert (
        query.page(store, other, query.Query("SeedVariety")).as_dicts()
        == query.page(store, seeds, query.Query("SeedVariety")).as_dicts()
    )
    with pytest.raises(ImportFailed, match="is already used in SeedVariety"):
        csv_import.import_csv(store, other, "SeedVariety", tmp_path / "out.csv")
