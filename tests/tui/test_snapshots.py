"""How the screens look, at a fixed terminal size. Baselines in __snapshots__; look at the report before
updating them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from engine import demo
from engine.store import Store
from kobold_tui.app import KoboldApp
from kobold_tui.screens.home import HomeScreen
from tests.tui.conftest import grid_ready, open_dataset, wait_until

SIZE = (100, 30)


async def _home_loaded(app: KoboldApp, pilot: Pilot[None]) -> None:
    await wait_until(app, pilot, lambda: isinstance(app.screen, HomeScreen) and app.screen.loaded, "the home")


def test_home_on_an_empty_store_offers_the_demo(snap_compare: Any, tmp_path: Path) -> None:
    with Store.open(tmp_path / "home") as store:
        app = KoboldApp(store, save_theme=False)
        assert snap_compare(app, terminal_size=SIZE, run_before=lambda pilot: _home_loaded(app, pilot))


def test_home_lists_the_demo_dataset(snap_compare: Any, tmp_path: Path) -> None:
    with Store.open(tmp_path / "home") as store:
        demo.create_demo(store)
        app = KoboldApp(store, save_theme=False)
        assert snap_compare(app, terminal_size=SIZE, run_before=lambda pilot: _home_loaded(app, pilot))


def test_dataset_grid_with_cursor_sort_and_selection(snap_compare: Any, tmp_path: Path) -> None:
    with Store.open(tmp_path / "home") as store:
        ds = demo.create_demo(store)
        app = KoboldApp(store, save_theme=False)

        async def open_grid(pilot: Pilot[None]) -> None:
            view = await open_dataset(app, pilot, ds)
            await pilot.press("l", "left_square_bracket", "j", "space")
            await wait_until(
                app, pilot, lambda: grid_ready(view) and view.view_query.sort != (), "the sorted grid"
            )

        assert snap_compare(app, terminal_size=SIZE, run_before=open_grid)


def test_help_lists_commands_with_keys(snap_compare: Any, tmp_path: Path) -> None:
    with Store.open(tmp_path / "home") as store:
        app = KoboldApp(store, save_theme=False)

        async def open_help(pilot: Pilot[None]) -> None:
            await _home_loaded(app, pilot)
            await pilot.press("question_mark")
            await wait_until(app, pilot, lambda: not isinstance(app.screen, HomeScreen), "the help screen")

        assert snap_compare(app, terminal_size=SIZE, run_before=open_help)
