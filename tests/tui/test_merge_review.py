"""The merge review screen driven like a user: accept and reject rows and fields, resolve a conflict, watch the
summary bar, sign the decision; and how it looks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from engine import forks, merge, proposals, query, records
from engine.store import Store
from kobold_tui.app import KoboldApp
from kobold_tui.screens.dataset import DatasetScreen
from kobold_tui.screens.merge_review import MergeInboxScreen, MergeReviewScreen, RecordThreeWayScreen
from kobold_tui.widgets.diff_table import DiffTable
from tests.tui.conftest import settle, wait_until

SIZE = (120, 30)


def prepare(store: Store, ds: str) -> tuple[str, list[str]]:
    """A fork of the demo with three changed records; upstream changed the first one's name too."""
    fork = forks.fork_dataset(store, ds, "Demo fork")
    rows = query.page(
        store, ds, query.Query("SeedVariety", sort=(query.parse_sort("variety_name"),)), 0, 3
    ).as_dicts()
    ids = [r["_id"] for r in rows]
    records.update_record(store, fork, "SeedVariety", ids[0], {"variety_name": "Fork name"})
    records.update_record(store, fork, "SeedVariety", ids[1], {"germination_days": 42, "notes": "fork notes"})
    records.update_record(store, fork, "SeedVariety", ids[2], {"notes": "third"})
    records.update_record(store, ds, "SeedVariety", ids[0], {"variety_name": "Upstream name"})
    p = proposals.create(store, fork, "Three fixes", "from the field trials")
    return p.id, ids


async def open_review(app: KoboldApp, pilot: Pilot[None], proposal_id: str) -> MergeReviewScreen:
    await settle(app, pilot)
    screen = MergeReviewScreen(app.store, proposal_id=proposal_id)
    await app.push_screen(screen)
    await wait_until(app, pilot, lambda: screen.loaded, "the review to load")
    return screen


def summary(screen: MergeReviewScreen) -> str:
    return str(screen.query_one("#summary", Static).render())


async def test_rows_and_fields_are_taken_or_left_and_the_summary_counts(
    demo_store: tuple[Store, str],
) -> None:
    store, ds = demo_store
    pid, ids = prepare(store, ds)
    app = KoboldApp(store, save_theme=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot, pid)
        assert screen.rows[0].record_id == ids[0] and screen.rows[0].kind == "conflict"
        assert "3 accepted, 0 rejected" in summary(screen) and "1 conflicts left" in summary(screen)
        await pilot.press("j", "x")  # leave the second record out
        assert "2 accepted, 1 rejected" in summary(screen)
        await pilot.press("a")  # take it back
        assert "3 accepted, 0 rejected" in summary(screen)
        # reject one field: move to the notes column of the second record and toggle it (rows with the same kind
        # sort by record id, and ids made in the same millisecond differ only in their random part)
        table = screen.query_one(DiffTable)
        notes = 4 + screen.columns.index("notes")
        table.move_cursor(row=[r.record_id for r in screen.rows].index(ids[1]), column=notes)
        await pilot.press("space")
        assert f"{ids[1]}.notes" in screen.choices.rejected
        assert screen.plan is not None and screen.plan.rejected_fields == 1


async def test_a_conflict_must_be_resolved_before_the_decision_is_signed(
    demo_store: tuple[Store, str],
) -> None:
    store, ds = demo_store
    pid, ids = prepare(store, ds)
    app = KoboldApp(store, save_theme=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot, pid)
        await pilot.press("ctrl+s")  # refused: one conflict left
        await settle(app, pilot)
        assert app.screen is screen and proposals.status(store, proposals.get(store, pid))["status"] == "open"
        table = screen.query_one(DiffTable)
        table.move_cursor(row=0, column=4 + screen.columns.index("variety_name"))
        await pilot.press("K")  # the fork's value
        assert "0 conflicts left" in summary(screen)
        await pilot.press("ctrl+s")
        await wait_until(app, pilot, lambda: app.screen is not screen, "the decision")
    assert records.get_record(store, ds, "SeedVariety", ids[0])["variety_name"] == "Fork name"
    assert proposals.status(store, proposals.get(store, pid))["status"] == "accepted"


async def test_a_typed_value_resolves_a_conflict(demo_store: tuple[Store, str]) -> None:
    store, ds = demo_store
    pid, ids = prepare(store, ds)
    app = KoboldApp(store, save_theme=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot, pid)
        screen.query_one(DiffTable).move_cursor(row=0, column=4 + screen.columns.index("variety_name"))
        await pilot.press("equals_sign")
        await settle(app, pilot)
        await pilot.press("ctrl+u", *"Both names", "enter")
        await settle(app, pilot)
        assert screen.choices.resolutions[f"{ids[0]}.variety_name"] == merge.Resolution("value", "Both names")
        assert "0 conflicts left" in summary(screen)


async def test_enter_opens_the_three_way_detail_of_the_record_under_the_cursor(
    demo_store: tuple[Store, str],
) -> None:
    store, ds = demo_store
    pid, _ = prepare(store, ds)
    app = KoboldApp(store, save_theme=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot, pid)
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, RecordThreeWayScreen) and app.screen.record is screen.rows[1]
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is screen and screen.query_one(DiffTable).cursor_row == 1


async def test_the_inbox_opens_from_the_dataset_screen(demo_store: tuple[Store, str]) -> None:
    store, ds = demo_store
    pid, _ = prepare(store, ds)
    app = KoboldApp(store, save_theme=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await app.push_screen(DatasetScreen(store, ds, "SeedVariety"))
        await settle(app, pilot)
        await pilot.press("M")
        await wait_until(
            app, pilot, lambda: isinstance(app.screen, MergeInboxScreen) and app.screen.loaded, "inbox"
        )
        inbox = app.screen
        assert isinstance(inbox, MergeInboxScreen) and [i["id"] for i in inbox.items] == [pid]
        await pilot.press("enter")
        await wait_until(
            app, pilot, lambda: isinstance(app.screen, MergeReviewScreen) and app.screen.loaded, "review"
        )


def test_the_review_screen_shows_the_diff_and_summary(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from itertools import count

    from engine import demo
    from engine.identity import import_key

    # A fixed key and fixed record ids: the author and record columns are the same on every run.
    import_key(tmp_path / "home", "11" * 32)
    numbers = count(1)
    monkeypatch.setattr(records, "new_record_id", lambda: f"{next(numbers):032x}")
    with Store.open(tmp_path / "home") as store:
        ds = demo.create_demo(store)
        pid, _ = prepare(store, ds)
        app = KoboldApp(store, save_theme=False)

        async def open_it(pilot: Pilot[None]) -> None:
            screen = await open_review(app, pilot, pid)
            await pilot.press("j", "x")
            await wait_until(app, pilot, lambda: "1 rejected" in summary(screen), "the summary")

        assert snap_compare(app, terminal_size=SIZE, run_before=open_it)
