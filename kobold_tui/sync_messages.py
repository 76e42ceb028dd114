"""Messages the background sync worker posts to the app (posting is safe from the worker's thread)."""

from __future__ import annotations

from textual.message import Message

from sync.worker import SyncStatus


class SyncStatusChanged(Message):
    def __init__(self, status: SyncStatus) -> None:
        super().__init__()
        self.status = status


class RemoteChanges(Message):
    """Events from relays were applied to these datasets."""

    def __init__(self, dataset_ids: set[str]) -> None:
        super().__init__()
        self.dataset_ids = dataset_ids
