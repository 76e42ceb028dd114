"""The one registry of TUI commands: a stable id, what it does, its default key and where it applies.

Bindings, the help screen and the command palette are all generated from `COMMANDS`; every binding
carries the command id, so `keymap` in config.toml can move any command to other keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from textual.app import App

# Where a command applies; the help screen groups by these.
SCOPES = {"app": "Everywhere", "home": "Datasets", "dataset": "Dataset table", "grid": "Moving in the table",
          "merge": "Merge review", "roles": "Members and roles"}  # fmt: skip


@dataclass(frozen=True)
class Command:
    id: str
    description: str
    keys: str  # Textual key names, comma separated
    action: str  # the action run on the scope's node (screen or widget)
    scope: str
    show: bool = True  # shown in the footer
    priority: bool = False

    def binding(self) -> Binding:
        return Binding(
            self.keys, self.action, self.description, show=self.show, id=self.id, priority=self.priority
        )


COMMANDS: tuple[Command, ...] = (
    # everywhere
    Command("app.help", "Show every command and its key", "question_mark", "app.show_help", "app"),
    Command("app.palette", "Find a command by name", "ctrl+p", "app.command_palette", "app", show=False),
    Command("app.theme", "Pick a theme", "ctrl+t", "app.change_theme", "app", show=False),
    Command("app.next-theme", "Switch to the next Kobold theme", "f9", "app.next_theme", "app", show=False),
    Command("app.quit", "Quit Kobold", "ctrl+q", "app.quit", "app", show=False, priority=True),
    # datasets home
    Command("home.open", "Open the selected dataset", "enter,o", "open_dataset", "home"),
    Command("home.new", "Create a dataset", "n", "new_dataset", "home"),
    Command("home.demo", "Create the demo dataset", "D", "create_demo", "home"),
    Command("home.refresh", "Reload the dataset list", "R", "refresh", "home", show=False),
    Command("home.sync", "Sync & relays", "s", "sync", "home"),
    Command("app.sync-now", "Sync with the relays now", "f5", "app.sync_now", "app", show=False),
    Command("home.palette", "Find a command by name", "colon", "app.command_palette", "home", show=False),
    Command("home.quit", "Quit Kobold", "q", "app.quit", "home"),
    # the dataset table
    Command("dataset.back", "Back to the datasets", "q", "back", "dataset"),
    Command("dataset.edit", "Edit the current cell", "e,enter", "edit_cell", "dataset"),
    Command("dataset.detail", "Open the current record", "o", "open_record", "dataset"),
    Command("dataset.add", "Add a record", "a", "add_record", "dataset"),
    Command("dataset.delete", "Delete the selected or current record(s)", "d", "delete_records", "dataset"),
    Command("dataset.select", "Select or unselect the current row", "space,v", "toggle_select", "dataset"),
    Command("dataset.unselect", "Clear the selection", "V", "clear_selection", "dataset", show=False),
    Command(
        "dataset.set-column", "Set this column on the selected rows", "equals_sign", "set_column", "dataset"
    ),
    Command(
        "dataset.sort-asc", "Sort by this column, ascending", "left_square_bracket", "sort(False)", "dataset"
    ),
    Command(
        "dataset.sort-desc",
        "Sort by this column, descending",
        "right_square_bracket",
        "sort(True)",
        "dataset",
    ),
    Command("dataset.unsort", "Back to the natural order", "backslash", "unsort", "dataset", show=False),
    Command("dataset.search", "Search all columns", "slash", "search", "dataset"),
    Command("dataset.filter", "Filter on this column", "f", "filter", "dataset"),
    Command("dataset.clear-filter", "Clear search and filters", "F", "clear_filters", "dataset"),
    Command("dataset.goto", "Go to row number", "colon,ctrl+g", "goto_row", "dataset"),
    Command(
        "dataset.jump", "Jump to the referenced record", "greater_than_sign", "jump_reference", "dataset"
    ),
    Command("dataset.undo", "Undo my last change", "u", "undo", "dataset"),
    Command("dataset.redo", "Redo the change I undid", "ctrl+r", "redo", "dataset"),
    Command("dataset.schema", "Edit the schema", "S", "edit_schema", "dataset"),
    Command("dataset.import", "Import a CSV file into this resource", "I", "import_records", "dataset"),
    Command("dataset.export", "Export this resource", "X", "export_records", "dataset"),
    Command("dataset.reload", "Reload the table", "R", "reload", "dataset", show=False),
    Command("dataset.merges", "Merge proposals and upstream changes", "M", "open_merges", "dataset"),
    Command("dataset.members", "Members and roles: who may write", "W", "open_members", "dataset"),
    # members & roles (kobold_tui/screens/roles.py)
    Command("roles.grant", "Grant a role (a person, petname or tribe)", "g,plus", "grant", "roles"),
    Command("roles.revoke", "Revoke the selected member's role", "x,delete", "revoke", "roles"),
    Command("roles.add-reader", "Tribe-read: give someone the dataset key", "m", "add_reader", "roles"),
    Command(
        "roles.remove-reader", "Tribe-read: remove a reader, rotate the key", "M", "remove_reader", "roles"
    ),
    Command("roles.back", "Back", "q,escape", "back", "roles"),
    # merge review (kobold_tui/screens/merge_review.py)
    Command("merge.accept-row", "Take this record's changes", "a", "accept_row", "merge"),
    Command("merge.reject-row", "Leave this record out", "x", "reject_row", "merge"),
    Command("merge.toggle-field", "Take or leave out this field", "space", "toggle_field", "merge"),
    Command(
        "merge.take-upstream",
        "Resolve this conflict with upstream's value",
        "U",
        "resolve('upstream')",
        "merge",
    ),
    Command(
        "merge.take-fork", "Resolve this conflict with the fork's value", "K", "resolve('fork')", "merge"
    ),
    Command(
        "merge.type-value",
        "Resolve this conflict with a value you type",
        "equals_sign",
        "type_value",
        "merge",
    ),
    Command("merge.accept-all", "Take every change", "A", "accept_all", "merge", show=False),
    Command("merge.reject-all", "Leave every change out", "X", "reject_all", "merge", show=False),
    Command("merge.detail", "Three-way detail of this record", "enter", "open_detail", "merge"),
    Command("merge.commit", "Accept what is selected (signs the decision)", "ctrl+s", "commit", "merge"),
    Command("merge.decline", "Reject the whole proposal with a message", "D", "decline", "merge"),
    Command("merge.back", "Back", "q,escape", "back", "merge"),
    Command("merge.down", "Down one record", "j", "move(1, 0)", "merge", show=False),
    Command("merge.up", "Up one record", "k", "move(-1, 0)", "merge", show=False),
    Command("merge.left", "Left one field", "h", "move(0, -1)", "merge", show=False),
    Command("merge.right", "Right one field", "l", "move(0, 1)", "merge", show=False),
    # moving in the grid
    Command("grid.down", "Down one row", "j,down", "cursor_down", "grid", show=False),
    Command("grid.up", "Up one row", "k,up", "cursor_up", "grid", show=False),
    Command("grid.left", "Left one column", "h,left", "cursor_left", "grid", show=False),
    Command("grid.right", "Right one column", "l,right", "cursor_right", "grid", show=False),
    Command("grid.page-down", "Down one page", "pagedown,ctrl+f", "page_down", "grid", show=False),
    Command("grid.page-up", "Up one page", "pageup,ctrl+b", "page_up", "grid", show=False),
    Command("grid.top", "First row", "g,home", "top", "grid", show=False),
    Command("grid.bottom", "Last row", "G,end", "bottom", "grid", show=False),
    Command("grid.first-column", "First column", "0,ctrl+home", "first_column", "grid", show=False),
    Command("grid.last-column", "Last column", "dollar_sign,ctrl+end", "last_column", "grid", show=False),
)

BY_ID = {c.id: c for c in COMMANDS}


def bindings(scope: str) -> list[BindingType]:
    """Textual bindings for one scope, each with its command id."""
    return [c.binding() for c in COMMANDS if c.scope == scope]


def for_scopes(scopes: Iterable[str]) -> list[Command]:
    wanted = set(scopes)
    return [c for c in COMMANDS if c.scope in wanted]


def current_keys(app: App[object], command: Command) -> str:
    """The keys bound to a command now, with config.toml's keymap applied."""
    return app._keymap.get(command.id, command.keys)


def display_keys(app: App[object], command: Command) -> str:
    return " ".join(
        app.get_key_display(Binding(k.strip(), "")) for k in current_keys(app, command).split(",")
    )


class KoboldCommands(Provider):
    """The command palette's view of the registry: the commands of the screen it was opened over."""

    def _commands(self) -> list[Command]:
        scopes = getattr(self.screen, "COMMAND_SCOPES", ())
        return for_scopes(("app", *scopes))

    async def _run(self, command: Command) -> None:
        target = getattr(self.screen, "command_target", None)
        node = target(command.scope) if target else self.screen
        await self.app.run_action(command.action, node)

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(
                command.description,
                partial(self._run, command),
                help=f"{command.id}  ·  {display_keys(self.app, command)}",
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            text = f"{command.description} ({command.id})"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(text),
                    partial(self._run, command),
                    help=display_keys(self.app, command),
                )
