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


# ---- TUI (headless Textual, `App.run_test`) on the store the `import` case built -------------------------


def _tui(n: int, work: Path, scenario: Callable[[Any, Any, Any], Any]) -> dict[str, Any]:
    """Run `scenario(app, pilot, view)` with the SeedVariety grid open; returns its numbers + start time."""
    import asyncio

    from kobold_tui.app import KoboldApp
    from kobold_tui.screens.dataset import DatasetScreen

    async def run() -> dict[str, Any]:
        with _store(n, work) as s:
            ds = _dataset(s)
            t = time.perf_counter()
            app = KoboldApp(s, save_theme=False)
            async with app.run_test(size=(120, 40)) as pilot:
                await app.push_screen(DatasetScreen(s, ds, "SeedVariety"))
                view = app.screen.active_view
                await _until(pilot, lambda: view.grid.row_count > 0 and view.cache.row(0) is not None)
                _paint(view.grid)
                start = time.perf_counter() - t
                await app.workers.wait_for_complete()
                await _until(pilot, lambda: not view.loading)
                result: dict[str, Any] = await scenario(app, pilot, view)
                result["start_to_first_grid_s"] = start
                result["cached_rows"] = view.cache.cached_rows
                return result

    return asyncio.run(run())


async def _until(pilot: Any, ready: Callable[[], bool], timeout: float = 60.0) -> None:
    import asyncio

    end = time.perf_counter() + timeout
    while not ready():
        if time.perf_counter() > end:
            raise TimeoutError("the grid did not get there in time")
        await asyncio.sleep(0.001)


def _paint(grid: Any) -> None:
    """Render every visible line, as a screen refresh would."""
    for y in range(grid.size.height):
        grid.render_line(y)


@case("tui_start")
def bench_tui_start(n: int, work: Path) -> dict[str, Any]:
    """App start to the first painted grid page; peak memory with the grid open."""

    async def nothing(app: Any, pilot: Any, view: Any) -> dict[str, Any]:
        return {}

    return _tui(n, work, nothing)


@case("tui_sort")
def bench_tui_sort(n: int, work: Path) -> dict[str, Any]:
    """Sort by a string column: to the first painted page, and to the whole sorted view (position index)."""

    async def sort(app: Any, pilot: Any, view: Any) -> dict[str, Any]:
        t = time.perf_counter()
        view.set_sort("variety_name")
        await _until(pilot, lambda: view.preview_generation == view.generation)
        _paint(view.grid)
        first = time.perf_counter() - t
        await _until(pilot, lambda: not view.loading)
        return {"first_page_s": first, "index_ready_s": time.perf_counter() - t}

    return _tui(n, work, sort)


@case("tui_page")
def bench_tui_page(n: int, work: Path) -> dict[str, Any]:
    """Page down and jump to a random row, each to the repainted screen (median of 30)."""
    import random

    async def paging(app: Any, pilot: Any, view: Any) -> dict[str, Any]:
        grid = view.grid
        downs, jumps = [], []
        rng = random.Random(3)
        for _ in range(30):
            t = time.perf_counter()
            grid.action_page_down()
            _paint(grid)
            downs.append(time.perf_counter() - t)
            await pilot.pause()
        for _ in range(30):
            t = time.perf_counter()
            grid.move_to(row=rng.randrange(n))
            _paint(grid)
            jumps.append(time.perf_counter() - t)
            await pilot.pause()
        return {
            "page_down_ms": statistics.median(downs) * 1000,
            "jump_ms": statistics.median(jumps) * 1000,
            "jump_max_ms": max(jumps) * 1000,
        }

    return _tui(n, work, paging)


@case("tui_filter")
def bench_tui_filter(n: int, work: Path) -> dict[str, Any]:
    """A "contains" filter on a string column to its first painted page."""
    from engine.query import Condition

    async def filtering(app: Any, pilot: Any, view: Any) -> dict[str, Any]:
        t = time.perf_counter()
        view.add_condition(Condition("variety_name", "contains", "krim"))
        await _until(pilot, lambda: view.preview_generation == view.generation)
        _paint(view.grid)
        first = time.perf_counter() - t
        await _until(pilot, lambda: not view.loading)
        return {"first_page_s": first, "index_ready_s": time.perf_counter() - t, "matched": view.matched}

    return _tui(n, work, filtering)


@case("tui_edit")
def bench_tui_edit(n: int, work: Path) -> dict[str, Any]:
    """Commit a cell edit (check, sign, append, project, undo bookkeeping) to the repainted cell; median of 30."""

    async def editing(app: Any, pilot: Any, view: Any) -> dict[str, Any]:
        grid = view.grid
        grid.move_to(row=n // 2, col=2)
        times = []
        for i in range(30):
            row = grid.current_row
            t = time.perf_counter()
            assert view.commit(row[0], "germination_days", str(i % 20), row[3])
            _paint(grid)
            times.append(time.perf_counter() - t)
            await pilot.pause()
        return {"median_ms": statistics.median(times) * 1000, "p90_ms": sorted(times)[26] * 1000}

    return _tui(n, work, editing)


def _bundle_round_trip(n: int, work: Path, use_snapshot: bool) -> dict[str, Any]:
    """Export the `import` case's dataset to a bundle, import it into a fresh store, compare state hashes."""
    import shutil

    from engine import state_hash
    from engine.store import Store
    from sync import bundle

    kind = "snapshot" if use_snapshot else "events"
    path = work / f"bundle-{kind}-{n}.kobold"
    with _store(n, work) as s:
        ds = _dataset(s)
        sent = state_hash.state_hash(s, ds)
        t = time.perf_counter()
        bundle.export_bundle(s, ds, path, use_snapshot=use_snapshot)
        export_s = time.perf_counter() - t
    target = work / f"store-{n}-from-{kind}"
    shutil.rmtree(target, ignore_errors=True)
    with Store.open(target) as r:
        t = time.perf_counter()
        result = bundle.import_bundle(r, path)
        import_s = time.perf_counter() - t
    assert result.state_hash == sent and not result.report.rejected, result.to_dict()
    return {"seconds": import_s, "export_s": export_s, "bundle_mb": round(path.stat().st_size / 2**20, 1),
            "events": result.events, "history": result.history}  # fmt: skip


@case("bundle")
def bench_bundle(n: int, work: Path) -> dict[str, Any]:
    """Export the whole event stream as a bundle, then import it with full verification (`seconds`)."""
    return _bundle_round_trip(n, work, use_snapshot=False)


@case("bundle_snapshot")
def bench_bundle_snapshot(n: int, work: Path) -> dict[str, Any]:
    """Sign a snapshot into a bundle, then bootstrap a fresh store from it (`seconds`)."""
    return _bundle_round_trip(n, work, use_snapshot=True)


@case("computed")
def bench_computed(n: int, work: Path) -> dict[str, Any]:
    """Add a numeric and a template computed field to the imported resource: materializes both over all rows
    (fetch, QuickJS, write back); then one edit recomputes one record."""
    import shutil

    from engine import datasets, query, records

    source = work / f"store-{n}"
    target = work / f"store-{n}-computed"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    from engine.store import Store

    with Store.open(target) as s:
        ds = _dataset(s)
        numeric = {**SEED_VARIETY_SCHEMA, "computed_fields": {
            "weeks": {"type": "decimal", "formula": "export function compute(record) { return record.days_to_maturity / 7 }"}}}  # fmt: skip
        t = time.perf_counter()
        datasets.apply_schema(s, ds, [numeric])
        numeric_s = time.perf_counter() - t
        template = {**SEED_VARIETY_SCHEMA, "computed_fields": {
            **numeric["computed_fields"], "display_name": {"formula": "${record.species} · ${record.variety_name}"}}}  # fmt: skip
        t = time.perf_counter()
        datasets.apply_schema(s, ds, [template])
        both_s = time.perf_counter() - t
        rid = query.page(s, ds, query.Query("SeedVariety"), n // 2, 1).rows[0][0]
        t = time.perf_counter()
        records.update_record(s, ds, "SeedVariety", rid, {"days_to_maturity": 70})
        edit_ms = (time.perf_counter() - t) * 1000
    shutil.rmtree(target, ignore_errors=True)
    return {
        "seconds": numeric_s,
        "numeric_field_s": numeric_s,
        "numeric_and_template_s": both_s,
        "edit_ms": edit_ms,
    }


@case("merge")
def bench_merge(n: int, work: Path) -> dict[str, Any]:
    """A fork's proposal touching 10k records of an n-record dataset (100 of them also changed upstream):
    `proposals show` (three-way review), the review screen opening, and accepting it (fork's side wins)."""
    import asyncio
    import shutil

    from engine import csv_import, datasets, forks, merge, proposals, writes

    touched = min(n, 10_000)
    csv = work / f"seed_{n}.csv"
    if not csv.exists():
        write_seed_csv(csv, n)
    home = work / f"merge-{n}"
    shutil.rmtree(home, ignore_errors=True)
    from engine.store import Store

    with Store.open(home) as s:
        ds = datasets.create_dataset(s, "Seeds", visibility="public")
        datasets.apply_schema(s, ds, [SEED_VARIETY_SCHEMA])
        csv_import.import_csv(s, ds, "SeedVariety", csv)
        key = next(
            f["key"] for f in datasets.resource(s, ds, "SeedVariety").fields if f["name"] == "variety_name"
        )
        ids = [r[0] for r in s.con.execute(
            f"SELECT _id FROM \"p_{ds}_SeedVariety\" ORDER BY _id LIMIT {touched}").fetchall()]  # fmt: skip
        fork = forks.fork_dataset(s, ds, "Seeds fork")
        writes.write_ops(s, fork, [{"o": "update", "r": "SeedVariety", "id": i, "f": {key: f"fork {i[-6:]}"}}
                                   for i in ids])  # fmt: skip
        writes.write_ops(s, ds, [{"o": "update", "r": "SeedVariety", "id": i, "f": {key: f"up {i[-6:]}"}}
                                 for i in ids[:100]])  # fmt: skip
        p = proposals.create(s, fork, "Bench")
        t = time.perf_counter()
        review = merge.review_proposal(s, p.id)
        review.to_dict()
        show = time.perf_counter() - t

        async def open_screen() -> tuple[float, float, float]:
            from kobold_tui.app import KoboldApp
            from kobold_tui.screens.merge_review import MergeReviewScreen

            app = KoboldApp(s, save_theme=False)
            async with app.run_test(size=(120, 40)) as pilot:
                await app.workers.wait_for_complete()
                t = time.perf_counter()
                screen = MergeReviewScreen(s, proposal_id=p.id)
                await app.push_screen(screen)
                await _until(pilot, lambda: screen.loaded)  # review computed, first rows in the table
                loaded = time.perf_counter() - t
                await pilot.pause()  # painted, and the event loop is free for keys again
                painted = time.perf_counter() - t
                t = time.perf_counter()
                await pilot.press("pagedown", "pagedown", "pagedown", "pagedown", "pagedown", "pagedown")
                await pilot.pause()  # past the first page of rows: the table takes the next ones
                return loaded, painted, time.perf_counter() - t

        loaded_s, screen_s, paging_s = asyncio.run(open_screen())
        t = time.perf_counter()
        result = merge.accept(s, p.id, merge.Choices(prefer="fork"))
        accept = time.perf_counter() - t
    return {"records_touched": len(review.records), "conflicts": review.counts()["conflict"],
            "proposals_show_s": show, "review_screen_open_s": screen_s, "review_loaded_s": loaded_s,
            "review_six_pages_down_s": paging_s,
            "accept_s": accept,
            "decision_events": len(result["events"])}  # fmt: skip


# Registered last: they build on the cases above.
import bench.sync_cases  # noqa: E402,F401
