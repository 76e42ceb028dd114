"""The members & roles panel driven like a user would: open it, grant, revoke, and a refused edit's message."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Label

from engine import datasets, ingest, names, records, roles
from engine.store import Store
from kobold_tui.app import KoboldApp
from kobold_tui.screens.confirm import ConfirmScreen
from kobold_tui.screens.roles import GrantScreen, RolesScreen
from tests.tui.conftest import open_dataset, settle

FRIEND = "ab" * 32


async def test_grant_and_revoke_from_the_members_panel(demo_store: tuple[Store, str]) -> None:
    store, ds = demo_store
    names.add_to_tribe(store, "garden", FRIEND, "Ana")
    app = KoboldApp(store, save_theme=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_dataset(app, pilot, ds)
        await pilot.press("W")
        await settle(app, pilot)
        assert isinstance(app.screen, RolesScreen)
        assert app.screen.query_one(DataTable).row_count == 1  # the owner
        await pilot.press("g")
        await settle(app, pilot)
        assert isinstance(app.screen, GrantScreen)
        app.screen.query_one("#who", Input).value = "Ana"
        app.screen.query_one("#resources", Input).value = "SeedVariety"
        await pilot.click("#grant")
        await settle(app, pilot)
        assert isinstance(app.screen, RolesScreen)
        member = roles.role_of(roles.current_state(store, ds), FRIEND)
        assert member is not None and member.describe() == "contributor for SeedVariety"
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2 and "Ana" in str(table.get_row_at(1)[0])
        table.move_cursor(row=1)
        await pilot.press("x")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert roles.role_of(roles.current_state(store, ds), FRIEND) is None
        assert app.screen.query_one(DataTable).row_count == 1


async def test_an_edit_without_a_role_is_refused_with_what_is_needed(tmp_path: Path) -> None:
    with Store.open(tmp_path / "owner") as owner, Store.open(tmp_path / "guest") as guest:
        ds = datasets.create_dataset(owner, "Seeds", visibility="public")
        datasets.apply_schema(owner, ds, [{"resource": "Item", "fields": {"name": "string"}}])
        records.create_record(owner, ds, "Item", {"name": "first"})
        ingest.ingest(guest, ingest.all_events(owner, ds))
        app = KoboldApp(guest, save_theme=False)
        async with app.run_test(size=(120, 30)) as pilot:
            view = await open_dataset(app, pilot, ds, "Item")
            await pilot.press("l", "e", "ctrl+u", *"changed", "enter")
            await settle(app, pilot)
            shown = str(view.edit_bar.query_one("#edit-error", Label).render())
        assert "You may not write records of Item" in shown and "kobold fork" in shown, shown
        assert records.get_record(guest, ds, "Item", records_first(guest, ds))["name"] == "first"


def records_first(store: Store, ds: str) -> str:
    row = store.con.execute(f'SELECT min(_id) FROM "p_{ds}_Item"').fetchone()
    assert row
    return str(row[0])


async def test_readers_of_a_tribe_dataset_are_added_and_removed_with_a_key_rotation(
    demo_store: tuple[Store, str],
) -> None:
    from sync import tribe

    store, ds = demo_store
    datasets.update_manifest(store, ds, visibility="tribe")
    names.add_to_tribe(store, "garden", FRIEND, "Ana")
    app = KoboldApp(store, save_theme=False)
    async with app.run_test(size=(120, 34)) as pilot:
        await open_dataset(app, pilot, ds)
        await pilot.press("W")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RolesScreen) and screen.query_one("#readers-box").display
        await pilot.press("m", *"Ana", "enter")
        await settle(app, pilot)
        assert [m["pubkey"] for m in tribe.members(store, ds)] == [FRIEND]
        readers = screen.query_one("#readers", DataTable)
        assert readers.row_count == 1 and "Ana" in str(readers.get_row_at(0)[0])
        readers.focus()
        await pilot.press("M")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert tribe.current_members(store, ds) == [] and tribe.newest_key(store, ds) is not None
        assert tribe.newest_key(store, ds)[0] == 1  # type: ignore[index]
        assert readers.row_count == 0
        assert any("rotated the key" in str(n.message) for n in app._notifications)


async def test_a_public_dataset_has_no_readers_panel(demo_store: tuple[Store, str]) -> None:
    store, ds = demo_store
    app = KoboldApp(store, save_theme=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_dataset(app, pilot, ds)
        await pilot.press("W")
        await settle(app, pilot)
        assert not app.screen.query_one("#readers-box").display
