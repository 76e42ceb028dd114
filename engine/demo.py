"""The demo dataset: a community seed catalog with suppliers, offered on first run and by `kobold demo`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine import datasets, records
from engine.records import Change

if TYPE_CHECKING:
    from engine.store import Store

DEMO_NAME = "Community Seed Catalog"
DEMO_TYPE = "org.tribes.scv.seed-catalog"

SCHEMA: list[dict[str, Any]] = [
    {
        "resource": "Supplier",
        "description": "A grower, seed library or company that offers seed.",
        "fields": {
            "name": {
                "type": "string",
                "required": True,
                "unique": True,
                "description": "What the supplier is called.",
            },
            "kind": {"type": "choice", "choices": ["member", "seed library", "company"], "default": "member"},
            "town": {"type": "string", "description": "Where to pick seed up."},
            "contact": {"type": "string", "description": "E-mail or phone, as the supplier wishes."},
        },
    },
    {
        "resource": "SeedVariety",
        "description": "A variety of seed that the tribe saves and shares.",
        "fields": {
            "species": {
                "type": "string",
                "required": True,
                "description": "Latin name, e.g. Solanum lycopersicum.",
            },
            "variety_name": {
                "type": "string",
                "required": True,
                "description": "The cultivar's common name.",
            },
            "germination_days": {"type": "integer", "description": "Days from sowing to sprouting."},
            "days_to_maturity": {"type": "integer"},
            "open_pollinated": {"type": "boolean", "default": True},
            "sown": {"type": "integer", "description": "Seeds sown in the last germination test."},
            "sprouted": {"type": "integer", "description": "Seeds that sprouted in that test."},
            "price": {"type": "decimal", "scale": 2, "description": "Suggested donation per packet."},
            "last_harvest": {"type": "date"},
            "notes": {"type": "text"},
        },
        "computed_fields": {"display_name": {"formula": "${record.species} · ${record.variety_name}"}},
        "relationships": {"suppliers": {"type": "many", "target": "Supplier"}},
    },
]

SUPPLIERS = [
    ("Riverside Seed Library", "seed library", "Riverside", "library@riverside.example"),
    ("Anna Kowalska", "member", "Hillcrest", "anna@example.org"),
    ("Old Mill Heirlooms", "company", "Millbrook", "orders@oldmill.example"),
    ("Tomás Ortega", "member", "Riverside", "+34 600 000 111"),
    ("Northern Seed Circle", "seed library", "Lakeview", "circle@lakeview.example"),
    ("Greenhouse Co-op", "company", "Hillcrest", "coop@greenhouse.example"),
]

# species, variety, germination days, days to maturity, sown, sprouted, price, last harvest, supplier indexes
VARIETIES = [
    ("Solanum lycopersicum", "Black Krim", 8, 80, 20, 17, "2.50", "2026-09-12", [0, 1]),
    ("Solanum lycopersicum", "Brandywine", 9, 90, 20, 15, "2.50", "2026-09-20", [2]),
    ("Solanum lycopersicum", "Green Zebra", 7, 75, 25, 24, "2.00", "2026-08-30", [1]),
    ("Solanum lycopersicum", "Cherokee Purple", 8, 85, 20, 18, "2.50", "2026-09-15", [0, 3]),
    ("Solanum lycopersicum", "Gardener's Delight", 6, 65, 30, 29, "1.50", "2026-08-20", [5]),
    ("Capsicum annuum", "Corno di Toro", 12, 90, 20, 14, "2.00", "2026-09-28", [3]),
    ("Capsicum annuum", "Padrón", 11, 70, 25, 19, "2.00", "2026-09-01", [3]),
    ("Capsicum annuum", "Hungarian Hot Wax", 10, 70, 20, 16, "1.80", "2026-09-05", [2]),
    ("Cucumis sativus", "Marketmore", 5, 60, 20, 19, "1.50", "2026-08-15", [5]),
    ("Cucumis sativus", "Crystal Apple", 6, 65, 15, 13, "1.80", "2026-08-18", [1]),
    ("Phaseolus vulgaris", "Cherokee Trail of Tears", 7, 85, 40, 37, "2.20", "2026-09-10", [0, 4]),
    ("Phaseolus vulgaris", "Borlotto Lingua di Fuoco", 8, 80, 40, 35, "2.00", "2026-09-08", [3]),
    ("Phaseolus vulgaris", "Blauhilde", 7, 70, 30, 28, "2.00", "2026-08-28", [4]),
    ("Pisum sativum", "Golden Sweet", 9, 70, 40, 33, "2.00", "2026-07-10", [4]),
    ("Pisum sativum", "Kelvedon Wonder", 8, 65, 50, 46, "1.50", "2026-07-02", [5]),
    ("Daucus carota", "Chantenay Red Cored", 14, 75, 100, 71, "1.20", "2026-10-01", [2]),
    ("Daucus carota", "Purple Dragon", 15, 80, 100, 64, "1.50", "2026-10-05", [1]),
    ("Beta vulgaris", "Chioggia", 8, 60, 50, 44, "1.50", "2026-08-25", [0]),
    ("Beta vulgaris", "Bull's Blood", 9, 58, 50, 41, "1.50", "2026-08-22", [2]),
    ("Lactuca sativa", "Merveille des Quatre Saisons", 6, 55, 60, 55, "1.20", "2026-06-15", [0, 3]),
    ("Lactuca sativa", "Little Gem", 5, 50, 60, 58, "1.20", "2026-06-10", [5]),
    ("Allium cepa", "Red Baron", 10, 120, 80, 62, "1.80", "2026-08-01", [4]),
    ("Cucurbita pepo", "Costata Romanesco", 6, 60, 15, 14, "2.00", "2026-08-12", [3]),
    ("Cucurbita maxima", "Uchiki Kuri", 7, 95, 15, 13, "2.20", "2026-10-10", [1, 4]),
    ("Brassica oleracea", "Cavolo Nero", 6, 65, 50, 45, "1.50", "2026-09-18", [0]),
    ("Spinacia oleracea", "Bloomsdale", 8, 45, 60, 48, "1.20", "2026-05-30", [4]),
    ("Zea mays", "Painted Mountain", 7, 90, 40, 36, "2.50", "2026-09-25", [4]),
    ("Raphanus sativus", "French Breakfast", 4, 28, 80, 78, "1.00", "2026-05-12", [5]),
    ("Ocimum basilicum", "Genovese", 7, 60, 50, 43, "1.50", "2026-08-08", [3]),
    ("Petroselinum crispum", "Gigante d'Italia", 21, 80, 60, 39, "1.20", "2026-07-20", [0]),
]


def find_demo(store: Store) -> str | None:
    row = store.con.execute(
        "SELECT id FROM datasets WHERE name = ? AND type = ?", [DEMO_NAME, DEMO_TYPE]
    ).fetchone()
    return str(row[0]) if row else None


def create_demo(store: Store) -> str:
    """Create the demo dataset unless it exists; returns its id."""
    existing = find_demo(store)
    if existing:
        return existing
    with store.transaction():
        ds = datasets.create_dataset(
            store, DEMO_NAME, DEMO_TYPE, "public", "Seeds our tribe saves and shares, with who offers them."
        )
        datasets.apply_schema(store, ds, SCHEMA)
        supplier_ids = [records.new_record_id() for _ in SUPPLIERS]
        changes = [
            Change("create", "Supplier", rid, {"name": n, "kind": k, "town": t, "contact": c})
            for rid, (n, k, t, c) in zip(supplier_ids, SUPPLIERS, strict=True)
        ]
        for species, variety, germ, mat, sown, sprouted, price, harvest, sup in VARIETIES:
            values = {
                "species": species, "variety_name": variety, "germination_days": germ, "days_to_maturity": mat,
                "sown": sown, "sprouted": sprouted, "price": price, "last_harvest": harvest,
                "suppliers": [supplier_ids[i] for i in sup],
            }  # fmt: skip
            changes.append(Change("create", "SeedVariety", None, values))
        records.apply_changes(store, ds, changes)
    return ds
