"""Which widget shows a resource: a registry keyed by (dataset type, resource name), the table as fallback.

A dataset type can bring its own view of a resource (a map of seed libraries, a calendar of harvests)
by registering a factory; anything not registered gets the generic `TableView`.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.schema import Resource
from engine.store import Store
from kobold_tui.undo import UndoStack
from kobold_tui.widgets.table_view import TableView

ViewFactory = Callable[[Store, str, Resource, UndoStack], TableView]
_VIEWS: dict[tuple[str | None, str | None], ViewFactory] = {}


def register_view(dataset_type: str | None, resource: str | None, factory: ViewFactory) -> None:
    """Use `factory` for `resource` in datasets of `dataset_type` (None matches any)."""
    _VIEWS[(dataset_type, resource)] = factory


def view_factory(dataset_type: str, resource: str) -> ViewFactory:
    """The most specific registered factory: (type, resource), then (type, any), then (any, resource)."""
    for key in ((dataset_type, resource), (dataset_type, None), (None, resource)):
        if key in _VIEWS:
            return _VIEWS[key]
    return TableView


def make_view(
    store: Store, dataset_type: str, dataset_id: str, res: Resource, history: UndoStack
) -> TableView:
    return view_factory(dataset_type, res.name)(store, dataset_id, res, history)
