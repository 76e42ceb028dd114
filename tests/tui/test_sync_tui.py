"""The app syncs in the background: remote changes appear in open grids, the cursor and an edit stay put."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from engine import datasets, demo, records
from engine.store import Store
from kobold_tui.app import KoboldApp
from kobold_tui.screens.home import HomeScreen
from kobold_tui.screens.sync import SyncScreen
from kobold_tui.widgets.sync_line import SyncLine
from sync import replication
from sync.session import sync_once
from tests.tui.conftest import open_dataset, settle, wait_until


async def shared_demo(alice: Store, relay: str) -> str:
    ds = demo.create_demo(alice)
    datasets.update_manifest(alice, ds, visibility="public")
    replication.add_relay(alice, relay)
    replication.publish(alice, ds)
    await sync_once(alice)
    return ds


def cell(view: object, row: int, name: str) -> object:
    grid = view.grid  # type: ignore[attr-defined]
    col = next(i for i, c in enumerate(grid.columns) if c.name == name)
    fetched = view.cache.row(row)  # type: ignore[attr-defined]
    return fetched[0][col + 1] if fetched and fetched[0] else None


async def test_remote_changes_appear_without_moving_the_cursor_or_breaking_an_edit(
    tmp_path: Path, local_relay: str
) -> None:
    with Store.open(tmp_path / "alice") as alice, Store.open(tmp_path / "bob") as bob:
        ds = await shared_demo(alice, local_relay)
        replication.follow(bob, replication.share_address(alice, ds) or "", None, [])
        replication.add_relay(bob, local_relay)
        app = KoboldApp(bob, save_theme=False)
        async with app.run_test(size=(120, 30)) as pilot:
            app.start_sync(interval=0.5)
            home = app.screen
            assert isinstance(home, HomeScreen)
            await wait_until(
                app, pilot, lambda: [r.info.id for r in home.rows] == [ds], "the followed dataset"
            )
            line = home.query_one(SyncLine)
            await wait_until(app, pilot, lambda: "1/1 relays" in str(line.render()), "the sync status line")

            view = await open_dataset(app, pilot, ds)
            await pilot.press("j", "j")
            here = view.grid.current_row
            assert here is not None
            fetched = view.cache.row(0)
            assert fetched is not None and fetched[0] is not None
            first = fetched[0]
            records.update_record(alice, ds, "SeedVariety", str(first[0]), {"variety_name": "From Alice"})
            await sync_once(alice)
            await wait_until(
                app, pilot, lambda: cell(view, 0, "variety_name") == "From Alice", "alice's edit"
            )
            assert view.grid.cursor_row == 2 and view.grid.current_row is not None
            assert view.grid.current_row[0] == here[0]
            assert view.grid.scroll_offset.x == 0  # the view did not jump sideways either

            await pilot.press("l", "e")  # an edit in progress when the next change lands
            assert view.edit_bar.editing
            records.update_record(alice, ds, "SeedVariety", str(first[0]), {"variety_name": "Again"})
            await sync_once(alice)

            def arrived() -> bool:
                with bob.lock:
                    return (
                        records.get_record(bob, ds, "SeedVariety", str(first[0]))["variety_name"] == "Again"
                    )

            await wait_until(app, pilot, arrived, "the second edit to arrive")
            assert view.edit_bar.editing and view.grid.cursor_row == 2
            await pilot.press("escape")
            await wait_until(
                app, pilot, lambda: cell(view, 0, "variety_name") == "Again", "the deferred refresh"
            )
            app.sync_worker.stop()  # type: ignore[union-attr]


async def sync_screen(app: KoboldApp, pilot: Pilot[None]) -> SyncScreen:
    """The sync screen, opened with `s` from home."""
    await settle(app, pilot)
    await pilot.press("s")
    assert isinstance(app.screen, SyncScreen)
    return app.screen


async def test_sync_screen_adds_a_relay_and_publishes(tmp_path: Path, local_relay: str) -> None:
    with Store.open(tmp_path / "home") as store:
        ds = demo.create_demo(store)
        datasets.update_manifest(store, ds, visibility="public")
        app = KoboldApp(store, save_theme=False)
        async with app.run_test(size=(120, 30)) as pilot:
            await sync_screen(app, pilot)
            await pilot.press("a", *local_relay, "enter")
            await wait_until(app, pilot, lambda: local_relay in store.config.relays, "the relay to be added")
            await wait_until(app, pilot, lambda: bool(app.screen.overview and app.screen.overview.relays),  # type: ignore[attr-defined]
                             "the relay list")  # fmt: skip
            await pilot.press("p")
            await wait_until(app, pilot, lambda: any(d[3] == "published" for d in app.screen.overview.datasets),  # type: ignore[attr-defined]
                             "the dataset to be published")  # fmt: skip
            assert app.sync_worker is not None
            await wait_until(app, pilot, lambda: app.sync_status is not None and app.sync_status.outbox == 0
                             and not app.sync_status.busy, "the outbox to drain")  # fmt: skip
            app.sync_worker.stop()


async def test_sync_screen_follows_an_address_and_removes_a_relay(tmp_path: Path, local_relay: str) -> None:
    with Store.open(tmp_path / "alice") as alice, Store.open(tmp_path / "bob") as bob:
        ds = await shared_demo(alice, local_relay)
        address = replication.share_address(alice, ds) or ""
        replication.add_relay(bob, "ws://127.0.0.1:9")  # a relay bob no longer wants
        app = KoboldApp(bob, save_theme=False)
        async with app.run_test(size=(120, 30)) as pilot:
            screen = await sync_screen(app, pilot)
            await wait_until(app, pilot, lambda: screen.overview is not None, "the overview")
            await pilot.press("d")
            await wait_until(app, pilot, lambda: bob.config.relays == [], "the relay to be removed")
            await pilot.press("f", *address, "enter")
            await wait_until(app, pilot, lambda: any(d[0] == ds and d[1] == "Community Seed Catalog"
                                                     for d in (screen.overview.datasets if screen.overview else [])),
                             "the followed dataset to arrive")  # fmt: skip
            assert app.sync_worker is not None
            app.sync_worker.stop()


async def test_sync_screen_sets_your_name(tmp_path: Path) -> None:
    from engine import names

    with Store.open(tmp_path / "home") as store:
        app = KoboldApp(store, save_theme=False)
        async with app.run_test(size=(120, 30)) as pilot:
            screen = await sync_screen(app, pilot)
            await pilot.press("n", *"Ana", "enter")
            await wait_until(app, pilot, lambda: names.display_name(store, store.identity.pubkey) == "Ana",
                             "the name to be set")  # fmt: skip
            await wait_until(app, pilot, lambda: "others will see you as Ana" in str(screen.query_one("#message").render()),
                             "the confirmation")  # fmt: skip
            if app.sync_worker is not None:
                app.sync_worker.stop()
