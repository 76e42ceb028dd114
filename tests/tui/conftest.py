"""TUI fixtures: a real store in tmp_path (with the demo dataset when asked), a frozen Input cursor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
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
    return view
