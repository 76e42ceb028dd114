"""What one sync pass moved: events sent and received, refusals and rejections with reasons, relay health."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine import ingest


@dataclass
class SyncReport:
    sent: int = 0
    received: int = 0
    duplicates: int = 0
    pending: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # events refused on arrival
    refused: list[dict[str, str]] = field(default_factory=list)  # events a relay refused
    relays_ok: list[str] = field(default_factory=list)
    relays_failed: dict[str, str] = field(default_factory=dict)
    unreadable: int = 0  # sealed events this store has no key for
    bootstrapped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)  # datasets that received events

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent, "received": self.received, "duplicates": self.duplicates, "pending": self.pending,
            "rejected": [{"event": e, "reason": r} for e, r in self.rejected], "refused_by_relays": self.refused,
            "relays_ok": self.relays_ok, "relays_failed": self.relays_failed, "unreadable": self.unreadable,
            "bootstrapped": self.bootstrapped, "notes": self.notes, "changed": sorted(self.changed),
        }  # fmt: skip

    def absorb(self, r: ingest.IngestReport, ds: str) -> None:
        self.received += r.applied
        self.duplicates += r.duplicates
        self.pending = r.pending
        self.rejected += r.rejected
        if r.applied or r.snapshots:
            self.changed.add(ds)
