"""Three-way review and merge decisions: accept a fork's proposal upstream (all or part), reject it, or pull the
upstream's newer changes into a fork.

Both directions compare, per record and field, the base (the upstream at the fork point or the fork's last
pull), the upstream now and the fork now. The side the changes come from is the *incoming* side (the fork when
accepting, the upstream when pulling); the other is the *target*, whose log receives the decision. A field the
incoming side changed is a change when the target kept the base value, a conflict when the target changed it
differently, and nothing when both agree. A decision (kind 4875) carries the accepted ops itself, so every
replica that holds the target's log projects the same state; each op names the original events its values come
from, and those events (stored here, signed by their authors) back the provenance shown by history and blame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine import computed, datasets, event_checks, forks, proposals, records, writes
from engine.apply import Checked, apply_events
from engine.errors import NotFound, ValidationError
from engine.event_checks import SchemaEntry
from engine.field_types import ValueProblem, canonical
from engine.forks import ForkError, RecordState
from engine.merge_content import decisions_in
from engine.nostr_event import sign_event
from engine.projection import live_fields
from engine.protocol import KIND_DECISION, KIND_SCHEMA, PROTOCOL_VERSION
from engine.schema import Resource, describe_change

if TYPE_CHECKING:
    from engine.store import Store

LIFE = "@"  # the pseudo-field of a record's existence (create, delete, restore) in choices and sources
SIDES = ("upstream", "fork")


@dataclass
class FieldDiff:
    key: str
    name: str
    base: Any
    upstream: Any
    fork: Any
    conflict: bool
    incoming_event: str | None = None  # the event that set the incoming value
    target_event: str | None = None  # on a conflict: the event that set the target's value

    def to_dict(self, authors: dict[str, str]) -> dict[str, Any]:
        return {
            "field": self.name, "key": self.key, "base": self.base, "upstream": self.upstream, "fork": self.fork,
            "kind": "conflict" if self.conflict else "changed", "event": self.incoming_event,
            "author": authors.get(self.incoming_event or ""),
            "other_author": authors.get(self.target_event or "") if self.conflict else None,
        }  # fmt: skip


@dataclass
class RecordDiff:
    resource: str  # key
    resource_name: str
    record_id: str
    kind: str  # added | changed | deleted | conflict
    fields: list[FieldDiff]
    life: str | None = None  # create | restore | delete: the incoming side's change to the record's existence
    life_conflict: bool = False  # one side deleted the record, the other changed it
    life_event: str | None = None
    incoming_alive: bool = True

    @property
    def conflicts(self) -> list[str]:
        keys = [f.key for f in self.fields if f.conflict]
        return [LIFE, *keys] if self.life_conflict else keys

    def to_dict(self, authors: dict[str, str]) -> dict[str, Any]:
        return {
            "resource": self.resource_name, "record": self.record_id, "kind": self.kind, "life": self.life,
            "life_conflict": self.life_conflict, "life_author": authors.get(self.life_event or ""),
            "fields": [f.to_dict(authors) for f in self.fields],
        }  # fmt: skip


@dataclass
class SchemaDiff:
    resource: str
    name: str
    changes: list[dict[str, Any]]  # in the schema events' vocabulary (add, rename, retype, ...)
    conflict: bool
    merged: dict[str, Any] | None  # the definition accepting writes (None on a conflict: choose a side)
    incoming: dict[str, Any]
    target: dict[str, Any] | None
    incoming_event: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"resource": self.name, "kind": "conflict" if self.conflict else "schema change",
                "changes": [describe_change(c) for c in self.changes], "event": self.incoming_event}  # fmt: skip


@dataclass
class Review:
    direction: str  # accept | pull
    upstream: str
    fork: str
    base: list[str]
    upstream_heads: list[str]
    records: list[RecordDiff]
    schema: list[SchemaDiff]
    authors: dict[str, str]  # event id -> author pubkey, for the events the diff names
    proposal: proposals.Proposal | None = None

    @property
    def target(self) -> str:
        return self.upstream if self.direction == "accept" else self.fork

    @property
    def incoming_side(self) -> str:
        return "fork" if self.direction == "accept" else "upstream"

    @property
    def target_side(self) -> str:
        return "upstream" if self.direction == "accept" else "fork"

    def counts(self) -> dict[str, int]:
        out = {"added": 0, "changed": 0, "deleted": 0, "conflict": 0, "schema": len(self.schema)}
        for r in self.records:
            out[r.kind] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction, "upstream": self.upstream, "fork": self.fork, "base": self.base,
            "proposal": self.proposal.to_dict() if self.proposal else None, "counts": self.counts(),
            "schema": [s.to_dict() for s in self.schema],
            "records": [r.to_dict(self.authors) for r in self.records],
        }  # fmt: skip


# --- building the review -------------------------------------------------------------------------------------


def review_proposal(store: Store, ref: str) -> Review:
    """The three-way comparison of a proposal: base = its base, upstream now, fork at the proposal's events."""
    p = proposals.get(store, ref)
    problem = proposals.problem(
        store, {"fork": p.fork, "events": p.events, "base": p.base}, p.upstream, p.author
    )
    if problem:
        raise ForkError(f"This proposal cannot be accepted: {problem}.")
    gone = proposals.missing(store, p)
    if gone:
        raise ForkError(
            f"This proposal cannot be reviewed yet: {len(gone)} of the fork's events it names are not in this "
            "store; import the proposal's bundle (or sync) first."
        )
    base_set = forks.ancestors(store, p.upstream, p.base)
    fork_set = forks.ancestors(store, p.fork, p.events)
    records = forks.touched_records(store, p.fork, fork_set)
    base_view, upstream, fork_now = (
        forks.View(p.upstream, base_set),
        forks.View(p.upstream),
        forks.View(p.fork, fork_set),
    )
    diffs = record_diffs(store, records, base_view, upstream, fork_now, accept=True)
    base_schema = forks.schema_at(store, p.upstream, base_set)
    target_defs = {d["key"]: d for d in store.definitions(p.upstream)}
    incoming_schema = forks.schema_at(store, p.fork, fork_set)
    review = _compare(
        store, "accept", p.upstream, p.fork, p.base, diffs, base_schema, target_defs, incoming_schema
    )
    review.proposal = p
    return review


def review_pull(store: Store, fork_ref: str) -> Review:
    """The three-way comparison of the upstream's changes since the fork's base against the fork now."""
    fork_id = store.dataset_id(fork_ref)
    origin = forks.origin_of(store, fork_id)
    if origin is None:
        raise ForkError("This dataset is not a fork; only a fork has an upstream to pull from.")
    upstream = origin["dataset"]
    if not store.con.execute("SELECT 1 FROM datasets WHERE id = ?", [upstream]).fetchone():
        raise ForkError(f"The fork's upstream {upstream} is not in this store; import or sync it first.")
    base = forks.current_base(store, fork_id)
    base_set = forks.ancestors(store, upstream, base)
    new = [
        r[0]
        for r in store.con.execute(
            "SELECT id FROM events WHERE dataset_id = ? AND kind <> 4874", [upstream]
        ).fetchall()
        if r[0] not in base_set
    ]
    heads, _ = writes.heads(store, upstream)
    records = forks.touched_records(store, upstream, new)
    base_view, upstream_now, fork_now = (
        forks.View(upstream, base_set),
        forks.View(upstream),
        forks.View(fork_id),
    )
    diffs = record_diffs(store, records, base_view, fork_now, upstream_now, accept=False)
    base_schema = forks.schema_at(store, upstream, base_set)
    target_defs = {d["key"]: d for d in store.definitions(fork_id)}
    incoming_schema = forks.schema_at(store, upstream, base_set | set(new))
    review = _compare(
        store, "pull", upstream, fork_id, base, diffs, base_schema, target_defs, incoming_schema
    )
    review.upstream_heads = heads
    return review


def record_diffs(
    store: Store, records: list[tuple[str, str]], base: forks.View, target: forks.View, incoming: forks.View,
    accept: bool,
) -> list[RecordDiff]:  # fmt: skip
    """The diffs of the records that have one, in the order of `records`. Records live on every side are compared
    in SQL (`forks.changed_fields`) and each field it reports again in Python; the others are folded and compared
    record by record (`_compare_record`, which gives the same diffs for live records, only slower)."""
    changed, others = forks.changed_fields(store, records, base, target, incoming)
    other_diffs: dict[tuple[str, str], RecordDiff | None] = {}
    if others:
        b_states, t_states, i_states = forks.fold(store, others, [base, target, incoming], changed_only=True)
        empty = RecordState()
        for rec in others:
            b, t, i = b_states.get(rec, empty), t_states.get(rec, empty), i_states.get(rec, empty)
            other_diffs[rec] = _compare_record(rec, b, t, i, accept)
    out: list[RecordDiff] = []
    for rec in records:
        fields = changed.get(rec)
        diff = _live_record_diff(rec, fields, accept) if fields is not None else other_diffs.get(rec)
        if diff is not None:
            out.append(diff)
    return out


def _live_record_diff(
    key: tuple[str, str], changes: list[forks.FieldChange], accept: bool
) -> RecordDiff | None:
    """`_compare_record` for a record live on every side, from the fields whose JSON text differs."""
    fields: list[FieldDiff] = []
    for k, bv, tv, iv, incoming_event, target_event in sorted(changes, key=lambda c: c[0]):
        if iv == bv or tv == iv:
            continue  # equal in Python though not in JSON text (`1` and `true`, `1` and `1.0`)
        up, fk = (tv, iv) if accept else (iv, tv)
        conflict = tv != bv
        fields.append(
            FieldDiff(k, k, bv, up, fk, conflict, incoming_event, target_event if conflict else None)
        )
    if not fields:
        return None
    kind = "conflict" if any(f.conflict for f in fields) else "changed"
    return RecordDiff(key[0], key[0], key[1], kind, fields)


def _compare(
    store: Store, direction: str, upstream: str, fork: str, base_heads: list[str], found: list[RecordDiff],
    base_schema: event_checks.SchemaState, target_defs: dict[str, dict[str, Any]],
    incoming_schema: event_checks.SchemaState,
) -> Review:  # fmt: skip
    schema_diffs = _compare_schema(base_schema, target_defs, incoming_schema)
    names: dict[str, dict[str, str]] = {}
    res_names: dict[str, str] = {}
    for key, entry in incoming_schema.items():
        names[key] = {f["key"]: f["name"] for f in entry.definition["fields"]}
        res_names[key] = entry.definition["name"]
    for key, d in target_defs.items():
        names.setdefault(key, {}).update({f["key"]: f["name"] for f in d["fields"]})
        res_names[key] = d["name"]
    diffs: list[RecordDiff] = []
    for diff in found:
        diff.resource_name = res_names.get(diff.resource, diff.resource)
        field_names = names.get(diff.resource, {})
        for f in diff.fields:
            f.name = field_names.get(f.key, f.key)
        diffs.append(diff)
    order = {"conflict": 0, "changed": 1, "added": 2, "deleted": 3}
    diffs.sort(key=lambda d: (d.resource_name, order[d.kind], d.record_id))
    wanted = {e for d in diffs for e in [d.life_event, *(f.incoming_event for f in d.fields),
                                         *(f.target_event for f in d.fields)] if e}  # fmt: skip
    wanted |= {s.incoming_event for s in schema_diffs if s.incoming_event}
    authors = dict(
        store.con.execute(
            "SELECT id, pubkey FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))", [sorted(wanted)]
        ).fetchall()
    ) if wanted else {}  # fmt: skip
    return Review(direction, upstream, fork, list(base_heads), [], diffs, schema_diffs, authors)


def _compare_record(
    key: tuple[str, str], b: RecordState, t: RecordState, i: RecordState, accept: bool
) -> RecordDiff | None:
    bl, tl, il = b.alive, t.alive, i.alive
    fields: list[FieldDiff] = []
    bvals, tvals, ivals = b.values, t.values, i.values
    # Only fields the incoming side changed can be offered; most records change one or two of many.
    for k in sorted(k for k in ivals.keys() | bvals.keys() if ivals.get(k) != bvals.get(k)):
        bv, tv, iv = bvals.get(k), tvals.get(k), ivals.get(k)
        if tv == iv:
            continue
        up, fk = (tv, iv) if accept else (iv, tv)
        conflict = tv != bv
        fields.append(FieldDiff(k, k, bv, up, fk, conflict, i.setter(k), t.setter(k) if conflict else None))
    diff = RecordDiff(key[0], key[0], key[1], "changed", fields, incoming_alive=il)
    if il == bl:
        if not il:
            return None  # gone on the incoming side before and after: nothing to offer
        if not tl:
            if not fields:
                return None
            diff.life_conflict, diff.life_event = (
                True,
                i.life_event,
            )  # deleted on the target, changed incoming
    elif il:
        if not tl:
            diff.life = "restore" if b.life_event else "create"
            diff.life_event = i.life_event
            diff.fields = [
                FieldDiff(
                    k, k, b.values.get(k), None if accept else v, v if accept else None, False, i.setter(k)
                )
                for k, v in sorted(i.values.items())
                if diff.life == "create" or v != b.values.get(k)
            ]
            diff.kind = "added"
            return diff
        # else both sides brought the record back: compare its fields like any other
    else:
        if not tl:
            return None
        if any(tvals.get(k) != bvals.get(k) for k in tvals.keys() | bvals.keys()):
            diff.life_conflict = True
        else:
            diff.life = "delete"
        diff.life_event = i.life_event
        diff.fields = []
        diff.kind = "conflict" if diff.life_conflict else "deleted"
        return diff
    if not diff.fields and not diff.life_conflict:
        return None
    diff.kind = "conflict" if diff.conflicts else "changed"
    return diff


def _compare_schema(
    base: event_checks.SchemaState, target: dict[str, dict[str, Any]], incoming: event_checks.SchemaState
) -> list[SchemaDiff]:
    out = []
    for key, entry in sorted(incoming.items()):
        i = entry.definition
        b = base[key].definition if key in base else None
        t = target.get(key)
        if i in (b, t):
            continue
        changes = schema_changes(b, i)
        if t is None or t == b:
            out.append(SchemaDiff(key, i["name"], changes, False, i, i, t, entry.event_id))
            continue
        merged = _merge_definitions(b, t, i)
        out.append(SchemaDiff(key, i["name"], changes, merged is None, merged, i, t, entry.event_id))
    return out


def _merge_definitions(
    b: dict[str, Any] | None, t: dict[str, Any], i: dict[str, Any]
) -> dict[str, Any] | None:
    """Both sides changed one resource: merge per field and per attribute; None when they changed the same thing."""
    b = b or {"fields": []}
    merged: dict[str, Any] = {}
    for attr in sorted((set(t) | set(i)) - {"fields"}):
        bv, tv, iv = b.get(attr), t.get(attr), i.get(attr)
        if iv == bv or tv == iv:
            merged[attr] = tv
        elif tv == bv:
            merged[attr] = iv
        else:
            return None
    bf = {f["key"]: f for f in b["fields"]}
    tf = {f["key"]: f for f in t["fields"]}
    fields = []
    for f in i["fields"]:
        if f["key"] in tf:
            continue
        if f["key"] in bf:
            continue  # the target dropped it from its list entirely: keep the target's list
        fields.append(f)
    out_fields = []
    for key, tv in tf.items():
        iv, bv = next((f for f in i["fields"] if f["key"] == key), None), bf.get(key)
        if iv is None or iv in (bv, tv):
            out_fields.append(tv)
        elif tv == bv:
            out_fields.append(iv)
        else:
            return None
    merged["fields"] = out_fields + fields
    return {k: merged[k] for k in [*t.keys(), *(k for k in i if k not in t)] if k in merged}


def schema_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
    """The changes from one definition to another, in the vocabulary of schema events."""
    if old is None:
        return [{"change": "create_resource", "name": new["name"]}]
    out: list[dict[str, Any]] = []
    if old["name"] != new["name"]:
        out.append({"change": "rename_resource", "from": old["name"], "to": new["name"]})
    before = {f["key"]: f for f in old["fields"]}
    for f in new["fields"]:
        o = before.get(f["key"])
        if o is None:
            if not f.get("removed"):
                out.append({"change": "add", "field": f["key"], "name": f["name"], "type": f["type"]})
        elif f.get("removed") and not o.get("removed"):
            out.append({"change": "remove", "field": f["key"], "name": o["name"]})
        else:
            if o["name"] != f["name"]:
                out.append({"change": "rename", "field": f["key"], "from": o["name"], "to": f["name"]})
            if o["type"] != f["type"]:
                out.append({"change": "retype", "field": f["key"], "from": o["type"], "to": f["type"]})
            elif o != f:
                out.append({"change": "options", "field": f["key"]})
    if any(old.get(k) != new.get(k) for k in ("computed", "validations")):
        out.append({"change": "formulas"})
    if new.get("removed") and not old.get("removed"):
        out.append({"change": "remove_resource"})
    return out


# --- choosing -----------------------------------------------------------------------------------------------


@dataclass
class Resolution:
    side: str  # upstream | fork | value
    value: Any = None  # the typed value (canonical) when side is "value"


@dataclass
class Choices:
    """What the reviewer takes: everything by default, minus rejections, or only what `only` names.

    Record choices are keyed "RECORD_ID" (the whole record) or "RECORD_ID.FIELD_KEY" (one field; "@" is the
    record's existence); schema choices by resource key.
    """

    only: set[str] | None = None
    rejected: set[str] = field(default_factory=set)
    resolutions: dict[str, Resolution] = field(default_factory=dict)
    prefer: str | None = None  # resolve every conflict left open with this side
    rejected_schema: set[str] = field(default_factory=set)
    schema_resolutions: dict[str, str] = field(default_factory=dict)

    def accepted(self, record_id: str, key: str | None = None) -> bool:
        item = f"{record_id}.{key}" if key else record_id
        if record_id in self.rejected or item in self.rejected:
            return False
        if self.only is None:
            return True
        return record_id in self.only or item in self.only

    def resolution(self, record_id: str, key: str) -> Resolution | None:
        found = self.resolutions.get(f"{record_id}.{key}")
        if found is None and self.prefer:
            return Resolution(self.prefer)
        return found


@dataclass
class Plan:
    ops: list[dict[str, Any]]  # record ops; "s" maps field keys (and "@") to source event ids
    schema: list[tuple[SchemaDiff, dict[str, Any]]]  # accepted schema changes and the definition to write
    unresolved: list[str]  # "RECORD_ID.FIELD" of conflicts in the accepted set with no resolution
    accepted_records: int = 0
    accepted_fields: int = 0
    rejected_records: int = 0
    rejected_fields: int = 0
    rejected_schema: int = 0

    @property
    def complete(self) -> bool:
        return not (self.rejected_records or self.rejected_fields or self.rejected_schema)


def make_plan(review: Review, choices: Choices) -> Plan:
    """The ops and schema changes a decision carries for these choices (pure: nothing is signed)."""
    plan = Plan([], [], [])
    inc, tgt = review.incoming_side, review.target_side
    for s in review.schema:
        if s.resource in choices.rejected_schema or (
            choices.only is not None and s.resource not in choices.only
        ):
            plan.rejected_schema += 1
            continue
        if s.conflict:
            side = choices.schema_resolutions.get(s.resource) or choices.prefer
            if side is None:
                plan.unresolved.append(f"schema {s.name}")
                continue
            if side == tgt:
                plan.rejected_schema += 1
                continue
            plan.schema.append((s, s.incoming))
        else:
            assert s.merged is not None
            plan.schema.append((s, s.merged))
    for r in review.records:
        rid = r.record_id
        if not choices.accepted(rid):
            plan.rejected_records += 1
            plan.rejected_fields += len(r.fields)
            continue
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        life = r.life
        if r.life_conflict:
            if not choices.accepted(rid, LIFE):
                plan.rejected_records += 1
                continue
            res = choices.resolution(rid, LIFE)
            if res is None:
                plan.unresolved.append(f"{rid}.{LIFE}")
                continue
            if res.side != inc:
                plan.rejected_records += 1  # the target's side wins: the record stays as it is
                continue
            life = "restore" if r.incoming_alive else "delete"
        taken = 0
        open_before = len(plan.unresolved)
        for f in r.fields:
            if not choices.accepted(rid, f.key):
                plan.rejected_fields += 1
                continue
            incoming_value = f.fork if inc == "fork" else f.upstream
            if not f.conflict:
                values[f.key] = incoming_value
                if f.incoming_event:
                    sources[f.key] = f.incoming_event
                taken += 1
                continue
            res = choices.resolution(rid, f.key)
            if res is None:
                plan.unresolved.append(f"{rid}.{f.key}")
            elif res.side == inc:
                values[f.key] = incoming_value
                if f.incoming_event:
                    sources[f.key] = f.incoming_event
                taken += 1
            elif res.side == "value":
                values[f.key] = res.value  # typed by the reviewer: the decision's author is its source
                taken += 1
        if life == "create":
            if not choices.accepted(rid, LIFE):
                plan.rejected_records += 1
                continue
            op_sources = {**sources, LIFE: r.life_event} if r.life_event else sources
            plan.ops.append({"o": "create", "r": r.resource, "id": rid, "f": values, "s": op_sources})
        elif life == "restore":
            plan.ops.append({"o": "restore", "r": r.resource, "id": rid,
                             "s": {LIFE: r.life_event} if r.life_event else {}})  # fmt: skip
            if values:
                plan.ops.append({"o": "update", "r": r.resource, "id": rid, "f": values, "s": sources})
        elif life == "delete":
            if not choices.accepted(rid, LIFE):
                plan.rejected_records += 1
                continue
            plan.ops.append({"o": "delete", "r": r.resource, "id": rid,
                             "s": {LIFE: r.life_event} if r.life_event else {}})  # fmt: skip
        elif values:
            plan.ops.append({"o": "update", "r": r.resource, "id": rid, "f": values, "s": sources})
        else:
            if len(plan.unresolved) == open_before:  # not undecided: everything in it was left out
                plan.rejected_records += 1
            continue
        plan.accepted_records += 1
        plan.accepted_fields += taken
    return plan


def typed_value(store: Store, review: Review, record: RecordDiff, key: str, text: str) -> Any:
    """A value typed by the reviewer, checked and made canonical for the field's type in the target."""
    definition = next((d for d in store.definitions(review.target) if d["key"] == record.resource), None)
    fdef = next((f for f in (definition or {}).get("fields", []) if f["key"] == key), None)
    if fdef is None:
        raise ValidationError(
            f"{record.resource_name} has no field {key!r} in the target; choose a side instead."
        )
    if text == "":
        return None
    try:
        return canonical(fdef, text, from_text=True)
    except ValueProblem as exc:
        raise ValidationError(
            f"{record.resource_name}.{fdef['name']}: {text!r} does not fit: {exc}."
        ) from None


# --- validations on the merged result --------------------------------------------------------------------------


def integrity_problems(store: Store, review: Review, plan: Plan) -> list[str]:
    """What a local write of the accepted ops would be refused for: required fields left empty, references to
    records the target lacks, values clashing with a unique field. Resources the decision itself creates or
    reshapes are judged by their new definitions when applied, so only fields the target knows are checked."""
    cache: dict[str, Resource] = {}
    ops: list[dict[str, Any]] = []
    problems: list[str] = []
    for op in plan.ops:
        try:
            res = cache.get(op["r"]) or datasets.resource(store, review.target, op["r"])
        except NotFound:
            continue
        cache[res.key] = res
        known = {f["key"]: f for f in res.fields}
        fields = {k: v for k, v in (op.get("f") or {}).items() if k in known}
        ops.append({**op, "f": fields})
        for f in known.values():
            empty = fields.get(f["key"]) is None
            if f["required"] and empty and (op["o"] == "create" or f["key"] in fields):
                problems.append(f"{res.name} {op['id']}: {f['name']} is required but would be empty")
    for check in (records.check_references, records.check_unique):
        try:
            check(store, review.target, cache, ops)
        except ValidationError as exc:
            problems.append(str(exc))
    return problems


def validation_problems(store: Store, review: Review, plan: Plan) -> list[str]:
    """Why the records the decision would leave live are not valid: integrity rules, then validations
    evaluated on the merged values."""
    integrity = integrity_problems(store, review, plan)
    defs = {d["key"]: d for d in store.definitions(review.target)}
    defs.update({s.resource: d for s, d in plan.schema})
    checked = {k for k, d in defs.items() if computed.has_formulas(d) and computed._formulas(d)[1]}
    wanted = sorted({(op["r"], op["id"]) for op in plan.ops if op["r"] in checked})
    (target_now,) = forks.fold(store, wanted, [forks.View(review.target)])
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for op in plan.ops:
        key = (op["r"], op["id"])
        if op["r"] not in checked:
            continue
        if op["o"] == "delete":
            merged.pop(key, None)
            continue
        base = merged.get(key)
        if base is None:
            now = target_now.get(key)
            base = merged[key] = dict(now.values) if now is not None and op["o"] != "create" else {}
        base.update(op.get("f") or {})
    out: list[str] = []
    for resource in sorted({k[0] for k in merged}):
        definition = defs.get(resource)
        if definition is None or not computed.has_formulas(definition):
            continue
        compiled_computed, checks = computed._formulas(definition)
        if not checks:
            continue
        ids = [rid for (res, rid) in merged if res == resource]
        fields = live_fields(definition)
        columns: dict[str, list[Any]] = {f["name"]: [] for f in fields}
        for rid in ids:
            values = merged[(resource, rid)]
            for f in fields:
                v = values.get(f["key"])
                columns[f["name"]].append(float(v) if f["type"] == "decimal" and v is not None else v)
        refs = computed.refs_for(store, review.target, definition, columns, [*compiled_computed, *checks])
        _, _, invalid = computed.evaluate(store.formulas, compiled_computed, checks, columns, len(ids), refs)
        out += [f"{definition['name']} {rid}: {msg}" for rid, msg in zip(ids, invalid, strict=True) if msg]
    return integrity + out


# --- writing decisions ---------------------------------------------------------------------------------------


def accept(
    store: Store, ref: str, choices: Choices, message: str = "", review: Review | None = None
) -> dict[str, Any]:
    """Accept a proposal, whole or in part: sign the accepted schema changes and the decision in the upstream
    log, in one transaction. Refused (nothing written) while conflicts in the accepted set are unresolved or the
    merged records are not valid (integrity rules, validations). `review`: one just computed in the same call chain (saves computing it again)."""
    review = review if review is not None and review.proposal is not None else review_proposal(store, ref)
    assert review.proposal is not None
    _refuse_decided(store, review.proposal)
    plan = make_plan(review, choices)
    _refuse_unresolved(plan)
    if not plan.ops and not plan.schema:
        raise ForkError(
            "Nothing is selected to accept; to decline the proposal use `kobold proposals reject`."
        )
    problems = validation_problems(store, review, plan)
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise ValidationError(
            f"The merged records are not valid: {'; '.join(problems[:3])}{more}. Leave those records out "
            "(--reject RECORD_ID) or fix them before accepting."
        )
    common = {"direction": "accept", "proposal": review.proposal.id, "fork": review.fork,
              "upstream": review.upstream}  # fmt: skip
    status = "accepted" if plan.complete else "partial"
    return _write(store, review, plan, common, status, message)


def reject(store: Store, ref: str, message: str = "") -> dict[str, Any]:
    """Decline a proposal with a message: one decision event, no ops."""
    p = proposals.get(store, ref)
    _refuse_decided(store, p)
    review = Review("accept", p.upstream, p.fork, p.base, [], [], [], {}, p)
    common = {"direction": "accept", "proposal": p.id, "fork": p.fork, "upstream": p.upstream}
    return _write(store, review, Plan([], [], []), common, "rejected", message)


def pull(store: Store, fork_ref: str, choices: Choices, message: str = "") -> dict[str, Any]:
    """Bring the upstream's changes since the fork's base into the fork, as a decision in the fork's log."""
    review = review_pull(store, fork_ref)
    base_set = forks.ancestors(store, review.upstream, review.base)
    if all(h in base_set for h in review.upstream_heads):
        return {"status": "up to date", "events": [], "records": 0}
    plan = make_plan(review, choices)
    _refuse_unresolved(plan)
    problems = validation_problems(store, review, plan)
    if problems:
        raise ValidationError(
            f"The merged records are not valid: {'; '.join(problems[:3])}. Leave those records out "
            "(--reject RECORD_ID) or fix them in the fork first."
        )
    common = {"direction": "pull", "fork": review.fork, "upstream": review.upstream,
              "heads": review.upstream_heads}  # fmt: skip
    return _write(store, review, plan, common, "accepted" if plan.complete else "partial", message)


def _refuse_decided(store: Store, p: proposals.Proposal) -> None:
    found = proposals.decisions(store, p)
    if found:
        raise ForkError(
            f"This proposal was already decided ({found[-1].body.get('status')}); the fork can send a new one."
        )


def _refuse_unresolved(plan: Plan) -> None:
    if plan.unresolved:
        shown = ", ".join(plan.unresolved[:5]) + (
            f" and {len(plan.unresolved) - 5} more" if len(plan.unresolved) > 5 else ""
        )
        raise ForkError(
            f"{len(plan.unresolved)} conflict(s) in what you accept are unresolved ({shown}); resolve each with "
            "--resolve RECORD.FIELD=upstream|fork or --set RECORD.FIELD=VALUE, use --prefer upstream|fork, or "
            "leave them out with --reject."
        )


def _write(
    store: Store, review: Review, plan: Plan, common: dict[str, Any], status: str, message: str
) -> dict[str, Any]:
    from engine import authorization

    target = review.target
    authorization.check_local(store, target, KIND_DECISION)
    summary = {"records": plan.accepted_records, "fields": plan.accepted_fields,
               "rejected_records": plan.rejected_records, "rejected_fields": plan.rejected_fields,
               "schema": [s.name for s, _ in plan.schema]}  # fmt: skip
    with store.transaction():
        schema_events = []
        for s, definition in plan.schema:
            ev = writes.append(store, target, KIND_SCHEMA, {"definition": definition, "changes": s.changes})
            schema_events.append({"resource": s.resource, "event": ev.id, "from": s.incoming_event})
        state = {d["key"]: SchemaEntry(0, "", d) for d in store.definitions(target)}
        problem = event_checks.ops_problem(
            [{k: v for k, v in op.items() if k != "s"} for op in plan.ops], state
        )
        if problem:
            raise ForkError(
                f"An accepted change does not fit the target's schema ({problem}); accept the matching schema "
                "change too, or leave that record out."
            )
        first = {**common, "status": status, "message": message, "summary": summary, "schema": schema_events}
        parts = _pack(store, plan.ops, first, common)
        parents, clock = writes.heads(store, target)
        batch: list[Checked] = []
        now = store.now()
        for n, (body, ops, sources) in enumerate(parts):
            content = {
                "v": PROTOCOL_VERSION,
                **body,
                "part": n,
                "parts": len(parts),
                "events": sources,
                "ops": ops,
            }
            ev = sign_event(
                store.identity.secret,
                now,
                KIND_DECISION,
                writes.envelope_tags(target, clock, parents),
                writes.dumps(content),
            )
            batch.append(Checked(ev, target, clock, parents, content))
            parents, clock = [ev.id], clock + 1
        apply_events(store, batch)
    return {"status": status, "target": target, "events": [c.event.id for c in batch],
            "decision": batch[0].event.id, "schema_events": [s["event"] for s in schema_events], **summary}  # fmt: skip


def _pack(
    store: Store, ops: list[dict[str, Any]], first: dict[str, Any], common: dict[str, Any]
) -> list[tuple[dict[str, Any], list[dict[str, Any]], list[str]]]:
    """Split the ops into decision parts under the size limit; each part lists the source events its ops index."""
    limit = store.config.max_event_bytes - writes._ENVELOPE_BYTES - writes._PARENT_TAG_BYTES - 120
    parts: list[tuple[dict[str, Any], list[dict[str, Any]], list[str]]] = []
    body, cur_ops, cur_src, index = first, [], [], {}  # type: ignore[var-annotated]
    used = writes.escaped_size(writes.dumps(first))
    for op in ops:
        new_sources = [e for e in op.get("s", {}).values() if e not in index]
        encoded = {**op, "s": {k: 99999 for k in op.get("s", {})}}
        size = writes.escaped_size(writes.dumps(encoded)) + 1 + 68 * len(set(new_sources))
        if cur_ops and used + size > limit:
            parts.append((body, cur_ops, cur_src))
            body, cur_ops, cur_src, index = common, [], [], {}
            used = writes.escaped_size(writes.dumps(common))
            new_sources = list(op.get("s", {}).values())
            size = writes.escaped_size(writes.dumps(encoded)) + 1 + 68 * len(set(new_sources))
        if used + size > limit:
            raise ForkError(
                "One accepted record is larger than an event may hold; leave it out or shorten it."
            )
        for e in new_sources:
            if e not in index:
                index[e] = len(cur_src)
                cur_src.append(e)
        cur_ops.append({**op, "s": {k: index[e] for k, e in op.get("s", {}).items()}})
        used += size
    parts.append((body, cur_ops, cur_src))
    return parts


def proposal_outcome(store: Store, p: proposals.Proposal) -> dict[str, Any]:
    """What the decision on a proposal took, record by record, read from the decision parts in the upstream log
    (the proposer sees it on their side once the upstream's events arrive)."""
    parts = decisions_in(store, p.upstream, p.id)
    taken: dict[str, list[str]] = {}
    for d in parts:
        for op in d.body.get("ops", []):
            taken.setdefault(op["id"], []).extend(["(record)"] if op["o"] != "update" else [])
            taken[op["id"]].extend((op.get("f") or {}).keys())
    return {"records": sorted(taken), "fields": taken}
