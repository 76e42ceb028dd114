"""Every replica decides alike who may do what: by the role events in each event's own causal past."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import authorization, datasets, ingest, maintenance, records, roles, state_hash, writes
from engine.errors import KoboldError, NotAuthorized
from engine.identity import short_npub
from engine.nostr_event import NostrEvent, sign_event
from engine.protocol import (
    KIND_CHANGESET,
    KIND_DECISION,
    KIND_MANIFEST,
    KIND_ROLE,
    KIND_SCHEMA,
    PROTOCOL_VERSION,
)
from engine.store import Store

SCHEMA = [
    {"resource": "Supplier", "fields": {"name": "string"}},
    {"resource": "Variety", "fields": {"name": "string"}},
]
ROLE_CASES: dict[str, tuple[str, list[str]] | None] = {
    "owner": None,  # the genesis author
    "maintainer": ("maintainer", []),
    "contributor": ("contributor", []),
    "contributor:Supplier": ("contributor", ["Supplier"]),
    "nobody": None,
}


def _open(tmp: Path, name: str) -> Store:
    return Store.open(tmp / name, memory=True)


def _sign(store: Store, ds: str, kind: int, body: dict[str, Any]) -> NostrEvent:
    """Sign an event on the heads without the local pre-check: what a modified client could send."""
    return writes.sign_on_heads(store, ds, kind, writes.dumps({"v": PROTOCOL_VERSION, **body}))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """An owner with a two-resource dataset, an actor per role (each a replica holding every event)."""
    owner = _open(tmp_path, "owner")
    actors = {name: _open(tmp_path, name.replace(":", "-")) for name in ROLE_CASES if name != "owner"}
    ds = datasets.create_dataset(owner, "Seeds", visibility="public")
    datasets.apply_schema(owner, ds, SCHEMA)
    for name, grant in ROLE_CASES.items():
        if grant:
            roles.grant(owner, ds, [actors[name].identity.pubkey], grant[0], grant[1])
    for store in actors.values():
        assert not ingest.ingest(store, ingest.all_events(owner, ds)).rejected
    third = _open(tmp_path, "third")  # a bystander whose role the actors try to set
    yield {"owner": owner, "ds": ds, "third": third, **actors}
    for store in [owner, third, *actors.values()]:
        store.close()


# Each action: (what a local command does, the raw event it would sign, what a refusal must mention).
Action = tuple[Callable[[Store, str, str], object], Callable[[Store, str, str], NostrEvent | None], str]


def _schema_local(s: Store, ds: str, _: str) -> object:
    spec = [{"resource": "Supplier", "fields": {"name": "string", "town": "string"}}]
    return datasets.apply_schema(s, ds, spec)


def _schema_raw(s: Store, ds: str, _: str) -> NostrEvent:
    definition = datasets.resource(s, ds, "Supplier").definition
    return _sign(s, ds, KIND_SCHEMA, {"definition": definition, "changes": []})


def _write_local(resource: str) -> Callable[[Store, str, str], object]:
    return lambda s, ds, _: records.create_record(s, ds, resource, {"name": "x"})


def _write_raw(resource: str) -> Callable[[Store, str, str], NostrEvent]:
    op = {"o": "create", "r": resource, "id": records.new_record_id(), "f": {"name": "x"}}
    return lambda s, ds, _: _sign(s, ds, KIND_CHANGESET, {"ops": [op]})


def _grant_local(role: str) -> Callable[[Store, str, str], object]:
    return lambda s, ds, who: roles.grant(s, ds, [who], role)


def _grant_raw(role: str) -> Callable[[Store, str, str], NostrEvent]:
    return lambda s, ds, who: _sign(s, ds, KIND_ROLE, roles.content_of([roles.Assignment(who, role)]))


def _decide_local(s: Store, ds: str, _: str) -> object:
    """Accepting a merge proposal signs a decision (kind 4875); engine/merge.py runs this same check."""
    authorization.check_local(s, ds, KIND_DECISION)
    return None


def _decide_raw(s: Store, ds: str, _: str) -> NostrEvent | None:
    """A decision event needs a real proposal to pass its content check (engine/proposals.py); the receiver's
    role check is the same function, asked directly in the test below."""
    return None


def _manifest_local(s: Store, ds: str, _: str) -> object:
    datasets.update_manifest(s, ds, description="mine now")
    return None


def _manifest_raw(s: Store, ds: str, _: str) -> NostrEvent:
    return _sign(s, ds, KIND_MANIFEST, {"description": "mine now"})


ACTIONS: dict[str, Action] = {
    "schema": (_schema_local, _schema_raw, "change the schema"),
    "manifest": (_manifest_local, _manifest_raw, "change the dataset's name"),
    "write Supplier": (_write_local("Supplier"), _write_raw("Supplier"), "write records of Supplier"),
    "write Variety": (_write_local("Variety"), _write_raw("Variety"), "write records of Variety"),
    "grant contributor": (_grant_local("contributor"), _grant_raw("contributor"), "the contributor role"),
    "grant maintainer": (_grant_local("maintainer"), _grant_raw("maintainer"), "maintainer"),
    "decide on a proposal": (_decide_local, _decide_raw, "decide on merge proposals"),
}
ALLOWED = {
    "owner": set(ACTIONS),
    "maintainer": {
        "schema",
        "manifest",
        "write Supplier",
        "write Variety",
        "grant contributor",
        "decide on a proposal",
    },
    "contributor": {"write Supplier", "write Variety"},
    "contributor:Supplier": {"write Supplier"},
    "nobody": set(),
}
NEEDED = {
    "schema": "needs the maintainer or owner role",
    "manifest": "needs the maintainer or owner role",
    "write Supplier": "needs a contributor grant for Supplier or the maintainer or owner role",
    "write Variety": "needs a contributor grant for Variety or the maintainer or owner role",
    "grant contributor": "needs the maintainer or owner role",
    "grant maintainer": "needs the owner role",
    "decide on a proposal": "needs the maintainer or owner role",
}


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", list(ROLE_CASES))
def test_each_role_may_do_exactly_what_it_allows_locally(
    world: dict[str, Any], role: str, action: str
) -> None:
    store, ds = world[role], world["ds"]
    local, _, what = ACTIONS[action]
    before = ingest.all_events(store, ds)
    if action in ALLOWED[role]:
        local(store, ds, world["third"].identity.pubkey)
        return
    with pytest.raises(NotAuthorized) as exc:
        local(store, ds, world["third"].identity.pubkey)
    assert what in str(exc.value) and NEEDED[action] in str(exc.value)
    if action.startswith(("write", "schema")):
        assert "kobold fork" in str(exc.value) and "kobold propose" in str(exc.value)
    assert ingest.all_events(store, ds) == before  # refused before signing: nothing was written


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", [r for r in ROLE_CASES if r != "owner"])
def test_each_role_is_judged_alike_when_its_events_arrive_elsewhere(
    world: dict[str, Any], role: str, action: str
) -> None:
    store, owner, ds = world[role], world["owner"], world["ds"]
    _, raw, what = ACTIONS[action]
    ev = raw(store, ds, world["third"].identity.pubkey)
    if ev is None:  # decisions: the receiver's rule, on the owner's store, for the actor's key
        if action in ALLOWED[role]:
            authorization.require(owner, ds, store.identity.pubkey, KIND_DECISION)
        else:
            with pytest.raises(NotAuthorized, match=NEEDED[action]):
                authorization.require(owner, ds, store.identity.pubkey, KIND_DECISION)
        return
    before = state_hash.state_hash(owner, ds)
    report = ingest.ingest(owner, [ev.to_json()])
    if action in ALLOWED[role]:
        assert report.applied == 1 and not report.rejected, report.to_dict()
        return
    assert report.applied == 0 and len(report.rejected) == 1
    reason = report.rejected[0][1]
    assert reason.startswith(f"{short_npub(store.identity.pubkey)} may not")
    assert what in reason and NEEDED[action] in reason
    held = {"contributor:Supplier": "contributor for Supplier", "nobody": "none"}.get(role, role)
    assert reason.endswith(f"their role in the event's causal past is {held}")
    assert state_hash.state_hash(owner, ds) == before
    assert ingest.rejected(owner, ds)[0]["reason"] == reason


def test_a_forged_grant_grants_nothing(world: dict[str, Any]) -> None:
    """A grant signed by someone without the owner role is rejected, and a write built on it never applies."""
    owner, ds, mallory = world["owner"], world["ds"], world["nobody"]
    forged = _sign(
        mallory, ds, KIND_ROLE, roles.content_of([roles.Assignment(mallory.identity.pubkey, "owner")])
    )
    clock = int(forged.first_tag("clock") or 0) + 1
    op = {"o": "create", "r": "Supplier", "id": "abc", "f": {"name": "mine"}}
    on_top = sign_event(mallory.identity.secret, mallory.now(), KIND_CHANGESET,
                        writes.envelope_tags(ds, clock, [forged.id]), writes.dumps({"v": 1, "ops": [op]}))  # fmt: skip
    before = state_hash.state_hash(owner, ds)
    report = ingest.ingest(owner, [forged.to_json(), on_top.to_json()])
    assert report.applied == 0 and report.pending == 1  # the write waits for a parent that never comes
    assert [r for _, r in report.rejected] == [
        f"{short_npub(mallory.identity.pubkey)} may not make "
        f"{short_npub(mallory.identity.pubkey)} owner: that needs the owner role, "
        "and their role in the event's causal past is none"
    ]
    assert roles.role_of(roles.current_state(owner, ds), mallory.identity.pubkey) is None
    assert state_hash.state_hash(owner, ds) == before
    with pytest.raises(NotAuthorized):  # mallory's own store refuses it too
        roles.grant(mallory, ds, [mallory.identity.pubkey], "owner")


def test_a_write_concurrent_with_its_revoke_stays_and_a_later_one_is_rejected(tmp_path: Path) -> None:
    """The documented rule: a revoke only affects events that have it in their causal past."""
    owner, carol, replica = _open(tmp_path, "o"), _open(tmp_path, "c"), _open(tmp_path, "r")
    ds = datasets.create_dataset(owner, "Seeds")
    datasets.apply_schema(owner, ds, SCHEMA)
    roles.grant(owner, ds, [carol.identity.pubkey], "contributor")
    ingest.ingest(carol, ingest.all_events(owner, ds))
    rid = records.create_record(
        carol, ds, "Supplier", {"name": "concurrent"}
    )  # carol has not seen the revoke
    roles.revoke(owner, ds, carol.identity.pubkey)
    report = ingest.ingest(owner, ingest.all_events(carol, ds))
    assert report.applied == 1 and not report.rejected
    assert records.get_record(owner, ds, "Supplier", rid)["name"] == "concurrent"
    # once carol has seen the revoke, her writes are refused locally and, if forced, by every receiver
    ingest.ingest(carol, ingest.all_events(owner, ds))
    with pytest.raises(NotAuthorized, match="your role is none"):
        records.create_record(carol, ds, "Supplier", {"name": "after"})
    late = _write_raw("Supplier")(carol, ds, "")
    assert "may not write records of Supplier" in ingest.ingest(owner, [late.to_json()]).rejected[0][1]
    # a replica receiving everything in any order agrees
    events = [*ingest.all_events(owner, ds), late.to_json()]
    random.Random(3).shuffle(events)
    for i in range(0, len(events), 2):
        ingest.ingest(replica, events[i : i + 2])
    assert state_hash.state_hash(replica, ds) == state_hash.state_hash(owner, ds)
    for s in (owner, carol, replica):
        s.close()


def test_transferring_ownership_keeps_the_previous_owner_as_maintainer(tmp_path: Path) -> None:
    owner, heir = _open(tmp_path, "o"), _open(tmp_path, "h")
    ds = datasets.create_dataset(owner, "Seeds")
    roles.grant(owner, ds, [heir.identity.pubkey], "owner")
    state = roles.current_state(owner, ds)
    assert roles.owners(state) == [heir.identity.pubkey]
    entry = roles.role_of(state, owner.identity.pubkey)
    assert entry is not None and entry.role == "maintainer"
    with pytest.raises(NotAuthorized, match="needs the owner role"):
        roles.grant(owner, ds, [owner.identity.pubkey], "owner")
    owner.close()
    heir.close()


def test_the_last_owner_cannot_step_down(store: Store) -> None:
    ds = datasets.create_dataset(store, "Solo")
    with pytest.raises(NotAuthorized, match="without an owner"):
        roles.revoke(store, ds, store.identity.pubkey)


def test_malformed_role_events_are_refused_with_the_reason(world: dict[str, Any]) -> None:
    owner, ds = world["owner"], world["ds"]
    bad: list[tuple[dict[str, Any], str]] = [
        ({"roles": []}, "the role event has no roles"),
        ({"roles": [{"p": "xyz", "role": "owner"}]}, "not a 64-hex public key"),
        ({"roles": [{"p": "a" * 64, "role": "admin"}]}, "unknown role 'admin'"),
        ({"roles": [{"p": "a" * 64, "role": "maintainer", "resources": ["Supplier"]}]}, "only a contributor"),
    ]
    for body, reason in bad:
        report = ingest.ingest(world["maintainer"], [_sign(owner, ds, KIND_ROLE, body).to_json()])
        assert reason in report.rejected[0][1]


def test_bulk_ingest_enforces_the_same_rule(world: dict[str, Any], tmp_path: Path) -> None:
    """64+ changesets take the set-based path; unauthorized ones are refused there with the same reasons."""
    owner, nobody, contributor, ds = (
        world["owner"],
        world["nobody"],
        world["contributor:Supplier"],
        world["ds"],
    )
    fresh = _open(tmp_path, "fresh")
    good = [writes.write_ops(contributor, ds, [{"o": "create", "r": "Supplier", "id": f"s{i}", "f": {"name": "x"}}])
            for i in range(70)]  # fmt: skip
    bad_variety = _write_raw("Variety")(contributor, ds, "")
    bad_nobody = _write_raw("Supplier")(nobody, ds, "")
    events = [*ingest.all_events(owner, ds), *[e.to_json() for g in good for e in g]]
    report = ingest.ingest(fresh, [*events, bad_variety.to_json(), bad_nobody.to_json()])
    assert report.applied == len(events)
    reasons = sorted(r for _, r in report.rejected)
    assert len(reasons) == 2
    assert (
        "may not write records of Variety" in reasons[0] or "may not write records of Variety" in reasons[1]
    )
    small = _open(tmp_path, "small")
    ingest.ingest(small, events)
    per_event = ingest.ingest(small, [bad_variety.to_json(), bad_nobody.to_json()])
    assert sorted(r for _, r in per_event.rejected) == reasons
    assert state_hash.state_hash(small, ds) == state_hash.state_hash(fresh, ds)
    fresh.close()
    small.close()


def test_datasets_without_role_events_need_no_dag_walk(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = datasets.create_dataset(store, "Fast")
    datasets.apply_schema(store, ds, SCHEMA)
    walked: list[str] = []
    original = authorization.RoleTracker.from_store

    def counting(cls: type, *args: Any, **kwargs: Any) -> authorization.RoleTracker:
        walked.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(authorization.RoleTracker, "from_store", classmethod(counting))
    with Store.open(store.home.parent / "other", memory=True) as other:
        ingest.ingest(other, ingest.all_events(store, ds))
    assert walked == []


# --- delivery order -------------------------------------------------------------------------------------------

step = st.tuples(
    st.sampled_from(["grant", "grant-scoped", "revoke", "write", "write-variety", "sync"]),
    st.integers(0, 3),  # actor (0 = owner)
    st.integers(1, 3),  # target / other replica
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=20), seed=st.integers(0, 10_000))
def test_grants_revokes_and_writes_converge_whatever_the_delivery_order(
    tmp_path: Path, steps: list[tuple[str, int, int]], seed: int
) -> None:
    stores = [_open(tmp_path, f"p{i}") for i in range(4)]
    try:
        ds = datasets.create_dataset(stores[0], "Shared")
        datasets.apply_schema(stores[0], ds, SCHEMA)
        for s in stores[1:]:
            ingest.ingest(s, ingest.all_events(stores[0], ds))
        for kind, who, target in steps:
            s, t = stores[who], stores[target].identity.pubkey
            try:
                if kind == "grant":
                    roles.grant(s, ds, [t], "maintainer" if who == 0 else "contributor")
                elif kind == "grant-scoped":
                    roles.grant(s, ds, [t], "contributor", ["Supplier"])
                elif kind == "revoke":
                    roles.revoke(s, ds, t)
                elif kind in ("write", "write-variety"):
                    # forced: signed without the local check, so receivers must sort it out
                    ev = _write_raw("Supplier" if kind == "write" else "Variety")(s, ds, "")
                    ingest.ingest(s, [ev.to_json()])
                else:
                    ingest.ingest(s, ingest.all_events(stores[target], ds))
            except KoboldError:
                pass
        union: dict[str, str] = {}
        for s in stores:
            for raw in ingest.all_events(s, ds):
                union[raw[7:71]] = raw
        events = list(union.values())
        rng = random.Random(seed)
        hashes = set()
        for i in range(3):
            with _open(tmp_path, f"r{i}") as replica:
                shuffled = events[:]
                rng.shuffle(shuffled)
                while shuffled:
                    k = rng.randint(1, len(shuffled))
                    ingest.ingest(replica, shuffled[:k])
                    shuffled = shuffled[k:]
                h = state_hash.state_hash(replica, ds)
                assert maintenance.rebuild(replica, ds) == h  # the projection re-derives the same state
                hashes.add((h, tuple(sorted(ingest.all_events(replica, ds)))))
        assert len(hashes) == 1
    finally:
        for s in stores:
            s.close()
