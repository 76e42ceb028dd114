"""How the detail, form and schema editor screens look, with fixed ids, key and clock.

Each picture is taken once the state it shows is there (data loaded, reference picker filled, formula
results shown), never after a fixed number of rounds: on a loaded machine workers report late.
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList, Static, Tree

from engine.store import Store
from kobold_tui.screens.record_detail import RecordDetailScreen
from kobold_tui.screens.record_form import RecordFormScreen
from kobold_tui.screens.schema_editor import SchemaEditorScreen
from kobold_tui.widgets.reference_picker import ReferencePicker
from tests.tui.conftest import wait_until
from tests.tui_screens.conftest import VARIETY_1, ScreenHost, settle

SIZE = (100, 30)


def _shows(app: Any, selector: str) -> bool:
    """A Static has content (its worker's result has landed)."""
    found = app.screen.query(selector)
    return bool(found) and bool(str(found.first(Static).content))


def _detail_loaded(app: Any) -> bool:
    screen = app.screen
    return isinstance(screen, RecordDetailScreen) and screen.detail is not None


def _form_filled(app: Any) -> bool:
    screen = app.screen
    if not isinstance(screen, RecordFormScreen) or screen.definition is None:
        return False
    if len(screen.editors) != len(screen.definition.fields):
        return False
    pickers = list(screen.query(ReferencePicker))
    if not pickers or any(p.query_one(OptionList).option_count == 0 for p in pickers):
        return False
    return not screen.definition.computed or _shows(app, "#form-computed")


async def _detail(pilot: Pilot[Any]) -> None:
    await wait_until(pilot.app, pilot, lambda: _detail_loaded(pilot.app), "the record detail")


async def _form(pilot: Pilot[Any]) -> None:
    await wait_until(pilot.app, pilot, lambda: _form_filled(pilot.app), "the form, its pickers and preview")


def test_record_detail_looks_right(snap_compare: Any, fixed_store: Store, fixed_ds: str) -> None:
    app = ScreenHost(lambda: RecordDetailScreen(fixed_store, fixed_ds, "SeedVariety", VARIETY_1))
    assert snap_compare(app, terminal_size=SIZE, run_before=_detail)


def test_record_form_looks_right(snap_compare: Any, fixed_store: Store, fixed_ds: str) -> None:
    app = ScreenHost(lambda: RecordFormScreen(fixed_store, fixed_ds, "SeedVariety", VARIETY_1))
    assert snap_compare(app, terminal_size=SIZE, run_before=_form)


def test_schema_editor_looks_right(snap_compare: Any, fixed_store: Store, fixed_ds: str) -> None:
    async def on_formula(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await settle(app, pilot)
        await wait_until(app, pilot, lambda: bool(app.screen.definitions), "the schema")
        tree: Tree[Any] = app.screen.query_one("#schema-tree", Tree)
        tree.move_cursor(next(n for n in tree.root.children[0].children if n.data[0] == "computed"))
        await pilot.press("t")
        await wait_until(app, pilot, lambda: _shows(app, "#try-output"), "the formula's results")

    app = ScreenHost(lambda: SchemaEditorScreen(fixed_store, fixed_ds))
    assert snap_compare(app, terminal_size=SIZE, run_before=on_formula)


def test_sync_screen_looks_right(snap_compare: Any, fixed_store: Store, fixed_ds: str) -> None:
    from kobold_tui.screens.sync import SyncScreen
    from sync import replication, state

    fixed_store.config.relays.append("wss://relay.example.org")
    replication.publish(fixed_store, fixed_ds)
    state.note_relay(fixed_store, "wss://relay.example.org", "cannot connect: [Errno 111] Connection refused")
    app = ScreenHost(lambda: SyncScreen(fixed_store))

    def settled() -> bool:
        # The rows are in, and each DataTable has re-measured its columns (it does that when idle; on a loaded
        # machine the screenshot came first and showed headers at their empty widths).
        screen = app.screen
        tables = list(screen.query(DataTable))
        return getattr(screen, "overview", None) is not None and not any(
            t._require_update_dimensions for t in tables
        )

    async def loaded(pilot: Pilot[Any]) -> None:
        await wait_until(pilot.app, pilot, settled, "the relay overview")
        for table in app.screen.query(DataTable):
            table.refresh()  # paint the re-measured columns before the screenshot
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=loaded)


def test_members_and_roles_screen_looks_right(
    snap_compare: Any, fixed_store: Store, fixed_ds: str, monkeypatch: Any
) -> None:
    import time

    from engine import datasets, names, roles

    monkeypatch.setenv("TZ", "UTC")  # the "reads since" date is shown in local time
    time.tzset()
    from kobold_tui.screens.roles import RolesScreen
    from sync import tribe

    friend = "ab" * 32
    names.add_to_tribe(fixed_store, "garden", friend, "Ana")
    roles.grant(fixed_store, fixed_ds, [friend], "contributor", ["SeedVariety"])
    datasets.update_manifest(fixed_store, fixed_ds, visibility="tribe")
    tribe.add_member(fixed_store, fixed_ds, friend)
    fixed_store.con.execute("UPDATE tribe_members SET added_at = 1790000000")
    app = ScreenHost(lambda: RolesScreen(fixed_store, fixed_ds))

    async def loaded(pilot: Pilot[Any]) -> None:
        await wait_until(
            pilot.app, pilot, lambda: bool(getattr(pilot.app.screen, "readers", None)), "the readers"
        )

    assert snap_compare(app, terminal_size=SIZE, run_before=loaded)
