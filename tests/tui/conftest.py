"""TUI fixtures: a real store in tmp_path (with the demo dataset when asked), a frozen Input cursor."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input

from engine import demo
from engine.store import Store
from kobold_tui.app import KoboldApp
from kobold_tui.screens.dataset import DatasetScreen
from kobold_tui.widgets.table_view import TableView


@pytest.fixture(autouse=True)
def _steady_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)


@pytest.fixture
def demo_store(tmp_path: Path) -> Iterator[tuple[Store, str]]:
    with Store.open(tmp_path / "home") as s:
        yield s, demo.create_demo(s)


async def settle(app: KoboldApp, pilot: Pilot[None]) -> None:
    """Let workers finish and their messages land."""
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def wait_until(app: App[Any], pilot: Pilot[Any], condition: Callable[[], bool], what: str) -> None:
    """Let workers finish and messages land until `condition()` holds: wait for the actual state a test or
    snapshot needs, not a number of rounds (a loaded machine delivers worker results late)."""
    deadline = time.monotonic() + 30
    while True:
        await app.workers.wait_for_complete()
        await pilot.pause()
        if condition():
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await pilot.pause(0.01)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def grid_ready(view: TableView) -> bool:
    """The view is built and every row on screen is read (no placeholders left to fill in)."""
    if view.loading or view.cache.index is None:
        return False
    grid = view.grid
    top = grid.scroll_offset.y
    bottom = min(grid.row_count, top + grid.page_height)
    return all(view.cache.row(pos) is not None for pos in range(top, bottom))


async def open_dataset(
    app: KoboldApp, pilot: Pilot[None], dataset_id: str, resource: str = "SeedVariety"
) -> TableView:
    await settle(app, pilot)
    await app.push_screen(DatasetScreen(app.store, dataset_id, resource))
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, DatasetScreen)
    view = screen.active_view
    assert view is not None
    await wait_until(app, pilot, lambda: grid_ready(view), "the grid to fill")
    return view
