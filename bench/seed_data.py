"""Generate realistic seed-catalog CSVs of any size with DuckDB (a million rows in about a second)."""

from __future__ import annotations

from pathlib import Path

import duckdb

SEED_VARIETY_SCHEMA = {
    "resource": "SeedVariety",
    "fields": {
        "species": {"type": "string", "required": True},
        "variety_name": {"type": "string", "required": True},
        "germination_days": {"type": "integer"},
        "days_to_maturity": {"type": "integer"},
        "price": {"type": "decimal", "scale": 2},
        "organic": {"type": "boolean"},
        "sow_from": {"type": "date"},
        "notes": {"type": "text"},
    },
}

_SPECIES = [
    "Solanum lycopersicum", "Capsicum annuum", "Cucumis sativus", "Phaseolus vulgaris", "Pisum sativum",
    "Daucus carota", "Beta vulgaris", "Lactuca sativa", "Allium cepa", "Cucurbita pepo", "Brassica oleracea",
    "Spinacia oleracea", "Zea mays", "Raphanus sativus", "Ocimum basilicum", "Petroselinum crispum",
]  # fmt: skip
_WORDS = [
    "Black", "Krim", "Golden", "Jubilee", "Cherokee", "Purple", "Early", "Giant", "Sweet", "Red", "Oxheart",
    "Moon", "Star", "Brandywine", "Green", "Zebra", "Sun", "Gold", "Rose", "Dwarf", "Winter", "Summer",
]  # fmt: skip


def write_seed_csv(path: Path, rows: int) -> Path:
    """Write `rows` seed varieties with a deterministic pseudo-random spread of values."""
    path.parent.mkdir(parents=True, exist_ok=True)
    species = "[" + ", ".join(f"'{s}'" for s in _SPECIES) + "]"
    words = "[" + ", ".join(f"'{w}'" for w in _WORDS) + "]"
    con = duckdb.connect()
    con.execute(
        f"""COPY (
            SELECT {species}[1 + (hash(i) % {len(_SPECIES)})::BIGINT] AS species,
                   {words}[1 + (hash(i * 7) % {len(_WORDS)})::BIGINT] || ' ' || {words}[1 + (hash(i * 13) % {len(_WORDS)})::BIGINT]
                       || ' ' || i::VARCHAR AS variety_name,
                   3 + (hash(i * 3) % 20)::BIGINT AS germination_days,
                   40 + (hash(i * 5) % 90)::BIGINT AS days_to_maturity,
                   printf('%.2f', 1.5 + ((hash(i * 11) % 600)::BIGINT) / 100.0) AS price,
                   CASE WHEN (hash(i * 17) % 3)::BIGINT = 0 THEN 'true' ELSE 'false' END AS organic,
                   (DATE '2026-02-01' + (hash(i * 19) % 120)::INTEGER)::VARCHAR AS sow_from,
                   'Saved from the ' || {words}[1 + (hash(i * 23) % {len(_WORDS)})::BIGINT] || ' garden' AS notes
            FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')"""
    )
    con.close()
    return path
