"""Merge review: the inbox of proposals of a dataset, the three-way diff of one proposal (or of the upstream's
changes for a fork), and a record's full three-way detail. Everything reads the local store, so it works offline;
the decision is a local signed event that sync publishes later.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, Static

from engine import forks, history, merge, proposals
from engine.errors import KoboldError
from engine.identity import short_npub
from engine.schema import describe_change
from engine.store import Store
from kobold_tui import commands
from kobold_tui.screens.prompt import PromptScreen
from kobold_tui.widgets.diff_table import DiffTable
from kobold_tui.widgets.steady_footer import SteadyFooter

KIND_STYLE = {"added": "green", "changed": "yellow", "deleted": "red", "conflict": "bold magenta"}
FIXED_COLUMNS = ("take", "change", "resource", "record")
PULL = "pull"  # the inbox row that stands for the upstream's newer changes


def short(value: Any, width: int = 18) -> str:
    text = "∅" if value is None else (", ".join(map(str, value)) if isinstance(value, list) else str(value))
    return text if len(text) <= width else text[: width - 1] + "…"


class MergeInboxScreen(Screen[None]):
    """Proposals to and from one dataset (open, accepted, partial, rejected) and, for a fork, the upstream."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,o", "open", "Review", id="merge-inbox.open"),
        Binding("q,escape", "back", "Back", id="merge-inbox.back"),
        Binding("R", "refresh", "Reload", id="merge-inbox.refresh", show=False),
    ]
    DEFAULT_CSS = "MergeInboxScreen #inbox { height: 1fr; } MergeInboxScreen #hint { padding: 0 1; }"

    class Loaded(Message):
        def __init__(self, items: list[dict[str, Any]], is_fork: bool) -> None:
            super().__init__()
            self.items = items
            self.is_fork = is_fork

    def __init__(self, store: Store, dataset_id: str) -> None:
        super().__init__()
        self.store = store
        self.dataset_id = dataset_id
        self.items: list[dict[str, Any]] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        table: DataTable[str] = DataTable(id="inbox", cursor_type="row", zebra_stripes=True)
        for label, width in (("Status", 12), ("Title", 30), ("From fork", 20), ("To", 20), ("Author", 16),
                             ("Events", 7)):  # fmt: skip
            table.add_column(label, width=width)
        yield table
        yield Static("", id="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Merge proposals"
        self.action_refresh()

    def on_screen_resume(self) -> None:
        if self.loaded:
            self.action_refresh()

    def action_refresh(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="merge-inbox", exit_on_error=False)
    def _load(self) -> None:
        with self.store.lock:
            items = proposals.listing(self.store, self.dataset_id)
            is_fork = forks.origin_of(self.store, self.dataset_id) is not None
        self.post_message(self.Loaded(items, is_fork))

    def on_merge_inbox_screen_loaded(self, event: Loaded) -> None:
        self.loaded = True
        self.items = ([{"id": PULL}] if event.is_fork else []) + event.items
        table = self.query_one(DataTable)
        table.clear()
        for item in self.items:
            if item["id"] == PULL:
                table.add_row(Text("upstream", style="cyan"), "Newer changes of the upstream", "", "", "", "",
                              key=PULL)  # fmt: skip
                continue
            status = item["status"] + (f" ({item['missing']} missing)" if item.get("missing") else "")
            style = {"open": "bold", "accepted": "green", "partial": "yellow", "rejected": "red"}.get(
                item["status"]
            )
            table.add_row(Text(status, style=style or ""), item["title"], item["fork_name"], item["upstream_name"],
                          short_npub(item["author"]), str(item["events"]), key=item["id"])  # fmt: skip
        hint = "No proposals yet." if not self.items else "Enter reviews the selected proposal."
        self.query_one("#hint", Static).update(hint)
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if not self.items or table.cursor_row >= len(self.items):
            return
        item = self.items[table.cursor_row]
        if item["id"] == PULL:
            self.app.push_screen(MergeReviewScreen(self.store, fork_id=self.dataset_id))
        elif item["status"] == "open":
            self.app.push_screen(MergeReviewScreen(self.store, proposal_id=item["id"]))
        else:
            who = short_npub(item["decided_by"]) if item.get("decided_by") else ""
            self.notify(f"{item['status']} by {who}: {item.get('message') or 'no message'}")

    def action_back(self) -> None:
        self.dismiss(None)


class MergeReviewScreen(Screen[None]):
    """The three-way diff as a table: one row per changed record, a column per changed field. The table paints
    only the rows on screen (`DiffTable`), so a 10k-record proposal opens as fast as a small one."""

    COMMAND_SCOPES = ("merge",)
    BINDINGS: ClassVar[list[BindingType]] = commands.bindings("merge")
    DEFAULT_CSS = """
    MergeReviewScreen #about { height: auto; padding: 0 1; color: $text-muted; }
    MergeReviewScreen #diff { height: 1fr; }
    MergeReviewScreen #summary { height: 1; padding: 0 1; background: $panel; }
    """

    class Loaded(Message):
        def __init__(self, review: merge.Review, plan: merge.Plan) -> None:
            super().__init__()
            self.review = review
            self.plan = plan  # of the default choices (everything taken), made in the worker too

    class Failed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class Decided(Message):
        def __init__(self, result: dict[str, Any]) -> None:
            super().__init__()
            self.result = result

    def __init__(self, store: Store, proposal_id: str | None = None, fork_id: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.proposal_id = proposal_id
        self.fork_id = fork_id
        self.review: merge.Review | None = None
        self.choices = merge.Choices()
        self.columns: list[str] = []
        self.rows: list[merge.RecordDiff] = []
        self.plan: merge.Plan | None = None
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Reading the proposal…", id="about")
        yield DiffTable(lambda index: self._cells(self.rows[index]), id="diff")
        yield Static("", id="summary")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.title = "Merge review" if self.proposal_id else "Upstream changes"
        self._load()

    @work(thread=True, exclusive=True, group="merge-review", exit_on_error=False)
    def _load(self) -> None:
        try:
            with self.store.lock:
                if self.proposal_id:
                    review = merge.review_proposal(self.store, self.proposal_id)
                else:
                    assert self.fork_id is not None
                    review = merge.review_pull(self.store, self.fork_id)
        except KoboldError as exc:
            self.post_message(self.Failed(str(exc)))
            return
        self.post_message(self.Loaded(review, merge.make_plan(review, merge.Choices())))

    def on_merge_review_screen_failed(self, event: Failed) -> None:
        self.query_one("#about", Static).update(event.error)
        self.notify(event.error, severity="error")

    def on_merge_review_screen_loaded(self, event: Loaded) -> None:
        review = self.review = event.review
        self.rows = review.records
        p = review.proposal
        about = (
            f"[b]{p.title}[/b] · by {short_npub(p.author)} · {p.message}" if p
            else f"Changes of the upstream since this fork's base · {len(review.upstream_heads)} head(s)"
        )  # fmt: skip
        if review.schema:
            about += "\nSchema: " + "; ".join(
                f"{s.name}: {', '.join(describe_change(c) for c in s.changes)}"
                + (" (conflict)" if s.conflict else "")
                for s in review.schema
            )
        self.query_one("#about", Static).update(about)
        names: list[str] = []
        for r in self.rows:
            for f in r.fields:
                if f.name not in names:
                    names.append(f.name)
        self.columns = names
        table = self.query_one(DiffTable)
        table.set_rows([*FIXED_COLUMNS, *names], len(self.rows))
        self.loaded = True
        if names:
            table.move_cursor(row=0, column=len(FIXED_COLUMNS))
        table.focus()
        self._update_summary(event.plan)

    # cells -------------------------------------------------------------------------------------------------

    def _cells(self, r: merge.RecordDiff) -> list[Text]:
        taken = self.choices.accepted(r.record_id)
        open_conflicts = [k for k in r.conflicts if taken and self.choices.accepted(r.record_id, k)
                          and self.choices.resolution(r.record_id, k) is None]  # fmt: skip
        mark = (
            Text("!", "bold magenta") if open_conflicts else Text("✓", "green") if taken else Text("✗", "red")
        )
        style = KIND_STYLE[r.kind]
        life = {"create": " (new)", "delete": " (deleted)", "restore": " (restored)"}.get(r.life or "", "")
        if r.life_conflict:
            life = " (deleted on one side)"
        cells = [mark, Text(r.kind + life, style), Text(r.resource_name), Text(r.record_id[:12])]
        by_name = {f.name: f for f in r.fields}
        for name in self.columns:
            f = by_name.get(name)
            cells.append(self._field_cell(r, f) if f else Text(""))
        return cells

    def _field_cell(self, r: merge.RecordDiff, f: merge.FieldDiff) -> Text:
        assert self.review is not None
        incoming = f.fork if self.review.incoming_side == "fork" else f.upstream
        if f.conflict:
            res = self.choices.resolution(r.record_id, f.key)
            if res is None:
                text = f"{short(f.upstream, 10)} ≠ {short(f.fork, 10)}"
                style = KIND_STYLE["conflict"]
            else:
                chosen = (
                    res.value if res.side == "value" else (f.upstream if res.side == "upstream" else f.fork)
                )
                text, style = f"✓ {short(chosen)} ({res.side})", "cyan"
        else:
            old = f.upstream if self.review.incoming_side == "fork" else f.fork
            text, style = f"{short(old, 10)} → {short(incoming, 10)}", KIND_STYLE[r.kind]
        if not (self.choices.accepted(r.record_id) and self.choices.accepted(r.record_id, f.key)):
            style = "dim strike"
        return Text(text, style)

    def _refresh_row(self, index: int) -> None:
        self.query_one(DiffTable).refresh_row(index)
        self._update_summary()

    def _refresh_all(self) -> None:
        self.query_one(DiffTable).refresh_rows()
        self._update_summary()

    def _update_summary(self, plan: merge.Plan | None = None) -> None:
        """The summary bar, from the plan of the current choices (`plan`: one already made for them)."""
        if self.review is None:
            return
        self.plan = plan if plan is not None else merge.make_plan(self.review, self.choices)
        left = len(self.plan.unresolved)
        taken = sum(1 for r in self.rows if self.choices.accepted(r.record_id))
        text = (
            f"{taken} accepted, {len(self.rows) - taken} rejected, "
            f"[{'bold magenta' if left else 'green'}]{left} conflicts left[/]"
            f" · {len(self.rows)} changed record(s), {len(self.review.schema)} schema change(s)"
        )
        self.query_one("#summary", Static).update(text)

    # the current row and field ----------------------------------------------------------------------------

    def _current(self) -> tuple[int, merge.RecordDiff, merge.FieldDiff | None] | None:
        table = self.query_one(DiffTable)
        if not self.rows or table.cursor_row >= len(self.rows):
            return None
        r = self.rows[table.cursor_row]
        col = table.cursor_column - len(FIXED_COLUMNS)
        name = self.columns[col] if 0 <= col < len(self.columns) else None
        f = next((x for x in r.fields if x.name == name), None)
        return table.cursor_row, r, f

    # commands ---------------------------------------------------------------------------------------------

    def action_accept_row(self) -> None:
        cur = self._current()
        if cur:
            i, r, _ = cur
            self.choices.rejected = {x for x in self.choices.rejected if x.split(".")[0] != r.record_id}
            self._refresh_row(i)

    def action_reject_row(self) -> None:
        cur = self._current()
        if cur:
            self.choices.rejected.add(cur[1].record_id)
            self._refresh_row(cur[0])

    def action_toggle_field(self) -> None:
        cur = self._current()
        f = cur[2] if cur else None
        if cur is None or f is None:
            self.notify("Move to a field of this record to take or leave it out.", severity="warning")
            return
        i, r = cur[0], cur[1]
        item = f"{r.record_id}.{f.key}"
        self.choices.rejected.symmetric_difference_update({item})
        self._refresh_row(i)

    def action_resolve(self, side: str) -> None:
        cur = self._current()
        if cur is None:
            return
        i, r, f = cur
        if f is None and r.life_conflict:
            self.choices.resolutions[f"{r.record_id}.{merge.LIFE}"] = merge.Resolution(side)
        elif f is None or not f.conflict:
            self.notify("The current cell is not a conflict.", severity="warning")
            return
        else:
            self.choices.resolutions[f"{r.record_id}.{f.key}"] = merge.Resolution(side)
        self._refresh_row(i)

    def action_type_value(self) -> None:
        cur = self._current()
        found = cur[2] if cur else None
        if cur is None or found is None or not found.conflict or self.review is None:
            self.notify("Move to a conflicting field to type its value.", severity="warning")
            return
        i, r, f, review = cur[0], cur[1], found, self.review

        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                with self.store.lock:
                    value = merge.typed_value(self.store, review, r, f.key, text)
            except KoboldError as exc:
                self.notify(str(exc), severity="error")
                return
            self.choices.resolutions[f"{r.record_id}.{f.key}"] = merge.Resolution("value", value)
            self._refresh_row(i)

        self.app.push_screen(
            PromptScreen(f"Value of {f.name} for {r.record_id[:12]}:", short(f.fork, 80)), done
        )

    def action_accept_all(self) -> None:
        self.choices.rejected.clear()
        self.choices.rejected_schema.clear()
        self._refresh_all()

    def action_reject_all(self) -> None:
        self.choices.rejected = {r.record_id for r in self.rows}
        self._refresh_all()

    def action_open_detail(self) -> None:
        cur = self._current()
        if cur and self.review:
            self.app.push_screen(RecordThreeWayScreen(self.store, self.review, cur[1]))

    def on_diff_table_cell_selected(self, event: DiffTable.CellSelected) -> None:
        event.stop()
        self.action_open_detail()

    def action_commit(self) -> None:
        if self.review is None or self.plan is None:
            return
        if self.plan.unresolved:
            self.notify(
                f"{len(self.plan.unresolved)} conflict(s) left in what you accept: resolve them (U, K or =) or "
                "leave those records out (x) first.",
                severity="error",
            )
            return
        self._decide(None)

    def action_decline(self) -> None:
        if self.review is None or self.review.proposal is None:
            self.notify(
                "Upstream changes are pulled or left; there is nothing to reject.", severity="warning"
            )
            return

        def done(message: str | None) -> None:
            if message is not None:
                self._decide(message)

        self.app.push_screen(PromptScreen("Reject the whole proposal. Message to its author:"), done)

    @work(thread=True, exclusive=True, group="merge-decide", exit_on_error=False)
    def _decide(self, reject_message: str | None) -> None:
        review = self.review
        assert review is not None
        try:
            with self.store.lock:
                if reject_message is not None:
                    assert review.proposal is not None
                    result = merge.reject(self.store, review.proposal.id, reject_message)
                elif review.proposal is not None:
                    result = merge.accept(self.store, review.proposal.id, self.choices)
                else:
                    result = merge.pull(self.store, review.fork, self.choices)
        except KoboldError as exc:
            self.post_message(self.Failed(str(exc)))
            return
        self.post_message(self.Decided(result))

    def on_merge_review_screen_decided(self, event: Decided) -> None:
        r = event.result
        self.notify(f"Decision signed: {r['status']} ({r.get('records', 0)} record(s)); sync publishes it.")
        self.dismiss(None)

    def action_move(self, rows: int, columns: int) -> None:
        table = self.query_one(DiffTable)
        table.move_cursor(row=table.cursor_row + rows, column=table.cursor_column + columns)

    def action_back(self) -> None:
        self.dismiss(None)


class RecordThreeWayScreen(ModalScreen[None]):
    """One record: every changed field as base, upstream and fork, and each side's history of the record."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,enter", "close", "Close", id="merge-detail.close")
    ]
    DEFAULT_CSS = """
    RecordThreeWayScreen { align: center middle; }
    RecordThreeWayScreen > Vertical { width: 90%; height: 90%; border: thick $primary; background: $surface;
                                      padding: 0 1; }
    RecordThreeWayScreen DataTable { height: auto; max-height: 50%; }
    RecordThreeWayScreen #histories { height: 1fr; overflow-y: auto; }
    """

    def __init__(self, store: Store, review: merge.Review, record: merge.RecordDiff) -> None:
        super().__init__()
        self.store = store
        self.review = review
        self.record = record

    def compose(self) -> ComposeResult:
        r = self.record
        with Vertical():
            yield Static(f"[b]{r.resource_name} {r.record_id}[/b] · {r.kind}")
            table: DataTable[Any] = DataTable(cursor_type="row")
            table.add_columns("field", "base", "upstream now", "fork now", "by")
            for f in r.fields:
                style = KIND_STYLE["conflict" if f.conflict else r.kind]
                author = self.review.authors.get(f.incoming_event or "")
                table.add_row(Text(f.name, style), short(f.base, 30), short(f.upstream, 30), short(f.fork, 30),
                              short_npub(author) if author else "")  # fmt: skip
            yield table
            yield Static(self._histories(), id="histories")

    def _histories(self) -> str:
        lines = []
        with self.store.lock:
            for side, ds in (("upstream", self.review.upstream), ("fork", self.review.fork)):
                lines.append(f"\n[b]{side} history[/b]")
                try:
                    entries = history.history(self.store, ds, self.record.resource, self.record.record_id)
                except KoboldError:
                    entries = []
                for e in entries[-12:]:
                    changes = "; ".join(
                        f"{k}: {short(o, 12)} → {short(n, 12)}" for k, (o, n) in e.changes.items()
                    )
                    via = " (accepted in a merge)" if e.accepted else ""
                    mark = "✓" if e.verified else "✗"
                    lines.append(f"{mark} {e.author_name or short_npub(e.author)} {e.op}{via}: {changes}")
                if not entries:
                    lines.append("(no history on this side)")
        return "\n".join(lines)

    def action_close(self) -> None:
        self.dismiss(None)
