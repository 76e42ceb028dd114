"""Record detail and record form, driven by keys and checked against the store."""

from __future__ import annotations

import os

from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Select, Static

from engine import query, records
from engine.store import Store
from kobold_tui.screens.record_detail import RecordDetailScreen
from kobold_tui.screens.record_form import RecordFormScreen
from tests.tui_screens.conftest import SUPPLIER_A, SUPPLIER_B, VARIETY_1, ScreenHost, settle


def _count(store: Store, ds: str, resource: str) -> int:
    return query.count(store, ds, query.Query(resource))


def _rendered(app: ScreenHost, selector: str) -> str:
    """A Static's content as plain text, whatever renderable it holds."""
    from rich.console import Console

    console = Console(width=100, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(app.screen.query_one(selector, Static).content)
    return console.export_text()


async def _type_into(pilot: Pilot[None], app: ScreenHost, field_key: str, text: str) -> None:
    """Type short text key by key; longer text is pasted in one go (as fast typing would be)."""
    box = app.screen.query_one(f"#field-{field_key} Input", Input)
    box.focus()
    if len(text) <= 4:
        await pilot.press(*text)
    else:
        box.insert_text_at_cursor(text)
        await pilot.pause()


async def test_form_refuses_a_missing_required_value_then_creates_the_record(
    store: Store, demo_ds: str
) -> None:
    before = _count(store, demo_ds, "Supplier")
    app = ScreenHost(lambda: RecordFormScreen(store, demo_ds, "Supplier"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _type_into(pilot, app, "town", "Ashford")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, RecordFormScreen)
        assert "Supplier.name is required" in _rendered(app, "#form-error")
        assert _count(store, demo_ds, "Supplier") == before

        await _type_into(pilot, app, "name", "Ashford Seed Swap")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    assert app.results and app.results[-1]
    created = records.get_record(store, demo_ds, "Supplier", app.results[-1])
    assert created["name"] == "Ashford Seed Swap"
    assert created["town"] == "Ashford"
    assert created["kind"] == "member"  # the field's default
    assert _count(store, demo_ds, "Supplier") == before + 1


async def test_form_shows_a_type_problem_while_typing_and_the_engine_refuses_it(
    store: Store, demo_ds: str
) -> None:
    before = _count(store, demo_ds, "SeedVariety")
    app = ScreenHost(lambda: RecordFormScreen(store, demo_ds, "SeedVariety"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _type_into(pilot, app, "species", "Allium sativum")
        await _type_into(pilot, app, "variety_name", "Music")
        await _type_into(pilot, app, "germination_days", "ten")
        assert "expected a whole number" in _rendered(app, "#field-germination_days .field-problem")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "does not fit" in _rendered(app, "#form-error")
        assert _count(store, demo_ds, "SeedVariety") == before


async def test_form_edits_only_the_changed_fields(fixed_store: Store, fixed_ds: str) -> None:
    app = ScreenHost(lambda: RecordFormScreen(fixed_store, fixed_ds, "SeedVariety", VARIETY_1))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        price = app.screen.query_one("#field-price Input", Input)
        assert price.value == "2.50"
        price.value = "3.25"
        app.screen.query_one("#field-open_pollinated Switch").toggle()  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    assert app.results == [VARIETY_1]
    rec = records.get_record(fixed_store, fixed_ds, "SeedVariety", VARIETY_1)
    assert str(rec["price"]) == "3.25"
    assert rec["open_pollinated"] is False
    assert rec["variety_name"] == "Black Krim"
    assert rec["suppliers"] == [SUPPLIER_A, SUPPLIER_B]


async def test_form_picks_a_reference_by_search(store: Store, demo_ds: str) -> None:
    app = ScreenHost(lambda: RecordFormScreen(store, demo_ds, "SeedVariety"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _type_into(pilot, app, "species", "Allium sativum")
        await _type_into(pilot, app, "variety_name", "Music")
        app.screen.query_one("#field-suppliers .picker-search", Input).focus()
        await pilot.press(*"mill")
        await settle(app, pilot)
        await pilot.press("enter")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    rec = records.get_record(store, demo_ds, "SeedVariety", app.results[-1])
    assert len(rec["suppliers"]) == 1
    supplier = records.get_record(store, demo_ds, "Supplier", rec["suppliers"][0])
    assert supplier["name"] == "Old Mill Heirlooms"


async def test_form_escape_cancels_without_writing(store: Store, demo_ds: str) -> None:
    before = _count(store, demo_ds, "Supplier")
    app = ScreenHost(lambda: RecordFormScreen(store, demo_ds, "Supplier"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _type_into(pilot, app, "name", "Nobody")
        await pilot.press("escape")
        await settle(app, pilot)
    assert app.results == [None]
    assert _count(store, demo_ds, "Supplier") == before


async def test_detail_shows_history_with_verified_mark_and_blame(fixed_store: Store, fixed_ds: str) -> None:
    app = ScreenHost(lambda: RecordDetailScreen(fixed_store, fixed_ds, "SeedVariety", VARIETY_1))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RecordDetailScreen) and screen.detail is not None
        history = screen.detail.history
        assert [h.op for h in history] == ["create", "update"]
        assert all(h.verified for h in history)
        assert history[1].changes["germination_days"] == (8, 9)
        blame = {f.name: f.blame for f in screen.detail.fields}
        assert history[1].event_id[:8] in blame["germination_days"]
        assert history[0].event_id[:8] in blame["variety_name"]
        assert blame["days_to_maturity"] == ""
        shown = _rendered(app, "#history")
        assert shown.count("✓") == 2 and "germination_days: 8 → 9" in shown
        assert "npub1" in _rendered(app, "#fields")


async def test_detail_lists_relationships_both_ways_and_enter_jumps(
    fixed_store: Store, fixed_ds: str
) -> None:
    app = ScreenHost(lambda: RecordDetailScreen(fixed_store, fixed_ds, "SeedVariety", VARIETY_1))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        links = app.screen.query_one("#links", OptionList)
        assert links.option_count == 2
        await pilot.press("down", "enter")  # the second supplier, Anna Kowalska
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RecordDetailScreen)
        assert screen.record_id == SUPPLIER_B
        assert screen.detail is not None
        incoming = [(link.direction, link.record_id) for link in screen.detail.links]
        assert ("in", VARIETY_1) in incoming and len(incoming) == 2
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, RecordDetailScreen) and app.screen.record_id == VARIETY_1


async def test_detail_e_opens_the_form_and_shows_the_new_value(fixed_store: Store, fixed_ds: str) -> None:
    app = ScreenHost(lambda: RecordDetailScreen(fixed_store, fixed_ds, "Supplier", SUPPLIER_A))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        assert isinstance(app.screen, RecordFormScreen)
        town = app.screen.query_one("#field-town Input", Input)
        town.value = "Riverbend"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, RecordDetailScreen)
        assert "Riverbend" in _rendered(app, "#fields")
    assert records.get_record(fixed_store, fixed_ds, "Supplier", SUPPLIER_A)["town"] == "Riverbend"


async def test_choice_fields_use_a_select(store: Store, demo_ds: str) -> None:
    app = ScreenHost(lambda: RecordFormScreen(store, demo_ds, "Supplier"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        kind = app.screen.query_one("#field-kind Select", Select)
        assert kind.value == "member"
        kind.value = "company"
        await _type_into(pilot, app, "name", "Seedy Ltd")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    assert records.get_record(store, demo_ds, "Supplier", app.results[-1])["kind"] == "company"
