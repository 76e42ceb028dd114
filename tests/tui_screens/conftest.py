"""Fixtures for screen tests: a real store with the demo dataset, a tiny host app, deterministic snapshots."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from textual.app import App
from textual.screen import Screen
from textual.widgets import Input

from engine import datasets, demo, records, writes
from engine.identity import import_key
from engine.records import Change
from engine.store import Store

FIXED_KEY = "1" * 64
FIXED_TIME = 1790000000


class ScreenHost(App[None]):
    """Pushes one screen on mount and keeps whatever it dismisses with."""

    def __init__(self, make_screen: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self.make_screen = make_screen
        self.results: list[Any] = []

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        self.push_screen(self.make_screen(), self.results.append)


@pytest.fixture(autouse=True)
def _steady_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "home") as s:
        yield s


@pytest.fixture
def demo_ds(store: Store) -> str:
    return demo.create_demo(store)


@pytest.fixture
def fixed_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A store whose identity, clock, dataset id and record ids are the same on every run."""
    home = tmp_path / "fixed-home"
    import_key(home, FIXED_KEY)
    monkeypatch.setattr(writes, "os", SimpleNamespace(urandom=lambda n: b"\x07" * n))
    with Store.open(home) as s:
        s.now = lambda: FIXED_TIME
        yield s


SUPPLIER_A = "0" * 31 + "a"
SUPPLIER_B = "0" * 31 + "b"
VARIETY_1 = "0" * 31 + "1"
VARIETY_2 = "0" * 31 + "2"


@pytest.fixture
def fixed_ds(fixed_store: Store) -> str:
    """The demo schema with two suppliers and two varieties under fixed ids."""
    s = fixed_store
    ds = datasets.create_dataset(s, demo.DEMO_NAME, demo.DEMO_TYPE, "public")
    datasets.apply_schema(s, ds, demo.SCHEMA)
    records.apply_changes(
        s, ds,
        [
            Change("create", "Supplier", SUPPLIER_A, {"name": "Riverside Seed Library", "kind": "seed library",
                                                      "town": "Riverside"}),
            Change("create", "Supplier", SUPPLIER_B, {"name": "Anna Kowalska", "town": "Hillcrest"}),
            Change("create", "SeedVariety", VARIETY_1, {
                "species": "Solanum lycopersicum", "variety_name": "Black Krim", "germination_days": 8,
                "price": "2.50", "last_harvest": "2026-09-12", "suppliers": [SUPPLIER_A, SUPPLIER_B]}),
            Change("create", "SeedVariety", VARIETY_2, {
                "species": "Capsicum annuum", "variety_name": "Padrón", "suppliers": [SUPPLIER_B]}),
        ],
    )  # fmt: skip
    records.update_record(s, ds, "SeedVariety", VARIETY_1, {"germination_days": 9, "notes": "Dark, smoky."})
    return ds


async def settle(app: App[Any], pilot: Any) -> None:
    """Wait until every worker is done and their messages are handled (a loaded screen sets its data)."""
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()
    screen = app.screen
    for _ in range(100):
        loaded = [getattr(screen, name, True) for name in ("detail", "definition", "definitions")]
        if all(v is not None and v != [] for v in loaded) and not app.workers:
            break
        await app.workers.wait_for_complete()
        await pilot.pause(0.01)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
