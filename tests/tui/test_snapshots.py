"""How the screens look, at a fixed terminal size. Baselines in __snapshots__; look at the report before
updating them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from engine import demo
from engine.store import Store
from kobold_tui.app import KoboldApp
from kobold_tui.screens.dataset import DatasetScreen
from tests.tui.conftest import settle

SIZE = (100, 30)


def test_home_on_an_empty_store_offers_the_demo(snap_compare: Any, tmp_path: Path) -> None:
    with Store.open(tmp_path / "home") as store:
        app = KoboldApp(store, save_theme=False)
        assert snap_compare(app, terminal_size=SIZE, run_before=lambda pilot: settle(app, pilot))


def test_home_lists_the_demo_dataset(snap_compare: Any, tmp_path: Path) -> None:
    with Store.open(tmp_path / "home") as store:
        demo.create_demo(store)
        app = KoboldApp(store, save_theme=False)
        assert snap_compare(app, terminal_size=SIZE, run_before=lambda pilot: settle(app, pilot))


def test_dataset_grid_with_cursor_sort_and_selection(snap_compare: Any, tmp_path: Path) -> None:
    with Store.open(tmp_path / "home") as store:
        ds = demo.create_demo(store)
        app = KoboldApp(store, save_theme=False)

        async def open_grid(pilot: Pilot[None]) -> None:
            await settle(app, pilot)
            await app.push_screen(DatasetScreen(store, ds, "SeedVariety"))
            await settle(app, pilot)
            await pilot.press("l", "left_square_bracket", "j", "space")
            await settle(app, pilot)

        assert snap_compare(app, terminal_size=SIZE, run_before=open_grid)


def test_help_lists_commands_with_keys(snap_compare: Any, tmp_path: Path) -> None:
    with Store.open(tmp_path / "home") as store:
        app = KoboldApp(store, save_theme=False)
        assert snap_compare(app, press=["question_mark"], terminal_size=SIZE)
