"""How the detail, form and schema editor screens look, with fixed ids, key and clock."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Tree

from engine.store import Store
from kobold_tui import formula_preview, record_data
from kobold_tui.screens.record_detail import RecordDetailScreen
from kobold_tui.screens.record_form import RecordFormScreen
from kobold_tui.screens.schema_editor import SchemaEditorScreen
from tests.tui_screens.conftest import VARIETY_1, ScreenHost, settle

SIZE = (100, 30)


@pytest.fixture(autouse=True)
def _no_formula_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    # The formula runtime is built in parallel; these pictures show formula text only, whatever its state.
    monkeypatch.setattr(formula_preview, "_api", lambda: None)
    # Likewise computed columns: show them as "not computed yet" whether or not the engine materializes them.
    stored_only = {"display_name"}
    values, columns = record_data.record_values, record_data.table_columns
    monkeypatch.setattr(
        record_data, "record_values", lambda *a: {k: v for k, v in values(*a).items() if k not in stored_only}
    )
    monkeypatch.setattr(
        record_data, "table_columns", lambda *a: [c for c in columns(*a) if c not in stored_only]
    )


async def _settled(pilot: Pilot[Any]) -> None:
    await settle(pilot.app, pilot)


def test_record_detail_looks_right(snap_compare: Any, fixed_store: Store, fixed_ds: str) -> None:
    app = ScreenHost(lambda: RecordDetailScreen(fixed_store, fixed_ds, "SeedVariety", VARIETY_1))
    assert snap_compare(app, terminal_size=SIZE, run_before=_settled)


def test_record_form_looks_right(snap_compare: Any, fixed_store: Store, fixed_ds: str) -> None:
    app = ScreenHost(lambda: RecordFormScreen(fixed_store, fixed_ds, "SeedVariety", VARIETY_1))
    assert snap_compare(app, terminal_size=SIZE, run_before=_settled)


def test_schema_editor_looks_right(snap_compare: Any, fixed_store: Store, fixed_ds: str) -> None:
    async def on_formula(pilot: Pilot[Any]) -> None:
        await settle(pilot.app, pilot)
        tree: Tree[Any] = pilot.app.screen.query_one("#schema-tree", Tree)
        tree.move_cursor(next(n for n in tree.root.children[0].children if n.data[0] == "computed"))
        await pilot.press("t")
        await settle(pilot.app, pilot)

    app = ScreenHost(lambda: SchemaEditorScreen(fixed_store, fixed_ds))
    assert snap_compare(app, terminal_size=SIZE, run_before=on_formula)
