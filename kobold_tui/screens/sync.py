"""Relays and replication: add or remove relays, publish datasets, follow others', and see how sync goes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label

from engine.errors import KoboldError
from engine.store import Store
from kobold_tui.screens.text_prompt import TextPromptScreen
from kobold_tui.widgets.sync_line import SyncLine
from sync import profile, replication, state
from sync.targets import relay_urls
from sync.worker import SyncStatus


@dataclass(frozen=True)
class SyncOverview:
    relays: list[dict[str, Any]]
    datasets: list[tuple[str, str, str, str]]  # id, name, visibility, how it replicates
    outbox: int


def read_overview(store: Store) -> SyncOverview:
    """Call with the store lock held."""
    state.ensure_tables(store)
    published = {r[0] for r in store.con.execute("SELECT dataset_id FROM sync_published").fetchall()}
    followed = {f.dataset_id for f in state.follows(store)}
    rows = store.con.execute("SELECT id, name, visibility FROM datasets ORDER BY name").fetchall()
    shown = []
    for ds, name, visibility in rows:
        how = "published" if ds in published else "followed" if ds in followed else "—"
        if visibility == "private":
            how = "private: stays here"
        shown.append((str(ds), str(name), str(visibility), how))
    for f in followed - {r[0] for r in rows}:
        shown.append((f, f"{f[:8]}… (waiting for the first sync)", "?", "followed"))
    return SyncOverview(replication.relays(store), shown, state.outbox_size(store, store.config.relays))


def _when(ts: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "never"


class SyncScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add_relay", "Add relay", id="sync.add-relay"),
        Binding("d", "remove_relay", "Remove relay", id="sync.remove-relay"),
        Binding("p", "publish", "Publish", id="sync.publish"),
        Binding("f", "follow", "Follow", id="sync.follow"),
        Binding("n", "set_name", "Your name", id="sync.name"),
        Binding("s", "app.sync_now", "Sync now", id="sync.now"),
        Binding("escape,q", "back", "Back", id="sync.back"),
    ]
    DEFAULT_CSS = """
    SyncScreen .section { text-style: bold; color: $accent; padding: 1 1 0 1; }
    SyncScreen DataTable { height: auto; max-height: 12; }
    SyncScreen #message { padding: 0 1; color: $text-muted; }
    """

    class Loaded(Message):
        def __init__(self, overview: SyncOverview) -> None:
            super().__init__()
            self.overview = overview

    class Done(Message):
        def __init__(self, message: str, error: bool = False) -> None:
            super().__init__()
            self.message = message
            self.error = error

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.overview: SyncOverview | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Label("Relays", classes="section")
            relays: DataTable[str] = DataTable(id="relays", cursor_type="row")
            relays.add_columns("Relay", "Last sync", "Last error")
            yield relays
            yield Label("Datasets", classes="section")
            table: DataTable[str] = DataTable(id="replicated", cursor_type="row")
            table.add_columns("Dataset", "Visibility", "Replication")
            yield table
            yield Label("", id="message")
        yield SyncLine()
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Sync"
        self.sub_title = "relays and replication"
        self.refresh_overview()
        signal = getattr(self.app, "sync_signal", None)
        if signal is not None:
            signal.subscribe(self, self._pass_done)

    def _pass_done(self, status: SyncStatus) -> None:
        if not status.busy:  # a pass ended: relay times, errors and followed datasets may have changed
            self.refresh_overview()

    def remote_changes(self, dataset_ids: set[str]) -> None:
        self.refresh_overview()

    @work(thread=True, exclusive=True, group="sync-screen", exit_on_error=False)
    def refresh_overview(self) -> None:
        with self.store.lock:
            overview = read_overview(self.store)
        self.post_message(self.Loaded(overview))

    def on_sync_screen_loaded(self, event: Loaded) -> None:
        self.overview = event.overview
        relays = self.query_one("#relays", DataTable)
        relays.clear()
        for r in event.overview.relays:
            url = r["url"] if r["source"] == "config" else f"{r['url']} (from a followed address)"
            relays.add_row(url, _when(r["last_ok"]), r["last_error"] or "", key=r["url"])
        table = self.query_one("#replicated", DataTable)
        table.clear()
        for ds, name, visibility, how in event.overview.datasets:
            table.add_row(name, visibility, how, key=ds)
        if not event.overview.relays and not str(self.query_one("#message", Label).render()):
            # Only into silence: the outcome of what the user just did (e.g. setting their name) stays readable.
            self._say(
                "No relays yet: press a to add one (e.g. wss://relay.example.org), or f to follow an address."
            )

    def on_sync_screen_done(self, event: Done) -> None:
        self._say(event.message)
        if event.error:
            self.notify(event.message, severity="error")
        self.refresh_overview()

    def _say(self, text: str) -> None:
        self.query_one("#message", Label).update(text)

    @work(thread=True, group="sync-write", exit_on_error=False)
    def _run(self, what: str, fn: Any) -> None:
        try:
            with self.store.lock:
                message = fn()
        except KoboldError as exc:
            self.post_message(self.Done(str(exc), error=True))
            return
        self.post_message(self.Done(message or what))
        trigger = getattr(self.app, "action_sync_now", None)
        with self.store.lock:
            reachable = bool(relay_urls(self.store))  # configured relays or a followed address's hints
        if trigger is not None and reachable:
            self.app.call_from_thread(trigger)

    def action_add_relay(self) -> None:
        def done(url: str | None) -> None:
            if url:
                self._run("relay added", lambda: replication.add_relay(self.store, url)[2] or f"added {url}")

        self.app.push_screen(TextPromptScreen("Add a relay", "Its address, wss://…"), done)

    def action_remove_relay(self) -> None:
        table = self.query_one("#relays", DataTable)
        if not self.overview or not self.overview.relays:
            return
        chosen = self.overview.relays[min(table.cursor_row, len(self.overview.relays) - 1)]
        if chosen["source"] != "config":
            self._say("That relay comes from a followed address, not from your relay list.")
            return
        url = chosen["url"]
        self._run(f"removed {url}", lambda: replication.remove_relay(self.store, url))

    def action_publish(self) -> None:
        table = self.query_one("#replicated", DataTable)
        if not self.overview or not self.overview.datasets:
            return
        ds, name, _, _ = self.overview.datasets[min(table.cursor_row, len(self.overview.datasets) - 1)]

        def publish() -> str:
            result = replication.publish(self.store, ds)
            return f"{name} is published; others follow it with {result['address']}"

        self._run("published", publish)

    def action_follow(self) -> None:
        def done(text: str | None) -> None:
            if text:
                self._run(
                    "following",
                    lambda: f"following {replication.follow(self.store, text, None, []).dataset_id}",
                )

        self.app.push_screen(TextPromptScreen("Follow a dataset", "Paste its naddr1… address"), done)

    def action_set_name(self) -> None:
        def done(text: str | None) -> None:
            if text:
                self._run("name set", lambda: _set_name(self.store, text))

        self.app.push_screen(TextPromptScreen("Your name", "What others see beside your changes"), done)

    def action_back(self) -> None:
        self.app.pop_screen()


def _set_name(store: Store, name: str) -> str:
    profile.set_name(store, name)
    return f"others will see you as {' '.join(name.split())} once this store syncs"
