"""The state hash as docs/PROTOCOL.md defines it, checked against row lines written out by hand: another
implementation can reproduce it from this file alone."""

import hashlib

from engine import datasets, records, state_hash
from engine.schema import canonical_json
from engine.store import Store

SCHEMA = {
    "resource": "Item",
    "fields": {
        "title": {"type": "string", "required": True},
        "notes": {"type": "text"},
        "count": {"type": "integer"},
        "price": {"type": "decimal", "scale": 2},
        "organic": {"type": "boolean"},
        "sown": {"type": "date"},
        "seen": {"type": "datetime"},
        "size": {"type": "choice", "choices": ["S", "M"]},
        "links": {"type": "references", "target": "Item"},
    },
}


def test_state_hash_matches_the_documented_definition(store: Store) -> None:
    ds = datasets.create_dataset(store, "Items", visibility="public")
    datasets.apply_schema(store, ds, [SCHEMA])
    a = records.create_record(
        store, ds, "Item",
        {"title": "Bean ✓", "notes": 'two\nlines, a "quote"', "count": 7, "price": "3.50", "organic": True,
         "sown": "2026-04-30", "seen": "2026-04-30T14:05:00", "size": "M"},
    )  # fmt: skip
    b = records.create_record(store, ds, "Item", {"title": "Pea", "links": [a]})
    rows = {
        a: '{"count":7,"links":null,"notes":"two\\nlines, a \\"quote\\"","organic":true,"price":3.50,'
        '"seen":"2026-04-30 14:05:00","size":"M","sown":"2026-04-30","title":"Bean ✓"}',
        b: f'{{"count":null,"links":["{a}"],"notes":null,"organic":null,"price":null,"seen":null,"size":null,'
        '"sown":null,"title":"Pea"}',
    }
    lines = "".join(f"{rid}\t{rows[rid]}\n" for rid in sorted(rows))
    (res,) = datasets.resources(store, ds)
    definition_hash = hashlib.sha256(canonical_json(res.definition).encode()).hexdigest()
    rows_hash = hashlib.sha256(lines.encode()).hexdigest()
    expected = hashlib.sha256(f"kobold-state-v2\nItem {definition_hash} {rows_hash}\n".encode()).hexdigest()
    assert state_hash.compute(store, ds) == state_hash.state_hash(store, ds) == expected


def test_an_empty_resource_hashes_as_no_lines(store: Store) -> None:
    ds = datasets.create_dataset(store, "Empty", visibility="public")
    datasets.apply_schema(store, ds, [SCHEMA])
    (res,) = datasets.resources(store, ds)
    definition_hash = hashlib.sha256(canonical_json(res.definition).encode()).hexdigest()
    empty = hashlib.sha256(b"").hexdigest()
    expected = hashlib.sha256(f"kobold-state-v2\nItem {definition_hash} {empty}\n".encode()).hexdigest()
    assert state_hash.compute(store, ds) == expected
