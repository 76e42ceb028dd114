"""Members & roles of a dataset: who holds which role (with petnames), grant and revoke from here.

Grants and revocations are signed role events (engine/roles.py); the engine refuses what this identity's role
does not allow, and the screen shows that message as is.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Select, Static

from engine import datasets, names, roles
from engine.errors import IdentityError, KoboldError, NotFound
from engine.store import Store
from kobold_tui import commands
from kobold_tui.screens.confirm import ConfirmScreen
from kobold_tui.screens.text_prompt import TextPromptScreen
from sync import tribe


class GrantScreen(ModalScreen[tuple[str, str, list[str]] | None]):
    """Ask whom (npub, petname or tribe), which role, and for a contributor optionally which resources."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="grant.cancel")]
    DEFAULT_CSS = """
    GrantScreen { align: center middle; }
    GrantScreen > Vertical { width: 72; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    GrantScreen Input, GrantScreen Select { margin-bottom: 1; }
    GrantScreen Horizontal { height: auto; align-horizontal: right; }
    GrantScreen Button { margin-left: 2; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Grant a role to (npub, petname or tribe name):")
            yield Input(id="who", placeholder="npub1… / Ana / garden")
            yield Select([(r, r) for r in roles.ROLES], value=roles.CONTRIBUTOR, allow_blank=False, id="role")
            yield Label("Only for these resources (contributor; comma separated, empty for all):")
            yield Input(id="resources")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Grant", id="grant", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#who", Input).focus()

    def on_input_submitted(self, _: Input.Submitted) -> None:
        self._done()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "grant":
            self._done()
        else:
            self.dismiss(None)

    def _done(self) -> None:
        who = self.query_one("#who", Input).value.strip()
        if not who:
            self.notify("Say whom to grant the role to.", severity="warning")
            return
        role = str(self.query_one("#role", Select).value)
        resources = [r.strip() for r in self.query_one("#resources", Input).value.split(",") if r.strip()]
        self.dismiss((who, role, resources))

    def action_cancel(self) -> None:
        self.dismiss(None)


class RolesScreen(Screen[None]):
    """The members & roles panel of one dataset."""

    COMMAND_SCOPES = ("roles",)
    BINDINGS: ClassVar[list[BindingType]] = commands.bindings("roles")
    DEFAULT_CSS = """
    RolesScreen DataTable { height: 1fr; }
    RolesScreen #roles-help { color: $text-muted; padding: 0 1; }
    RolesScreen #readers-box { height: 1fr; display: none; }
    RolesScreen #readers-box.-tribe { display: block; }
    RolesScreen #readers-title { text-style: bold; color: $accent; padding: 0 1; }
    """

    def __init__(self, store: Store, dataset_id: str) -> None:
        super().__init__()
        self.store = store
        self.dataset_id = dataset_id
        self.members: list[dict[str, Any]] = []
        self.readers: list[dict[str, object]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(cursor_type="row", id="members")
        yield Static(
            "Owners grant any role; maintainers grant contributors. Granting owner hands the dataset over "
            "(you stay on as maintainer).",
            id="roles-help",
        )
        with Vertical(id="readers-box"):
            yield Label(
                "Readers: tribe members who hold the dataset key (m add, M remove)", id="readers-title"
            )
            yield DataTable(cursor_type="row", id="readers")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Members & roles"
        table = self.query_one("#members", DataTable)
        table.add_columns("Name", "Role", "Resources", "npub")
        self.query_one("#readers", DataTable).add_columns("Name", "Reads since", "npub")
        self.refresh_members()
        table.focus()

    def refresh_members(self) -> None:
        with self.store.lock:
            self.members = roles.members(self.store, self.dataset_id)
            me = roles.role_of(roles.current_state(self.store, self.dataset_id), self.store.identity.pubkey)
        self.sub_title = f"your role: {me.describe() if me else 'none (fork and propose to contribute)'}"
        self.refresh_readers()
        table = self.query_one("#members", DataTable)
        table.clear()
        for m in self.members:
            resources = ", ".join(m["resources"]) if m["resources"] else "all"
            table.add_row(m["name"], m["role"], resources, m["npub"], key=m["pubkey"])

    def refresh_readers(self) -> None:
        with self.store.lock:
            tribe_read = datasets.info(self.store, self.dataset_id).visibility == "tribe"
            self.readers = tribe.members(self.store, self.dataset_id) if tribe_read else []
            shown = names.display_names(self.store, [str(r["pubkey"]) for r in self.readers])
        self.query_one("#readers-box").set_class(tribe_read, "-tribe")
        table = self.query_one("#readers", DataTable)
        table.clear()
        self.readers = [r for r in self.readers if r["removed_at"] is None]
        for r in self.readers:
            since = time.strftime("%Y-%m-%d", time.localtime(int(str(r["added_at"]))))
            table.add_row(shown[str(r["pubkey"])], since, names.npub(str(r["pubkey"])), key=str(r["pubkey"]))

    def action_add_reader(self) -> None:
        def done(who: str | None) -> None:
            if not who:
                return
            try:
                with self.store.lock:
                    pubkey = names.resolve(self.store, who)
                    tribe.add_member(self.store, self.dataset_id, pubkey)
            except KoboldError as exc:
                self.notify(str(exc), severity="error")
                return
            self.refresh_readers()
            self.notify(f"{who} gets the key (every epoch, so the history too) at the next sync.")

        self.app.push_screen(TextPromptScreen("Give the dataset key to", "npub1…, hex or a petname"), done)

    def action_remove_reader(self) -> None:
        table = self.query_one("#readers", DataTable)
        if not self.readers or table.cursor_row >= len(self.readers):
            self.notify("Select a reader in the Readers table first.", severity="warning")
            return
        reader = self.readers[table.cursor_row]
        name = table.get_row_at(table.cursor_row)[0]

        def done(yes: bool | None) -> None:
            if not yes:
                return
            try:
                with self.store.lock:
                    tribe.remove_member(self.store, self.dataset_id, str(reader["pubkey"]))
            except KoboldError as exc:
                self.notify(str(exc), severity="error")
                return
            self.refresh_readers()
            self.notify(
                f"Removed {name} and rotated the key: they keep what they could already read, but nothing "
                "written from now on."
            )

        self.app.push_screen(
            ConfirmScreen(
                f"Remove {name}? The dataset key is rotated: they keep what they already read, but cannot read "
                "anything written from now on.",
                "Remove",
            ),
            done,
        )

    def _selected(self) -> dict[str, Any] | None:
        table = self.query_one("#members", DataTable)
        if not self.members or table.cursor_row is None or table.cursor_row >= len(self.members):
            return None
        return self.members[table.cursor_row]

    def action_back(self) -> None:
        self.dismiss(None)

    def action_grant(self) -> None:
        self.app.push_screen(GrantScreen(), self._grant)

    def _grant(self, answer: tuple[str, str, list[str]] | None) -> None:
        if answer is None:
            return
        who, role, resources = answer
        try:
            with self.store.lock:
                pubkeys = self._pubkeys(who)
                roles.grant(self.store, self.dataset_id, pubkeys, role, resources)
        except KoboldError as exc:
            self.notify(str(exc), severity="error")
            return
        self.refresh_members()
        self.notify(f"Granted {role} to {who}.")

    def _pubkeys(self, who: str) -> list[str]:
        """One person (npub, hex, petname) or, failing that, every member of a tribe of that name."""
        try:
            return [names.resolve(self.store, who)]
        except IdentityError:
            try:
                return [m["pubkey"] for m in names.tribe_members(self.store, who)]
            except NotFound:
                raise IdentityError(
                    f"{who!r} is neither a public key (npub1… or 64 hex), a petname nor a tribe name."
                ) from None

    def action_revoke(self) -> None:
        member = self._selected()
        if member is None:
            return

        def done(yes: bool | None) -> None:
            if not yes:
                return
            try:
                with self.store.lock:
                    roles.revoke(self.store, self.dataset_id, member["pubkey"])
            except KoboldError as exc:
                self.notify(str(exc), severity="error")
                return
            self.refresh_members()
            self.notify(f"{member['name']} no longer holds a role here.")

        self.app.push_screen(
            ConfirmScreen(f"Take the {member['role']} role from {member['name']}?", "Revoke"), done
        )
