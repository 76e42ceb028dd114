"""What a sync pass replicates (published, followed, and forks named by proposals) and through which relays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine import proposals
from sync import state

if TYPE_CHECKING:
    from engine.store import Store


@dataclass
class Target:
    """A dataset to replicate: known here (with its visibility) or only followed so far."""

    dataset_id: str
    visibility: str | None  # None: followed but not received yet
    owner: str | None


def targets(store: Store) -> list[Target]:
    with store.lock:
        known = {ds: vis for ds, vis in state.replicated(store)}
        out = [Target(ds, vis, None) for ds, vis in known.items()]
        for f in state.follows(store):
            if f.dataset_id not in known:
                row = store.con.execute(
                    "SELECT visibility FROM datasets WHERE id = ?", [f.dataset_id]
                ).fetchone()
                if row is None:
                    out.append(Target(f.dataset_id, None, f.owner))
            else:
                out[[t.dataset_id for t in out].index(f.dataset_id)].owner = f.owner
        # Forks named by merge proposals travel with them: the proposer's store sends the fork's events, the
        # maintainer's fetches them (a private fork is never sent: push checks visibility).
        for ds in sorted(set(proposals.datasets_to_fetch(store)) | _proposal_forks(store)):
            if ds not in {t.dataset_id for t in out}:
                out.append(Target(ds, state.visibility(store, ds), None))
    return out


def _proposal_forks(store: Store) -> set[str]:
    """Forks this store proposed from (their events must reach the relays with the proposal)."""
    return {p.fork for p in proposals.all_proposals(store) if p.author == store.identity.pubkey}


def relay_urls(store: Store) -> list[str]:
    """Configured relays plus the hints of followed datasets."""
    urls = list(store.config.relays)
    with store.lock:
        for f in state.follows(store):
            urls += [u for u in f.relays if u not in urls]
    return urls
