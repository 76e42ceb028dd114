"""Contents of merge proposals (kind 4874) and merge decisions (kind 4875): shape checks and reading them back.

The formats are in docs/PROTOCOL.md ("Merge proposal", "Merge decision"). Receivers trust nothing they have not
checked here; a decision's ops are also checked against the schema as of the event, like a changeset's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from engine import content, event_checks
from engine.errors import EventRejected
from engine.limits import MAX_MERGE_TEXT
from engine.nostr_event import NostrEvent
from engine.protocol import KIND_DECISION

if TYPE_CHECKING:
    from engine.apply import Checked
    from engine.store import Store

TAG_FORK = "F"  # indexed by relays: a proposal's fork dataset, so sync can fetch the fork's events
_DATASET = re.compile(r"^[0-9a-f]{32}$")
_EVENT = re.compile(r"^[0-9a-f]{64}$")
DIRECTIONS = ("accept", "pull")
STATUSES = ("accepted", "partial", "rejected")


def _event_ids(value: Any, what: str, allow_empty: bool = False) -> list[str]:
    if not isinstance(value, list) or (not value and not allow_empty):
        raise EventRejected(f"the {what} must be a {'' if allow_empty else 'non-empty '}list of event ids")
    if not all(isinstance(v, str) and _EVENT.match(v) for v in value) or len(set(value)) != len(value):
        raise EventRejected(f"the {what} must be distinct 64-hex event ids")
    return value


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or len(value) > MAX_MERGE_TEXT:
        raise EventRejected(f"the {key} must be a string of at most {MAX_MERGE_TEXT} characters")
    return value


def proposal_content(ev: NostrEvent) -> dict[str, Any]:
    """A proposal: fork dataset (also its F tag), base heads, the fork's events it offers, title, message."""
    data = content.load_json_object(ev)
    fork = data.get("fork")
    if not isinstance(fork, str) or not _DATASET.match(fork):
        raise EventRejected("the proposal names no valid fork dataset")
    if ev.first_tag(TAG_FORK) != fork:
        raise EventRejected("the proposal's F tag does not name its fork dataset")
    if fork == content.dataset_of(ev):
        raise EventRejected("a proposal is addressed to the fork's upstream, not to the fork itself")
    if content.parents_of(ev):
        raise EventRejected("a proposal names no parents (it is not part of the upstream's history)")
    _event_ids(data.get("base"), "proposal's base")
    _event_ids(data.get("events"), "proposal's events")
    _text(data, "title")
    _text(data, "message")
    return data


def decision_content(ev: NostrEvent) -> dict[str, Any]:
    """A decision part: direction, proposal (accept) or upstream heads (pull), status, and the ops it carries."""
    data = content.load_json_object(ev)
    if data.get("direction") not in DIRECTIONS:
        raise EventRejected("the decision has no valid direction (accept or pull)")
    for key in ("fork", "upstream"):
        if not isinstance(data.get(key), str) or not _DATASET.match(data[key]):
            raise EventRejected(f"the decision names no valid {key} dataset")
    if data["direction"] == "accept":
        if not isinstance(data.get("proposal"), str) or not _EVENT.match(data["proposal"]):
            raise EventRejected("an accept decision names the proposal it decides")
    else:
        _event_ids(data.get("heads"), "decision's upstream heads")
    part, parts = data.get("part"), data.get("parts")
    if not (isinstance(part, int) and isinstance(parts, int) and 0 <= part < parts <= 100_000):
        raise EventRejected("the decision's part and parts are not valid")
    if part == 0 and data.get("status") not in STATUSES:
        raise EventRejected("the decision has no valid status")
    _text(data, "message")
    sources = _event_ids(data.get("events", []), "decision's source events", allow_empty=True)
    ops = data.get("ops")
    if not isinstance(ops, list):
        raise EventRejected("the decision has no ops list")
    if ops:
        content.changeset(ev)  # the same op shape rules as a changeset's
    for i, op in enumerate(ops):
        src = op.get("s", {})
        if not isinstance(src, dict) or not all(
            isinstance(v, int) and 0 <= v < len(sources) for v in src.values()
        ):
            raise EventRejected(f"op {i}: its sources must index the decision's events")
    if data.get("status") == "rejected" and ops:
        raise EventRejected("a rejecting decision carries no ops")
    return data


def check_decisions(
    batch: Sequence[Checked], states: dict[str, event_checks.SchemaState]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """For ingest: each decision's parsed content, or why it is refused (shape, or ops that do not fit the
    schema as of the event)."""
    parsed: dict[str, dict[str, Any]] = {}
    refused: dict[str, str] = {}
    for c in batch:
        try:
            body = decision_content(c.event)
            problem = event_checks.ops_problem(body["ops"], states.get(c.event.id, {}))
            if problem:
                raise EventRejected(problem)
            parsed[c.event.id] = body
        except EventRejected as exc:
            refused[c.event.id] = exc.reason
    return parsed, refused


def ops_of(c: Checked) -> list[dict[str, Any]]:
    """The record ops a stored decision carries (for apply)."""
    body = c.body if isinstance(c.body, dict) else decision_content(c.event)
    return list(body["ops"])


@dataclass(frozen=True)
class StoredDecision:
    event_id: str
    dataset_id: str
    author: str
    created_at: int
    clock: int
    body: dict[str, Any]

    @property
    def part(self) -> int:
        return int(self.body.get("part", 0))


def decisions_in(store: Store, dataset_id: str, proposal: str | None = None) -> list[StoredDecision]:
    """The decision events in a dataset's log by (clock, id), optionally only those of one proposal."""
    sql = "SELECT id, pubkey, created_at, clock, raw FROM events WHERE dataset_id = ? AND kind = ?"
    params: list[Any] = [dataset_id, KIND_DECISION]
    if proposal is not None:
        sql += " AND contains(raw, ?)"
        params.append(proposal)
    out = []
    for eid, author, created_at, clock, raw in store.con.execute(
        sql + " ORDER BY clock, id", params
    ).fetchall():
        body = orjson.loads(orjson.loads(raw)["content"])
        if proposal is not None and body.get("proposal") != proposal:
            continue
        out.append(StoredDecision(eid, dataset_id, author, int(created_at), int(clock), body))
    return out


def accepted_sources(
    store: Store, decision_id: str, resource: str, record_id: str
) -> dict[str, dict[str, Any]]:
    """For one record in one decision part: field key (or "@", the record's existence) -> the original event its
    value came from, with that event's author and whether this store holds it verified. Fields without a source
    were typed by the decision's author."""
    row = store.con.execute("SELECT raw FROM events WHERE id = ?", [decision_id]).fetchone()
    if row is None:
        return {}
    body = orjson.loads(orjson.loads(row[0])["content"])
    sources: list[str] = body.get("events") or []
    picked: dict[str, str] = {}
    for op in body.get("ops") or []:
        if op.get("r") == resource and op.get("id") == record_id:
            for k, i in (op.get("s") or {}).items():
                if isinstance(i, int) and 0 <= i < len(sources):
                    picked[k] = sources[i]
    held = {
        r[0]: (r[1], bool(r[2]))
        for r in store.con.execute(
            "SELECT id, pubkey, sig_ok FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))",
            [sorted(set(picked.values()))],
        ).fetchall()
    } if picked else {}  # fmt: skip
    return {
        k: {"event": e, "author": held[e][0] if e in held else None, "verified": held.get(e, ("", False))[1]}
        for k, e in picked.items()
    }


def is_decision(store: Store, event_id: str) -> bool:
    row = store.con.execute("SELECT kind FROM events WHERE id = ?", [event_id]).fetchone()
    return bool(row and row[0] == KIND_DECISION)


def summary_text(kind: str, body: dict[str, Any]) -> str:
    """One line for `kobold log`."""
    if kind == "proposal":
        return f"merge proposal {body.get('title', '')!r} from fork {str(body.get('fork', ''))[:12]}: " \
               f"{len(body.get('events') or [])} event(s)"  # fmt: skip
    if body.get("part", 0):
        return f"merge decision, part {body.get('part', 0) + 1}: {len(body.get('ops') or [])} op(s)"
    what = (
        "pulled from upstream"
        if body.get("direction") == "pull"
        else f"merge of fork {str(body.get('fork'))[:12]}"
    )
    s = body.get("summary") or {}
    return f"{what}: {body.get('status')}, {s.get('records', 0)} record(s), {s.get('fields', 0)} field(s)"
