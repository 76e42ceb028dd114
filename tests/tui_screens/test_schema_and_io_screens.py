"""Schema editor, import and export screens, driven by keys and checked against the store."""

from __future__ import annotations

import json
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, Select, Static, Tree

from engine import datasets, query, records
from engine.store import Store
from kobold_tui.screens.field_spec import FieldSpecScreen
from kobold_tui.screens.import_export import ExportScreen, ImportScreen
from kobold_tui.screens.schema_editor import SchemaEditorScreen
from tests.tui_screens.conftest import ScreenHost, settle


def _fields(store: Store, ds: str, resource: str) -> dict[str, str]:
    return {f["name"]: f["type"] for f in datasets.resource(store, ds, resource).fields}


def _events(store: Store, ds: str) -> int:
    row = store.con.execute("SELECT count(*) FROM events WHERE dataset_id = ?", [ds]).fetchone()
    return int(row[0]) if row else 0


async def _select(pilot: Pilot[None], app: ScreenHost, data: tuple[str, ...]) -> None:
    tree: Tree[tuple[str, ...]] = app.screen.query_one("#schema-tree", Tree)
    node = next(n for n in _walk(tree.root) if n.data == data)
    tree.move_cursor(node)
    await pilot.pause()


def _walk(node):  # type: ignore[no-untyped-def]
    for child in node.children:
        yield child
        yield from _walk(child)


async def _open_editor(store: Store, ds: str, pilot_size: tuple[int, int] = (100, 30)) -> ScreenHost:
    return ScreenHost(lambda: SchemaEditorScreen(store, ds))


async def test_schema_editor_adds_a_choice_field(store: Store, demo_ds: str) -> None:
    app = ScreenHost(lambda: SchemaEditorScreen(store, demo_ds))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _select(pilot, app, ("resource", "Supplier"))
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FieldSpecScreen)
        form.query_one("#spec-name", Input).value = "status"
        form.query_one("#spec-type", Select).value = "choice"
        await pilot.pause()
        form.query_one("#spec-choices", Input).value = "active, paused"
        form.query_one("#spec-description", Input).value = "Whether they offer seed now."
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "Added Supplier.status" in str(app.screen.query_one("#schema-message", Static).content)
    field = datasets.resource(store, demo_ds, "Supplier").field("status")
    assert field["type"] == "choice" and field["choices"] == ["active", "paused"]
    assert field["description"] == "Whether they offer seed now."


async def test_schema_editor_renames_a_field_keeping_its_values(store: Store, demo_ds: str) -> None:
    app = ScreenHost(lambda: SchemaEditorScreen(store, demo_ds))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _select(pilot, app, ("field", "Supplier", "town"))
        await pilot.press("r")
        await pilot.pause()
        box = app.screen.query_one("#prompt-input", Input)
        box.value = "village"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.query_one("#schema-tree", Tree).cursor_node.data == ("field", "Supplier", "village")  # type: ignore[union-attr]
    fields = _fields(store, demo_ds, "Supplier")
    assert "village" in fields and "town" not in fields
    page = query.page(
        store, demo_ds, query.Query("Supplier", (query.Condition("village", "=", "Riverside"),))
    )
    assert page.matched == 2


async def test_schema_editor_refuses_a_breaking_retype_and_names_the_records(
    store: Store, demo_ds: str
) -> None:
    before = _events(store, demo_ds)
    app = ScreenHost(lambda: SchemaEditorScreen(store, demo_ds))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _select(pilot, app, ("field", "SeedVariety", "price"))
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#spec-type", Select).value = "integer"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        shown = str(app.screen.query_one("#schema-message", Static).content)
    assert "Cannot change SeedVariety.price from decimal to integer" in shown
    assert "30 record(s) would not convert" in shown
    assert _fields(store, demo_ds, "SeedVariety")["price"] == "decimal"
    assert _events(store, demo_ds) == before


async def test_schema_editor_removes_a_field_after_confirmation(store: Store, demo_ds: str) -> None:
    app = ScreenHost(lambda: SchemaEditorScreen(store, demo_ds))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _select(pilot, app, ("field", "Supplier", "contact"))
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("escape")  # cancelled: nothing happens
        await settle(app, pilot)
        assert "contact" in _fields(store, demo_ds, "Supplier")
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
    assert "contact" not in _fields(store, demo_ds, "Supplier")


async def test_schema_editor_shows_a_formula_and_try_degrades_without_a_runtime(
    store: Store, demo_ds: str
) -> None:
    app = ScreenHost(lambda: SchemaEditorScreen(store, demo_ds))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _select(pilot, app, ("computed", "SeedVariety", "display_name"))
        formula = app.screen.query_one("#formula")
        assert formula.display and "${record.species}" in formula.text  # type: ignore[attr-defined]
        await pilot.press("t")
        await settle(app, pilot)
        assert str(app.screen.query_one("#try-output", Static).content)


async def test_import_maps_and_skips_columns(store: Store, demo_ds: str, tmp_path: Path) -> None:
    csv_file = tmp_path / "growers.csv"
    csv_file.write_text("Grower,Place,Ignored\nHill Farm,Upton,x\nValley Seeds,Downton,y\n")
    before = query.count(store, demo_ds, query.Query("Supplier"))
    app = ScreenHost(lambda: ImportScreen(store, demo_ds, "Supplier"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#import-path", Input).value = str(csv_file)
        app.screen.query_one("#import-path", Input).focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert "Hill Farm" in str(app.screen.query_one("#import-preview", Static).content.columns[0]._cells)  # type: ignore[union-attr]
        app.screen.query_one("#map-0", Select).value = "name"
        app.screen.query_one("#map-1", Select).value = "town"
        assert app.screen.query_one("#map-2", Select).value == "(skip)"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    assert app.results == ["Imported 2 Supplier record(s)."]
    assert query.count(store, demo_ds, query.Query("Supplier")) == before + 2
    page = query.page(
        store, demo_ds, query.Query("Supplier", (query.Condition("name", "=", "Valley Seeds"),))
    )
    assert page.as_dicts()[0]["town"] == "Downton"


async def test_import_of_a_bad_file_explains_and_writes_nothing(
    store: Store, demo_ds: str, tmp_path: Path
) -> None:
    csv_file = tmp_path / "varieties.csv"
    csv_file.write_text("species,variety_name,germination_days\nAllium cepa,Stuttgarter,ten\n")
    before = _events(store, demo_ds)
    app = ScreenHost(lambda: ImportScreen(store, demo_ds, "SeedVariety"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        box = app.screen.query_one("#import-path", Input)
        box.value = str(tmp_path / "missing.csv")
        box.focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert "No file" in str(app.screen.query_one("#import-message", Static).content)
        box.value = str(csv_file)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ImportScreen)
        shown = str(app.screen.query_one("#import-message", Static).content)
    assert "varieties.csv" in shown and "germination_days" in shown
    assert _events(store, demo_ds) == before


async def test_export_writes_the_file(store: Store, demo_ds: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    app = ScreenHost(lambda: ExportScreen(store, demo_ds, "Supplier"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#export-format", Select).value = "json"
        await pilot.pause()
        app.screen.query_one("#export-path", Input).value = str(out / "suppliers.json")
        await pilot.press("enter")
        await settle(app, pilot)
    assert app.results and "Exported 6 Supplier record(s)" in app.results[0]
    data = json.loads((out / "suppliers.json").read_text())
    assert {d["name"] for d in data} >= {"Riverside Seed Library", "Old Mill Heirlooms"}
    assert records  # engine module imported for the store's sake
