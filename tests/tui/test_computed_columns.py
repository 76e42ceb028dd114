"""Computed fields and validations in the grid: read-only columns, #ERR cells, flagged rows, sort and filter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine import datasets, query, records
from engine.query import Query
from engine.records import Change
from engine.store import Store
from kobold_tui.app import KoboldApp
from kobold_tui.widgets.grid import INVALID_MARK
from kobold_tui.widgets.status_bar import StatusBar
from kobold_tui.widgets.table_view import TableView
from tests.tui.conftest import open_dataset, settle

PLANT = {
    "resource": "Plant",
    "fields": {"name": {"type": "string", "required": True}, "sown": "integer", "sprouted": "integer"},
    "computed_fields": {
        "display_name": {"formula": "${record.name} #${record.sown}"},
        # Fails (TypeError) when `sown` is empty.
        "rate": {
            "type": "decimal",
            "formula": "export function compute(record) { return record.sprouted / record.sown.valueOf() }",
        },
    },
}
CHECK = {"not_more": {"formula": 'record.sprouted <= record.sown || "sprouted cannot exceed sown"'}}
ALPHA, BETA, GAMMA, DELTA = ("0" * 31 + c for c in "1234")


@pytest.fixture
def plants(tmp_path: Path) -> Any:
    with Store.open(tmp_path / "home") as store:
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
        # The check arrives after Delta exists: Delta is kept and flagged.
        datasets.apply_schema(store, ds, [{**PLANT, "validations": CHECK}])
        yield store, ds


def line(view: TableView, y: int) -> str:
    return view.grid.render_line(y).text


def col(view: TableView, name: str) -> int:
    return [c.name for c in view.grid.columns].index(name)


async def test_computed_columns_follow_the_stored_ones_with_values_and_errors(plants: Any) -> None:
    store, ds = plants
    app = KoboldApp(store, save_theme=False)
    async with app.run_test(size=(140, 20)) as pilot:
        view = await open_dataset(app, pilot, ds, "Plant")
        columns = [(c.name, c.computed) for c in view.grid.columns]
        assert columns == [
            ("name", False), ("sown", False), ("sprouted", False), ("display_name", True), ("rate", True)
        ]  # fmt: skip
        header = line(view, 0)
        assert "ƒ display_name" in header and "ƒ rate" in header
        assert "Alpha #10" in line(view, 1) and "0.9" in line(view, 1)
        gamma = view.grid.render_line(3)
        assert "Gamma" in gamma.text
        error_cell = next(s for s in gamma if s.text.startswith("#ERR"))
        assert error_cell.text.startswith("#ERR TypeEr")  # cut to the column's width
        assert error_cell.style is not None
        assert error_cell.style.color == view.grid.get_component_rich_style("datagrid--error").color
        # On the cell, the status line has the whole message.
        view.grid.move_to(row=2, col=col(view, "rate"))
        await pilot.pause()
        message = records.derived(store, ds, "Plant", GAMMA)["errors"]["rate"]
        assert message.startswith("#ERR TypeError")
        assert f"! rate: {message}" in app.screen.query_one(StatusBar).plain


async def test_an_invalid_record_is_marked_and_its_message_shown_on_the_cursor(plants: Any) -> None:
    store, ds = plants
    app = KoboldApp(store, save_theme=False)
    async with app.run_test(size=(140, 20)) as pilot:
        view = await open_dataset(app, pilot, ds, "Plant")
        gutter = view.grid.gutter_width
        assert [line(view, y)[gutter - 1] for y in range(1, 5)] == [" ", " ", " ", INVALID_MARK]
        status = app.screen.query_one(StatusBar)
        assert "cannot exceed" not in status.plain
        await pilot.press("G")
        await pilot.pause()
        assert view.current_record_id == DELTA
        assert "! sprouted cannot exceed sown" in status.plain
        await pilot.press("k")
        await pilot.pause()
        assert "cannot exceed" not in status.plain


async def test_editing_a_computed_cell_is_refused_with_a_notice(plants: Any) -> None:
    store, ds = plants
    app = KoboldApp(store, save_theme=False)
    async with app.run_test(size=(140, 20)) as pilot:
        view = await open_dataset(app, pilot, ds, "Plant")
        events = store.con.execute("SELECT count(*) FROM events").fetchone()[0]
        view.grid.move_to(col=col(view, "display_name"))
        await pilot.press("e")
        await pilot.pause()
        assert not view.edit_bar.editing
        assert any(n.message == "display_name is computed by a formula" for n in app._notifications)
        # Tab from the last stored column goes on to the next row's first column, past the computed ones.
        view.grid.move_to(row=0, col=col(view, "sprouted"))
        await pilot.press("e", "tab")
        await settle(app, pilot)
        assert (view.grid.cursor_row, view.grid.cursor_col) == (1, 0) and view.edit_bar.editing
        await pilot.press("escape")
        assert records.derived(store, ds, "Plant", ALPHA)["computed"]["display_name"] == "Alpha #10"
        assert store.con.execute("SELECT count(*) FROM events").fetchone()[0] == events


async def test_sort_and_filter_by_a_computed_column(plants: Any) -> None:
    store, ds = plants
    app = KoboldApp(store, save_theme=False)
    async with app.run_test(size=(140, 20)) as pilot:
        view = await open_dataset(app, pilot, ds, "Plant")
        view.grid.move_to(col=col(view, "rate"))
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        shown = [view.cache.row(i)[0][0] for i in range(view.grid.row_count)]  # type: ignore[index]
        expected = [r[0] for r in query.page(store, ds, Query("Plant", sort=(("rate", True),))).rows]
        assert shown == expected
        assert shown[:2] == [DELTA, ALPHA] and shown[-1] == GAMMA  # 4.5, 0.9, 0.25, then the error
        assert "rate ↓" in line(view, 0)
        view.grid.move_to(col=col(view, "display_name"))
        await pilot.press("f", *"Bet", "enter")
        await settle(app, pilot)
        assert view.grid.row_count == 1
        assert view.cache.row(0)[0][0] == BETA  # type: ignore[index]


async def test_an_edit_recomputes_the_row_and_reorders_a_computed_sort(plants: Any) -> None:
    store, ds = plants
    app = KoboldApp(store, save_theme=False)
    async with app.run_test(size=(140, 20)) as pilot:
        view = await open_dataset(app, pilot, ds, "Plant")
        view.set_sort("rate")
        await settle(app, pilot)
        view.grid.move_to(row=view.grid.row_count - 1, col=col(view, "sown"))
        assert view.current_record_id == GAMMA  # its formula fails: sorted last
        await pilot.press("e", "1", "enter")
        await settle(app, pilot)
        assert records.derived(store, ds, "Plant", GAMMA) == {
            "computed": {"display_name": "Gamma #1", "rate": 0.0}, "errors": {}, "invalid": None
        }  # fmt: skip
        shown = [view.cache.row(i)[0][0] for i in range(view.grid.row_count)]  # type: ignore[index]
        expected = [r[0] for r in query.page(store, ds, Query("Plant", sort=(("rate", False),))).rows]
        assert shown == expected and shown[0] == GAMMA
        assert view.current_record_id == GAMMA
