"""Schema editor: resources and their fields; every edit is one `apply_schema` call, so one schema event."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Label, Static, TextArea, Tree
from textual.widgets.tree import TreeNode

from engine import datasets, query
from kobold_tui import formula_preview, schema_specs
from kobold_tui.record_data import format_value, record_labels
from kobold_tui.screens.field_spec import FieldSpec, FieldSpecScreen
from kobold_tui.screens.text_prompt import TextPromptScreen

if TYPE_CHECKING:
    from engine.store import Store

NodeData = tuple[str, ...]  # ("resource", name) | ("field", resource, name) | ("computed", resource, name)


class SchemaEditorScreen(Screen[None]):
    """Browse and change a dataset's resources and fields."""

    DEFAULT_CSS = """
    SchemaEditorScreen #schema-main { height: 1fr; }
    SchemaEditorScreen #schema-tree { width: 40%; border-right: solid $primary; }
    SchemaEditorScreen #schema-side { width: 1fr; padding: 0 1; }
    SchemaEditorScreen #schema-title { text-style: bold; color: $accent; }
    SchemaEditorScreen #formula { height: 8; display: none; }
    SchemaEditorScreen #formula.-shown { display: block; }
    SchemaEditorScreen #try-output { color: $text-muted; }
    SchemaEditorScreen #schema-message { color: $error; }
    SchemaEditorScreen #schema-message.-ok { color: $success; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "back", "Back", id="schema_editor.back"),
        Binding("escape", "back", "Back", show=False, id="schema_editor.back_escape"),
        Binding("a", "add_field", "Add field", id="schema_editor.add_field"),
        Binding("n", "new_resource", "New resource", id="schema_editor.new_resource"),
        Binding("r", "rename", "Rename", id="schema_editor.rename"),
        Binding("e", "edit_field", "Type/options", id="schema_editor.edit_field"),
        Binding("d", "remove", "Remove", id="schema_editor.remove"),
        Binding("t", "try_formula", "Try formula", id="schema_editor.try_formula"),
        Binding("ctrl+s", "save_formula", "Save formula", priority=True, id="schema_editor.save_formula"),
    ]

    class Loaded(Message):
        def __init__(self, name: str, definitions: list[dict[str, Any]]) -> None:
            super().__init__()
            self.name = name
            self.definitions = definitions

    class Applied(Message):
        def __init__(self, text: str, select: NodeData | None) -> None:
            super().__init__()
            self.text = text
            self.select = select

    class Failed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Tried(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, store: Store, dataset_id: str) -> None:
        super().__init__()
        self.store = store
        self.dataset_id = dataset_id
        self.definitions: list[dict[str, Any]] = []
        self._select_after_load: NodeData | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="schema-main"):
            tree: Tree[NodeData] = Tree("schema", id="schema-tree")
            tree.show_root = False
            yield tree
            with Vertical(id="schema-side"):
                yield Label("", id="schema-title")
                yield Static("", id="schema-info")
                yield _formula_area()
                yield Static("", id="try-output")
                yield Static("", id="schema-message")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def reload(self, select: NodeData | None = None) -> None:
        self._select_after_load = select or self.selected
        self._load()

    @work(thread=True, exclusive=True, group="schema-load")
    def _load(self) -> None:
        try:
            with self.store.lock:
                name = datasets.info(self.store, self.dataset_id).name
                defs = [r.definition for r in datasets.resources(self.store, self.dataset_id)]
        except Exception as exc:
            self.post_message(self.Failed(str(exc)))
            return
        self.post_message(self.Loaded(name, defs))

    @on(Loaded)
    def _fill(self, message: Loaded) -> None:
        self.definitions = message.definitions
        tree: Tree[NodeData] = self.query_one("#schema-tree", Tree)
        tree.clear()
        tree.root.set_label(message.name)
        wanted: TreeNode[NodeData] | None = None
        for d in message.definitions:
            node = tree.root.add(Text(d["name"], style="bold"), data=("resource", d["name"]), expand=True)
            wanted = wanted or (node if node.data == self._select_after_load else None)
            for f in d["fields"]:
                if f.get("removed"):
                    continue
                label = Text(f["name"])
                if f["required"]:
                    label.append(" *", style="red")
                label.append(f"  {f['type']}", style="dim")
                if f.get("target"):
                    label.append(f" → {f['target']}", style="dim")
                leaf = node.add_leaf(label, data=("field", d["name"], f["name"]))
                wanted = wanted or (leaf if leaf.data == self._select_after_load else None)
            for c in d.get("computed", []):
                leaf = node.add_leaf(
                    Text.assemble(("ƒ ", "magenta"), c["name"], (f"  {c['type']}", "dim")),
                    data=("computed", d["name"], c["name"]),
                )
                wanted = wanted or (leaf if leaf.data == self._select_after_load else None)
        if wanted is None and tree.root.children:
            wanted = tree.root.children[0]
        tree.focus()
        if wanted is not None:
            _ = tree.last_line  # builds the tree's lines, so the node knows its line
            tree.move_cursor(wanted)
        self._describe()

    # --- what is selected -------------------------------------------------------------------------------

    @property
    def selected(self) -> NodeData | None:
        if not self.is_mounted:
            return None
        node = self.query_one("#schema-tree", Tree).cursor_node
        return node.data if node is not None else None

    def _definition(self, name: str) -> dict[str, Any]:
        return next(d for d in self.definitions if d["name"] == name)

    def _field(self, resource: str, name: str) -> dict[str, Any]:
        return next(
            f for f in self._definition(resource)["fields"] if f["name"] == name and not f.get("removed")
        )

    def _computed(self, resource: str, name: str) -> dict[str, Any]:
        return next(c for c in self._definition(resource).get("computed", []) if c["name"] == name)

    @on(Tree.NodeHighlighted)
    def _describe(self) -> None:
        sel = self.selected
        title = self.query_one("#schema-title", Label)
        info = self.query_one("#schema-info", Static)
        formula = self.query_one("#formula", TextArea)
        formula.set_class(False, "-shown")
        self.query_one("#try-output", Static).update("")
        if sel is None:
            title.update("No resources yet: press n to add one.")
            info.update("")
            return
        if sel[0] == "resource":
            d = self._definition(sel[1])
            title.update(f"Resource {d['name']}")
            fields = [f for f in d["fields"] if not f.get("removed")]
            info.update(
                f"{d.get('description') or 'No description.'}\n"
                f"{len(fields)} field(s), {len(d.get('computed', []))} computed.\n"
                "a add field · r rename · d remove resource"
            )
        elif sel[0] == "field":
            f = self._field(sel[1], sel[2])
            title.update(f"{sel[1]}.{f['name']}")
            info.update(_field_text(f))
        else:
            c = self._computed(sel[1], sel[2])
            title.update(f"{sel[1]}.{c['name']} (computed {c['type']})")
            info.update(
                c.get("description") or "A formula; t tries it on the first records, ctrl+s saves it."
            )
            formula.load_text(c["formula"])
            formula.set_class(True, "-shown")

    # --- changes ---------------------------------------------------------------------------------------

    def _apply(self, specs: list[dict[str, Any]], done: str, select: NodeData | None) -> None:
        def change() -> str:
            applied = datasets.apply_schema(self.store, self.dataset_id, specs)
            return done if applied else "Nothing changed."

        self._run(change, select)

    @work(thread=True, exclusive=True, group="schema-apply")
    def _run(self, change: Callable[[], str], select: NodeData | None) -> None:
        try:
            with self.store.lock:
                text = change()
        except Exception as exc:
            self.post_message(self.Failed(str(exc)))
            return
        self.post_message(self.Applied(text, select))

    @on(Applied)
    def _applied(self, message: Applied) -> None:
        self._message(message.text, ok=True)
        self.reload(message.select)

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self._message(message.text, ok=False)
        self.notify(message.text, severity="error", title="Schema not changed")

    def _message(self, text: str, *, ok: bool) -> None:
        widget = self.query_one("#schema-message", Static)
        widget.update(Text(text))
        widget.set_class(ok, "-ok")

    def _resource_names(self) -> list[str]:
        return [d["name"] for d in self.definitions]

    def action_add_field(self) -> None:
        sel = self.selected
        if sel is None:
            self.notify("Add a resource first (n).")
            return
        resource = sel[1]

        def add(result: FieldSpec | None) -> None:
            if result:
                name, options = result
                specs = schema_specs.add_field(self._definition(resource), name, options)
                self._apply(specs, f"Added {resource}.{name}.", ("field", resource, name))

        self.app.push_screen(FieldSpecScreen(f"New field of {resource}", self._resource_names()), add)

    def action_edit_field(self) -> None:
        sel = self.selected
        if sel is None or sel[0] != "field":
            self.notify("Select a field to change its type or options.")
            return
        resource, name = sel[1], sel[2]

        def change(result: FieldSpec | None) -> None:
            if result:
                new_name, options = result
                specs = schema_specs.change_field(self._definition(resource), name, new_name, options)
                self._apply(specs, f"Changed {resource}.{new_name}.", ("field", resource, new_name))

        screen = FieldSpecScreen(
            f"Change {resource}.{name}", self._resource_names(), self._field(resource, name)
        )
        self.app.push_screen(screen, change)

    def action_new_resource(self) -> None:
        def create(name: str | None) -> None:
            if name:
                self._apply(schema_specs.new_resource(name), f"Created {name}.", ("resource", name))

        self.app.push_screen(TextPromptScreen("New resource", "Its name (letters, digits and _)."), create)

    def action_rename(self) -> None:
        sel = self.selected
        if sel is None or sel[0] == "computed":
            self.notify("Select a resource or a field to rename.")
            return

        def rename(new: str | None) -> None:
            if not new or sel is None:
                return
            if sel[0] == "resource":
                specs = schema_specs.rename_resource(self.definitions, sel[1], new)
                self._apply(specs, f"Renamed {sel[1]} to {new}.", ("resource", new))
            else:
                specs = schema_specs.rename_field(self._definition(sel[1]), sel[2], new)
                self._apply(specs, f"Renamed {sel[1]}.{sel[2]} to {new}.", ("field", sel[1], new))

        self.app.push_screen(TextPromptScreen(f"Rename {'.'.join(sel[1:])}", value=sel[-1]), rename)

    def action_remove(self) -> None:
        sel = self.selected
        if sel is None:
            return
        what = ".".join(sel[1:])
        if sel[0] == "resource":
            users = schema_specs.referrers(self.definitions, sel[1])
            if users:
                self._message(f"{sel[1]} is referred to by {', '.join(users)}; change those first.", ok=False)
                return
            message = f"Remove the resource {what} and hide its records? Its history stays in the log."
        else:
            message = f"Remove {what}? Its values stay in the history."

        def remove(answer: str | None) -> None:
            if answer != "yes":
                return
            if sel[0] == "resource":
                resource = sel[1]

                def drop() -> str:
                    datasets.remove_resource(self.store, self.dataset_id, resource)
                    return f"Removed {resource}."

                self._run(drop, None)
            else:
                self._apply(schema_specs.remove_field(self._definition(sel[1]), sel[2]), f"Removed {what}.",
                            ("resource", sel[1]))  # fmt: skip

        self.app.push_screen(TextPromptScreen(f"Remove {what}", message, confirm_only=True), remove)

    def action_save_formula(self) -> None:
        sel = self.selected
        if sel is None or sel[0] != "computed":
            return
        source = self.query_one("#formula", TextArea).text
        specs = schema_specs.set_formula(self._definition(sel[1]), sel[2], source)
        self._apply(specs, f"Saved the formula of {sel[1]}.{sel[2]}.", sel)

    def action_try_formula(self) -> None:
        sel = self.selected
        if sel is None or sel[0] != "computed":
            self.notify("Select a computed field (ƒ) to try its formula.")
            return
        self._try(sel[1], sel[2], self.query_one("#formula", TextArea).text)

    @work(thread=True, exclusive=True, group="schema-try")
    def _try(self, resource: str, name: str, source: str) -> None:
        try:
            with self.store.lock:
                res = datasets.resource(self.store, self.dataset_id, resource)
                page = query.page(self.store, self.dataset_id, query.Query(resource), limit=3)
                rows = [dict(zip(page.columns, row, strict=True)) for row in page.rows]
                labels = record_labels(self.store, self.dataset_id, resource, [r["_id"] for r in rows])
                result_type = next((c["type"] for c in res.computed if c["name"] == name), "any")
                results = formula_preview.evaluate(
                    self.store, source, rows, result_type=result_type, dataset_id=self.dataset_id,
                    definition=res.definition,
                )  # fmt: skip
        except Exception as exc:
            self.post_message(self.Tried(f"Could not try it: {exc}"))
            return
        if not rows:
            text = "No records to try it on yet."
        else:
            text = "\n".join(
                f"{labels.get(row['_id'], row['_id'])} → {result}"
                for row, result in zip(rows, results, strict=False)
            )
        self.post_message(self.Tried(text))

    @on(Tried)
    def _tried(self, message: Tried) -> None:
        self.query_one("#try-output", Static).update(Text(message.text))

    def action_back(self) -> None:
        self.dismiss(None)


def _formula_area() -> TextArea:
    """A TextArea highlighting JavaScript when tree-sitter is installed, plain text otherwise."""
    try:
        return TextArea("", language="javascript", id="formula", soft_wrap=True)
    except Exception:
        return TextArea("", id="formula", soft_wrap=True)


def _field_text(f: dict[str, Any]) -> Text:
    text = Text()
    rows = [
        ("type", f["type"] + (f"({f['scale']})" if "scale" in f else "")),
        ("required", "yes" if f["required"] else "no"),
        ("unique", "yes" if f["unique"] else "no"),
    ]
    if "choices" in f:
        rows.append(("choices", ", ".join(f["choices"])))
    if "target" in f:
        rows.append(("target", f["target"]))
    if "default" in f:
        rows.append(("default", format_value(f["default"])))
    rows.append(("description", f.get("description") or "—"))
    rows.append(("key", f["key"]))
    for label, value in rows:
        text.append(f"{label:<12}", style="dim")
        text.append(f"{value}\n")
    text.append("e type/options · r rename · d remove", style="dim")
    return text
