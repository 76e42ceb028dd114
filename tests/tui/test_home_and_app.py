"""Home, themes, help and the command palette."""

from __future__ import annotations

from pathlib import Path

from engine import datasets, demo
from engine.config import Config
from engine.store import Store
from kobold_tui.app import KoboldApp, run_app
from kobold_tui.commands import COMMANDS
from kobold_tui.screens.dataset import DatasetScreen
from kobold_tui.screens.help import HelpScreen
from kobold_tui.screens.home import HomeScreen, NewDatasetScreen
from tests.tui.conftest import settle


async def test_empty_store_offers_the_demo_and_creates_it(tmp_path: Path) -> None:
    with Store.open(tmp_path / "home") as store:
        app = KoboldApp(store, save_theme=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            assert isinstance(app.screen, HomeScreen) and app.screen.has_class("-empty")
            await pilot.press("D")
            await settle(app, pilot)
            assert demo.find_demo(store) is not None
            assert [r.info.name for r in app.screen.rows] == [demo.DEMO_NAME]
            assert app.screen.rows[0].counts == {"SeedVariety": 30, "Supplier": 6}
            await pilot.press("enter")
            await settle(app, pilot)
            assert isinstance(app.screen, DatasetScreen)
            await pilot.press("q")
            assert isinstance(app.screen, HomeScreen)


async def test_new_dataset_from_home_lands_in_the_store(tmp_path: Path) -> None:
    with Store.open(tmp_path / "home") as store:
        app = KoboldApp(store, save_theme=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            await pilot.press("n")
            assert isinstance(app.screen, NewDatasetScreen)
            await pilot.press(*"Tools", "enter")
            await settle(app, pilot)
            assert isinstance(app.screen, HomeScreen)
            [info] = datasets.list_datasets(store)
            assert (info.name, info.visibility) == ("Tools", "private")


async def test_home_shows_lineage_of_a_fork(tmp_path: Path) -> None:
    from engine import writes

    with Store.open(tmp_path / "home") as store:
        origin = demo.create_demo(store)
        with store.transaction():
            writes.create_genesis(
                store, "My seeds", demo.DEMO_TYPE, "private", "", origin={"dataset": origin}
            )
        app = KoboldApp(store, save_theme=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            assert isinstance(app.screen, HomeScreen)
            fork = next(r for r in app.screen.rows if r.info.name == "My seeds")
            assert fork.lineage.startswith("fork of ")


async def test_theme_comes_from_config_and_switching_is_remembered(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Config(theme="kobold-light").save(home)
    with Store.open(home) as store:
        app = KoboldApp(store)
        async with app.run_test(size=(100, 30)) as pilot:
            assert app.theme == "kobold-light"
            await pilot.press("f9")
            assert app.theme != "kobold-light"
            await pilot.pause()
        assert Config.load(home).theme == app.theme


async def test_keymap_from_config_moves_a_command(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Config(keymap={"home.demo": "ctrl+d"}).save(home)
    with Store.open(home) as store:
        app = KoboldApp(store, save_theme=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            await pilot.press("D")
            await settle(app, pilot)
            assert demo.find_demo(store) is None
            await pilot.press("ctrl+d")
            await settle(app, pilot)
            assert demo.find_demo(store) is not None


async def test_help_lists_every_command(tmp_path: Path) -> None:
    with Store.open(tmp_path / "home") as store:
        app = KoboldApp(store, save_theme=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            listed = {(description, command_id) for _, _, description, command_id in app.screen.entries()}
            assert listed == {(c.description, c.id) for c in COMMANDS}


async def test_palette_finds_and_runs_a_command(tmp_path: Path) -> None:
    with Store.open(tmp_path / "home") as store:
        app = KoboldApp(store, save_theme=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            await pilot.press("ctrl+p", *"demo dataset")
            await settle(app, pilot)
            await pilot.press("enter")
            await settle(app, pilot)
            assert demo.find_demo(store) is not None


def test_a_store_in_use_is_reported_not_raised(tmp_path: Path, capsys: object) -> None:
    with Store.open(tmp_path / "home"):
        assert run_app(tmp_path / "home") == 1
    assert "in use" in capsys.readouterr().out  # type: ignore[attr-defined]
