"""A million records: the grid opens, jumps to the bottom and sorts, holding only a few pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.seed_data import SEED_VARIETY_SCHEMA, write_seed_csv
from engine import csv_import, datasets
from engine.store import Store
from kobold_tui.app import KoboldApp
from tests.tui.conftest import open_dataset, settle

ROWS = 1_000_000


@pytest.mark.slow
async def test_a_million_rows_scroll_jump_and_sort_with_a_few_pages_in_memory(tmp_path: Path) -> None:
    with Store.open(tmp_path / "home") as store:
        ds = datasets.create_dataset(store, "Seeds")
        datasets.apply_schema(store, ds, [SEED_VARIETY_SCHEMA])
        csv_import.import_csv(store, ds, "SeedVariety", write_seed_csv(tmp_path / "seed.csv", ROWS))
        app = KoboldApp(store, save_theme=False)
        async with app.run_test(size=(120, 40)) as pilot:
            view = await open_dataset(app, pilot, ds)
            grid = view.grid
            assert grid.row_count == ROWS
            await pilot.press("G")
            await pilot.pause()
            assert grid.cursor_row == ROWS - 1 and grid.current_row is not None
            await pilot.press("pageup", "pageup")
            await pilot.press("l", "left_square_bracket")
            await settle(app, pilot)
            names = [view.cache.row(i)[0][2] for i in range(ROWS - 50, ROWS)]  # type: ignore[index]
            assert names == sorted(names)
            await pilot.press("g")
            await pilot.pause()
            first = view.cache.row(0)[0][2]  # type: ignore[index]
            assert first <= names[0]
            assert view.cache.cached_rows <= 400
            assert grid.selected == set()
