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
