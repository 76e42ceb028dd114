"""Merge proposals: a fork's author asks the upstream to take the fork's changes.

A proposal is a signed kind-4874 event in the upstream's log space (tag D = upstream, F = fork) with no parents: it
is not part of the upstream's history and never becomes a head; it names the base (the upstream heads the fork has
incorporated) and the fork's events it offers. The events travel separately, keeping their authors' signatures:
in a proposal bundle (`export_bundle`) or over relays (`datasets_to_fetch` tells sync which forks to fetch).
Decisions are kind-4875 events in the upstream log (engine/merge.py writes them).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from engine import forks, writes
from engine.apply import insert_event_rows
from engine.errors import NotFound
from engine.forks import ForkError
from engine.merge_content import TAG_FORK, StoredDecision, decisions_in
from engine.nostr_event import sign_event
from engine.protocol import KIND_CHANGESET, KIND_DECISION, KIND_GENESIS, KIND_PROPOSAL, KIND_SCHEMA

if TYPE_CHECKING:
    from engine.apply import Checked
    from engine.ingest import IngestReport
    from engine.store import Store

# The fork's own events a proposal offers: its changes, and what it pulled from upstream (the three-way needs them).
OFFERED_KINDS = (KIND_SCHEMA, KIND_CHANGESET, KIND_DECISION)


@dataclass(frozen=True)
class Proposal:
    id: str
    upstream: str
    fork: str
    author: str
    created_at: int
    base: list[str]
    events: list[str]
    title: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "upstream": self.upstream, "fork": self.fork, "author": self.author,
            "created_at": self.created_at, "base": self.base, "events": self.events, "title": self.title,
            "message": self.message,
        }  # fmt: skip


def _from_raw(raw: str) -> Proposal:
    ev = orjson.loads(raw)
    body = orjson.loads(ev["content"])
    upstream = next(t[1] for t in ev["tags"] if t[0] == "D")
    return Proposal(
        ev["id"], upstream, body["fork"], ev["pubkey"], int(ev["created_at"]), list(body["base"]),
        list(body["events"]), str(body.get("title", "")), str(body.get("message", "")),
    )  # fmt: skip


def get(store: Store, ref: str) -> Proposal:
    """A stored proposal by id or unique id prefix (at least 6 characters)."""
    rows = store.con.execute(
        "SELECT raw FROM events WHERE kind = ? AND (id = ? OR (length(?) >= 6 AND starts_with(id, ?)))",
        [KIND_PROPOSAL, ref, ref, ref],
    ).fetchall()
    if not rows:
        raise NotFound(f"No merge proposal {ref!r} in this store; `kobold proposals list` shows them.")
    if len(rows) > 1:
        raise NotFound(f"{ref!r} matches {len(rows)} proposals; give more of the id.")
    return _from_raw(rows[0][0])


def all_proposals(store: Store, dataset_id: str | None = None) -> list[Proposal]:
    """Proposals to or from a dataset (all when None), newest first."""
    rows = store.con.execute(
        "SELECT raw FROM events WHERE kind = ? ORDER BY created_at DESC, id", [KIND_PROPOSAL]
    ).fetchall()
    out = [_from_raw(r[0]) for r in rows]
    if dataset_id is not None:
        out = [p for p in out if dataset_id in (p.upstream, p.fork)]
    return out


# --- proposing -----------------------------------------------------------------------------------------------


def accepted_events(store: Store, fork_id: str, upstream_id: str) -> set[str]:
    """The fork's events an accepted (or partly accepted) merge already took, with their ancestors."""
    taken: list[str] = []
    for d in decisions_in(store, upstream_id):
        mine = d.body.get("direction") == "accept" and d.body.get("fork") == fork_id and d.part == 0
        if mine and d.body.get("status") in ("accepted", "partial"):
            try:
                taken += get(store, str(d.body["proposal"])).events
            except NotFound:
                continue  # a decision on a proposal made elsewhere: it took none of this store's offers
    return forks.ancestors(store, fork_id, taken) if taken else set()


def offered_events(store: Store, fork_id: str, upstream_id: str) -> list[str]:
    """The fork's events since its genesis, or since the last accepted merge, parents first."""
    done = accepted_events(store, fork_id, upstream_id)
    rows = store.con.execute(
        "SELECT id FROM events WHERE dataset_id = ? AND kind IN (?, ?, ?) ORDER BY clock, id",
        [fork_id, *OFFERED_KINDS],
    ).fetchall()
    return [r[0] for r in rows if r[0] not in done]


def create(store: Store, fork_id: str, title: str = "", message: str = "") -> Proposal:
    """Sign a proposal offering the fork's new events to its origin; stored here like one received."""
    origin = forks.origin_of(store, fork_id)
    if origin is None:
        raise ForkError(
            "This dataset is not a fork; `kobold fork DS` makes one, and only a fork can propose."
        )
    upstream = origin["dataset"]
    if not store.con.execute("SELECT 1 FROM datasets WHERE id = ?", [upstream]).fetchone():
        raise ForkError(f"The fork's upstream {upstream} is not in this store; import or sync it first.")
    events = offered_events(store, fork_id, upstream)
    if not events:
        raise ForkError("The fork has no changes since its last accepted merge; edit it before proposing.")
    base = forks.current_base(store, fork_id)
    title = title.strip() or f"Changes from {origin_name(store, fork_id)}"
    body = {"v": 1, "fork": fork_id, "base": base, "events": events, "title": title, "message": message}
    tags = ((
        ("D", upstream), ("v", "1"), ("clock", "0"), (TAG_FORK, fork_id),
    ))  # fmt: skip
    ev = sign_event(store.identity.secret, store.now(), KIND_PROPOSAL, tags, writes.dumps(body))
    from engine.apply import Checked

    with store.transaction():
        insert_event_rows(store, [Checked(ev, upstream, 0, [], body)])
    return _from_raw(ev.to_json())


def origin_name(store: Store, dataset_id: str) -> str:
    row = store.con.execute("SELECT name FROM datasets WHERE id = ?", [dataset_id]).fetchone()
    return str(row[0]) if row else dataset_id[:12]


# --- receiving ----------------------------------------------------------------------------------------------


def problem(store: Store, body: dict[str, Any], upstream: str, author: str) -> str | None:
    """Why a proposal cannot stand, judged from what this store holds; None if nothing is wrong (yet).

    Events it names that are not here yet are no problem: they may still arrive (see `missing`).
    """
    fork = body["fork"]
    if not store.con.execute("SELECT 1 FROM datasets WHERE id = ?", [upstream]).fetchone():
        return f"the proposal is for dataset {upstream}, which this store does not hold"
    origin = forks.origin_of(store, fork)
    if origin is not None and origin.get("dataset") != upstream:
        return f"the dataset {fork} is not a fork of {upstream}"
    owner = store.con.execute("SELECT owner FROM datasets WHERE id = ?", [fork]).fetchone()
    if owner is not None and owner[0] != author:
        return "the proposal is not signed by the fork's owner"
    named = sorted(set(body["events"]) | set(body["base"]))
    for eid, reason in store.con.execute(
        "SELECT event_id, reason FROM rejected WHERE event_id IN (SELECT unnest(?::VARCHAR[]))", [named]
    ).fetchall():
        return f"the proposal names event {eid[:12]}, which was refused: {reason}"
    for eid, ds, kind in store.con.execute(
        "SELECT id, dataset_id, kind FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))", [named]
    ).fetchall():
        if eid in body["events"] and ds != fork:
            return f"the proposal claims event {eid[:12]} of dataset {ds}, not of its fork {fork}"
        if eid in body["events"] and kind not in OFFERED_KINDS:
            return f"the proposal offers event {eid[:12]}, which is no change of the fork"
        if eid in body["base"] and eid not in body["events"] and ds != upstream:
            return f"the proposal's base names event {eid[:12]} of dataset {ds}, not of {upstream}"
    return None


def receive(store: Store, batch: Sequence[Checked], report: IngestReport) -> list[tuple[Checked, str]]:
    """Store verified proposals that stand (ingest calls this after the rest of the batch is applied); returns
    the refused ones with their reasons."""
    refused: list[tuple[Checked, str]] = []
    known = {
        r[0]
        for r in store.con.execute(
            "SELECT id FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))", [[c.event.id for c in batch]]
        ).fetchall()
    }
    for c in batch:
        if c.event.id in known:
            report.duplicates += 1
            continue
        reason = problem(store, c.body, c.dataset_id, c.event.pubkey)
        if reason:
            refused.append((c, reason))
            continue
        insert_event_rows(store, [c])  # no heads: a proposal is not part of the upstream's history
        known.add(c.event.id)
        report.applied += 1
    return refused


def missing(store: Store, proposal: Proposal) -> list[str]:
    """Events the proposal names (and the fork's genesis) that this store does not hold yet."""
    wanted = sorted(set(proposal.events))
    have = {
        r[0]
        for r in store.con.execute(
            "SELECT id FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))", [wanted]
        ).fetchall()
    }
    out = [e for e in wanted if e not in have]
    if not store.con.execute("SELECT 1 FROM datasets WHERE id = ?", [proposal.fork]).fetchone():
        out.insert(0, f"genesis of {proposal.fork}")
    return out


def datasets_to_fetch(store: Store) -> list[str]:
    """Fork datasets that sync should fetch: those of open proposals whose events are missing here, and those
    whose events an accepted decision names as sources but this store does not hold (to verify provenance)."""
    out: set[str] = set()
    for p in all_proposals(store):
        if status(store, p)["status"] == "open" and missing(store, p):
            out.add(p.fork)
    rows = store.con.execute(
        "SELECT DISTINCT json_extract_string(raw, '$.content') FROM events WHERE kind = ?", [KIND_DECISION]
    ).fetchall()
    for (text,) in rows:
        body = json.loads(text)
        sources = body.get("events") or []
        if body.get("direction") != "accept" or not sources:
            continue
        held = store.con.execute(
            "SELECT count(*) FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))", [sources]
        ).fetchone()
        if not held or held[0] < len(set(sources)):
            out.add(str(body["fork"]))
    return sorted(out)


# --- status -------------------------------------------------------------------------------------------------


def decisions(store: Store, proposal: Proposal) -> list[StoredDecision]:
    """The first parts of the decisions on a proposal, oldest first (two maintainers may decide offline)."""
    return [d for d in decisions_in(store, proposal.upstream, proposal.id) if d.part == 0]


def status(store: Store, proposal: Proposal) -> dict[str, Any]:
    """open, accepted, partial or rejected, with the latest decision's message, author and summary."""
    found = decisions(store, proposal)
    if not found:
        gone = missing(store, proposal)
        return {"status": "open", "missing": len(gone)}
    d = found[-1]
    return {
        "status": d.body.get("status"), "message": d.body.get("message", ""), "decided_by": d.author,
        "decision": d.event_id, "decided_at": d.created_at, "summary": d.body.get("summary", {}),
        "decisions": len(found),
    }  # fmt: skip


def listing(store: Store, dataset_id: str | None = None) -> list[dict[str, Any]]:
    """Proposals to or from a dataset with their status, newest first (what `proposals list` prints)."""
    out = []
    for p in all_proposals(store, dataset_id):
        item = {**p.to_dict(), **status(store, p)}
        item["events"] = len(p.events)
        item["upstream_name"] = origin_name(store, p.upstream)
        item["fork_name"] = origin_name(store, p.fork)
        out.append(item)
    return out


# --- bundle -------------------------------------------------------------------------------------------------


def export_bundle(
    store: Store, proposal_id: str, path: Path, *, include_private: bool = False
) -> dict[str, Any]:
    """Write a proposal bundle: a bundle of the fork (its genesis and events) that also carries the proposal, so
    `kobold bundle import FILE` on the upstream's store takes it like any bundle."""
    from engine import datasets

    p = get(store, proposal_id)
    info = datasets.info(store, p.fork)
    if info.visibility == "private" and not include_private:
        raise ForkError(
            f"{info.name} is private: it never leaves this store. Make it tribe or public "
            "(`kobold dataset update FORK --visibility tribe`) or pass --include-private to hand it over anyway."
        )
    rows = store.con.execute(
        "SELECT raw FROM events WHERE dataset_id = ? ORDER BY kind <> ?, clock, id", [p.fork, KIND_GENESIS]
    ).fetchall()
    proposal_raw = store.con.execute("SELECT raw FROM events WHERE id = ?", [p.id]).fetchone()
    assert proposal_raw is not None
    header = {
        "format": "kobold-bundle", "version": 1, "dataset": p.fork, "name": info.name, "snapshot": False,
        "events": len(rows) + 1, "proposal": p.id, "upstream": p.upstream,
    }  # fmt: skip
    tmp = path.with_name(path.name + ".part")
    with gzip.open(tmp, "wb", compresslevel=1) as out:
        out.write(json.dumps(header, separators=(",", ":")).encode() + b"\n")
        for (raw,) in rows:
            out.write(raw.encode() + b"\n")
        out.write(proposal_raw[0].encode() + b"\n")
    tmp.replace(path)
    return header
