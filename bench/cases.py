"""Benchmark cases. Each runs in its own process (so peak memory is its own) and returns its numbers.

Cases named `import` build the store the later cases of the same size reuse.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.seed_data import SEED_VARIETY_SCHEMA, write_seed_csv

Case = Callable[[int, Path], dict[str, Any]]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES[name] = fn
        return fn

    return register


def _store(n: int, work: Path) -> Any:
    from engine.store import Store

    return Store.open(work / f"store-{n}")


def _dataset(store: Any) -> str:
    return str(store.dataset_id("Seeds"))


@case("import")
def bench_import(n: int, work: Path) -> dict[str, Any]:
    """CSV → signed changesets + projection, on a fresh file-backed store."""
    import shutil

    from engine import csv_import, datasets

    csv = work / f"seed_{n}.csv"
    if not csv.exists():
        write_seed_csv(csv, n)
    shutil.rmtree(work / f"store-{n}", ignore_errors=True)
    with _store(n, work) as s:
        ds = datasets.create_dataset(s, "Seeds", visibility="public")
        datasets.apply_schema(s, ds, [SEED_VARIETY_SCHEMA])
        t = time.perf_counter()
        csv_import.import_csv(s, ds, "SeedVariety", csv)
        seconds = time.perf_counter() - t
        events = s.con.execute("SELECT count(*) FROM events").fetchone()[0]
    size = (work / f"store-{n}" / "kobold.duckdb").stat().st_size
    return {"seconds": seconds, "events": events, "db_mb": round(size / 2**20, 1)}


@case("rebuild")
def bench_rebuild(n: int, work: Path) -> dict[str, Any]:
    """Drop and re-derive the projection from the op log (+ the state hash)."""
    from engine import maintenance, state_hash

    with _store(n, work) as s:
        ds = _dataset(s)
        t = time.perf_counter()
        maintenance.rebuild(s, ds)
        total = time.perf_counter() - t
        t = time.perf_counter()
        state_hash.compute(s, ds)
        hashing = time.perf_counter() - t
    return {"seconds": total, "of_which_state_hash": hashing}


@case("verify")
def bench_verify(n: int, work: Path) -> dict[str, Any]:
    from engine import maintenance

    with _store(n, work) as s:
        ds = _dataset(s)
        t = time.perf_counter()
        report = maintenance.verify(s, ds)
        seconds = time.perf_counter() - t
    assert report.ok
    return {"seconds": seconds, "events": report.events}


@case("update")
def bench_update(n: int, work: Path) -> dict[str, Any]:
    """One record update (check, sign, append, project, commit), median of 50 on random records."""
    import random

    from engine import query, records

    with _store(n, work) as s:
        ds = _dataset(s)
        rng = random.Random(7)
        times = []
        for i in range(50):
            rid = query.page(s, ds, query.Query("SeedVariety"), rng.randrange(n), 1).rows[0][0]
            t = time.perf_counter()
            records.update_record(s, ds, "SeedVariety", rid, {"germination_days": i})
            times.append(time.perf_counter() - t)
    return {"median_ms": statistics.median(times) * 1000, "p90_ms": sorted(times)[44] * 1000}


@case("deep_page")
def bench_deep_page(n: int, work: Path) -> dict[str, Any]:
    """`record list --sort variety_name --offset N/2 --limit 100`, and the position-index path the TUI uses."""
    from engine import query

    with _store(n, work) as s:
        ds = _dataset(s)
        q = query.Query("SeedVariety", sort=(("variety_name", False),))
        t = time.perf_counter()
        query.page(s, ds, q, n // 2, 100)
        plain = time.perf_counter() - t
        t = time.perf_counter()
        index = query.PositionIndex(s, ds, q)
        build = time.perf_counter() - t
        t = time.perf_counter()
        index.rows(n // 2, 100)
        page = time.perf_counter() - t
    return {"seconds": plain, "position_index_build_s": build, "position_index_page_ms": page * 1000}
