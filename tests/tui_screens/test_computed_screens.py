"""Computed values, formula errors and validation messages on the detail, form and schema editor screens."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Input, Static, TextArea, Tree

from engine import datasets, records
from engine.records import Change
from engine.store import Store
from kobold_tui import formula_preview
from kobold_tui.screens.record_detail import RecordDetailScreen
from kobold_tui.screens.record_form import RecordFormScreen
from kobold_tui.screens.schema_editor import SchemaEditorScreen
from tests.tui.test_computed_columns import ALPHA, BETA, CHECK, DELTA, GAMMA, PLANT
from tests.tui_screens.conftest import ScreenHost, settle
from tests.tui_screens.test_record_screens import _rendered


@pytest.fixture
def plants(store: Store) -> str:
    ds = datasets.create_dataset(store, "Garden")
    datasets.apply_schema(store, ds, [PLANT])
    records.apply_changes(
        store, ds,
        [
            Change("create", "Plant", ALPHA, {"name": "Alpha", "sown": 10, "sprouted": 9}),
            Change("create", "Plant", BETA, {"name": "Beta", "sown": 20, "sprouted": 5}),
            Change("create", "Plant", GAMMA, {"name": "Gamma"}),
            Change("create", "Plant", DELTA, {"name": "Delta", "sown": 2, "sprouted": 9}),
        ],
    )  # fmt: skip
    datasets.apply_schema(store, ds, [{**PLANT, "validations": CHECK}])
    return ds


@pytest.fixture
def runtime_calls(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Sources of the formulas evaluated through the store's own runtime."""
    calls: list[str] = []
    runtime = store.formulas
    evaluate = runtime.evaluate

    def spy(formula: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(formula.source)
        return evaluate(formula, *args, **kwargs)

    monkeypatch.setattr(runtime, "evaluate", spy)
    return calls


async def test_detail_shows_computed_values_and_the_validation_messages(store: Store, plants: str) -> None:
    app = ScreenHost(lambda: RecordDetailScreen(store, plants, "Plant", DELTA))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        computed = _rendered(app, "#computed")
        assert "Delta #2" in computed and "4.5" in computed
        validation = app.screen.query_one("#validation", Static)
        assert validation.has_class("-has-messages") and validation.display
        assert "✗ sprouted cannot exceed sown" in _rendered(app, "#validation")


async def test_detail_shows_a_formula_error_and_no_validation_area_when_valid(
    store: Store, plants: str
) -> None:
    app = ScreenHost(lambda: RecordDetailScreen(store, plants, "Plant", GAMMA))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        computed = _rendered(app, "#computed")
        assert "#ERR TypeError" in computed and "Gamma #" in computed
        assert not app.screen.query_one("#validation", Static).has_class("-has-messages")
        assert "Gamma #" in _rendered(app, "#title")  # titled by display_name


async def test_form_previews_computed_values_through_the_stores_runtime(
    store: Store, plants: str, runtime_calls: list[str]
) -> None:
    assert not hasattr(formula_preview, "_runtime")
    app = ScreenHost(lambda: RecordFormScreen(store, plants, "Plant", ALPHA))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        shown = _rendered(app, "#form-computed")
        assert "display_name = " in shown and "→ Alpha #10" in shown and "→ 0.9" in shown
        sown = app.screen.query_one("#field-sown Input", Input)
        sown.value = "100"
        await settle(app, pilot)
        shown = _rendered(app, "#form-computed")
        assert "→ Alpha #100" in shown and "→ 0.09" in shown
        sown.value = ""
        await settle(app, pilot)
        shown = _rendered(app, "#form-computed")
        assert "#ERR" in shown and "TypeError: cannot read property 'valueOf' of null" in shown
    assert PLANT["computed_fields"]["rate"]["formula"] in runtime_calls  # type: ignore[index]


async def test_schema_editor_tries_a_formula_on_the_first_records(
    store: Store, plants: str, runtime_calls: list[str]
) -> None:
    app = ScreenHost(lambda: SchemaEditorScreen(store, plants))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        tree: Tree[Any] = app.screen.query_one("#schema-tree", Tree)
        tree.move_cursor(
            next(n for n in tree.root.children[0].children if n.data == ("computed", "Plant", "rate"))
        )
        await pilot.pause()
        area = app.screen.query_one("#formula", TextArea)
        area.load_text("export function compute(record) { return record.sown * 2 }")
        await pilot.press("t")
        await settle(app, pilot)
        shown = _rendered(app, "#try-output")
        assert "Alpha #10 → 20" in shown and "Beta #20 → 40" in shown and "Gamma" in shown
        area.load_text("record.sown +")
        await pilot.press("t")
        await settle(app, pilot)
        assert "#ERR Syntax error" in _rendered(app, "#try-output")
    assert "export function compute(record) { return record.sown * 2 }" in runtime_calls
