"""A hostile corpus against the apply path: every bad event is refused with its reason, the state never moves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from engine import datasets, ingest, records, roles, state_hash
from engine.event_checks import value_fits, value_ok_sql
from engine.nostr_event import NostrEvent, sign_event
from engine.protocol import KIND_CHANGESET, KIND_GENESIS
from engine.store import Store
from engine.writes import dumps, envelope_tags, heads
from kobold_tui.cli import main
from tests.conftest import SEED_SCHEMA

OTHER = bytes.fromhex("22" * 32)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Store, Store, str]]:
    """The owner's store with a record, and a replica that imported everything."""
    with Store.open(tmp_path / "owner") as a, Store.open(tmp_path / "replica") as b:
        ds = datasets.create_dataset(a, "Seeds", visibility="public")
        datasets.apply_schema(a, ds, [SEED_SCHEMA])
        records.create_record(a, ds, "SeedVariety", {"species": "Solanum", "variety_name": "Krim"})
        roles.grant(
            a, ds, [b.identity.pubkey], "maintainer"
        )  # b's own events are judged on content, not role
        assert not ingest.ingest(b, ingest.all_events(a, ds)).rejected
        yield a, b, ds


def changeset(store: Store, ds: str, ops: list[dict[str, Any]], *, secret: bytes | None = None,
              created_at: int | None = None, parents: list[str] | None = None, clock: int | None = None,
              kind: int = KIND_CHANGESET, version: str = "1") -> NostrEvent:  # fmt: skip
    p, c = heads(store, ds)
    tags = envelope_tags(ds, c if clock is None else clock, p if parents is None else parents)
    tags = tuple(("v", version) if t[0] == "v" else t for t in tags)
    return sign_event(secret or store.identity.secret, created_at or store.now(), kind, tags,
                      dumps({"v": 1, "ops": ops}))  # fmt: skip


_OP = '"r":"SeedVariety","id":"0190f0c0a0b07000800000000000abcd"'  # an op's resource and record, as JSON text


def signed_body(store: Store, ds: str, body: str) -> str:
    """A changeset on the store's heads whose content is `body` exactly, as another implementation might write it."""
    p, c = heads(store, ds)
    return sign_event(
        store.identity.secret, store.now(), KIND_CHANGESET, envelope_tags(ds, c, p), body
    ).to_json()


def replica_on_path(pair: tuple[Store, Store, str], monkeypatch: pytest.MonkeyPatch, bulk: bool) -> Store:
    """The replica, made to take the set-based path for even one changeset when `bulk`."""
    if bulk:
        monkeypatch.setattr(ingest, "BULK_MIN_CHANGESETS", 1)
    return pair[1]


def create_op(**fields: Any) -> dict[str, Any]:
    return {"o": "create", "r": "SeedVariety", "id": "0190f0c0a0b07000800000000000abcd",
            "f": {"species": "Pisum", "variety_name": "Alderman", **fields}}  # fmt: skip


def refused(b: Store, ds: str, item: NostrEvent | str | bytes, reason: str) -> None:
    before = state_hash.state_hash(b, ds)
    report = ingest.ingest(b, [item])
    assert report.applied == 0 and len(report.rejected) == 1, report.to_dict()
    assert reason in report.rejected[0][1]
    assert state_hash.state_hash(b, ds) == before
    assert b.con.execute("SELECT count(*) FROM pending").fetchone() == (0,)


def test_a_good_changeset_applies(pair: tuple[Store, Store, str]) -> None:
    _, b, ds = pair
    before = state_hash.state_hash(b, ds)
    report = ingest.ingest(b, [changeset(b, ds, [create_op(germination_days=7, price="2.50")]).to_json()])
    assert report.applied == 1 and not report.rejected
    assert state_hash.state_hash(b, ds) != before


def test_forged_signature_and_tampered_content_are_refused(pair: tuple[Store, Store, str]) -> None:
    a, b, ds = pair
    ev = changeset(a, ds, [create_op()])
    other = sign_event(OTHER, ev.created_at, ev.kind, ev.tags, ev.content)
    forged = NostrEvent(ev.id, ev.pubkey, ev.created_at, ev.kind, ev.tags, ev.content, other.sig)
    refused(b, ds, forged.to_json(), "signature does not verify")
    tampered = NostrEvent(
        ev.id, ev.pubkey, ev.created_at, ev.kind, ev.tags, ev.content.replace("Pisum", "Zea"), ev.sig
    )
    refused(b, ds, tampered.to_json(), "id does not match")


def test_events_of_unknown_datasets_kinds_and_versions_are_refused(pair: tuple[Store, Store, str]) -> None:
    a, b, ds = pair
    stranger = changeset(a, ds, [create_op()]).to_dict()
    stranger_ev = sign_event(OTHER, 1_790_000_000, KIND_CHANGESET, envelope_tags("ab" * 16, 3, ["cd" * 32]),
                             stranger["content"])  # fmt: skip
    held = ingest.ingest(b, [stranger_ev.to_json()])  # its genesis may come later: held, never applied
    assert (held.applied, held.pending, held.rejected) == (0, 1, [])
    assert b.con.execute("SELECT count(*) FROM datasets").fetchone() == (1,)
    b.con.execute("DELETE FROM pending")
    refused(b, ds, changeset(b, ds, [create_op()], kind=4999).to_json(), "unknown kind 4999")
    refused(b, ds, changeset(b, ds, [create_op()], version="9").to_json(), "unknown protocol version")
    refused(b, ds, changeset(b, ds, [create_op()], kind=4873).to_json(), "the role event has no roles")


def test_malformed_json_and_absurd_sizes_are_refused(pair: tuple[Store, Store, str]) -> None:
    _, b, ds = pair
    refused(b, ds, '{"id": "not json', "malformed JSON")
    refused(b, ds, "[1, 2]", "not a JSON object")
    big = changeset(b, ds, [create_op(notes="x" * (1 << 20))])
    refused(b, ds, big.to_json(), "larger than 1048576")
    refused(b, ds, big, "larger than 1048576")


def test_timestamps_far_in_the_future_are_refused(pair: tuple[Store, Store, str]) -> None:
    _, b, ds = pair
    refused(
        b, ds, changeset(b, ds, [create_op()], created_at=b.now() + 3 * 86_400).to_json(), "in the future"
    )
    ok = ingest.ingest(b, [changeset(b, ds, [create_op()], created_at=b.now() + 3_600).to_json()])
    assert ok.applied == 1


@pytest.mark.parametrize(
    "ops, reason",
    [
        ([create_op(colour="red")], "op 0: SeedVariety has no field 'colour'"),
        ([{**create_op(), "r": "Supplier"}], "op 0: unknown resource 'Supplier'"),
        ([create_op(germination_days="7")], "SeedVariety.germination_days holds a value that is not a canonical integer"),
        ([create_op(germination_days=7.5)], "not a canonical integer"),
        ([create_op(price=2.5)], "not a canonical decimal"),
        ([create_op(price="2.5")], "not a canonical decimal"),
        ([create_op(organic="yes")], "not a canonical boolean"),
        ([create_op(sow_from="2026-02-30")], "not a canonical date"),
        ([create_op(status="sold")], "not a canonical choice"),
        ([create_op(species="two\nlines")], "not a canonical string"),
        ([create_op(), {"o": "delete", "r": "SeedVariety", "id": "x", "f": {"species": "a"}}], "op 1: a delete carries no fields"),
        ([{"o": "upsert", "r": "SeedVariety", "id": "x"}], "op 0 has no valid operation"),
        ([], "the changeset has no ops"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("bulk", [False, True])
def test_content_that_violates_the_schema_is_refused_on_both_paths(
    pair: tuple[Store, Store, str], monkeypatch: pytest.MonkeyPatch, ops: list[dict[str, Any]], reason: str,
    bulk: bool,
) -> None:  # fmt: skip
    b, ds = replica_on_path(pair, monkeypatch, bulk), pair[2]
    refused(b, ds, changeset(b, ds, ops).to_json(), reason)
    assert ingest.rejected(b, ds)[0]["reason"].endswith(reason)


def test_a_changeset_is_checked_against_the_schema_as_of_its_own_event(
    pair: tuple[Store, Store, str],
) -> None:
    a, b, ds = pair
    early = changeset(a, ds, [create_op(colour="red")])  # written before the field exists
    datasets.apply_schema(a, ds, [{**SEED_SCHEMA, "fields": {**SEED_SCHEMA["fields"], "colour": "string"}}])
    late = changeset(a, ds, [create_op(colour="red")])
    report = ingest.ingest(b, [*ingest.all_events(a, ds), early.to_json(), late.to_json()])
    assert [r for _, r in report.rejected] == ["op 0: SeedVariety has no field 'colour'"]
    assert report.applied == 2  # the schema event and the later changeset


def test_duplicates_change_nothing(pair: tuple[Store, Store, str]) -> None:
    a, b, ds = pair
    before = state_hash.state_hash(b, ds)
    report = ingest.ingest(b, ingest.all_events(a, ds) * 2)
    assert (
        report.applied == 0 and report.duplicates == 2 * len(ingest.all_events(a, ds)) and not report.rejected
    )
    assert state_hash.state_hash(b, ds) == before


def test_parent_cycles_and_missing_parents(pair: tuple[Store, Store, str]) -> None:
    _, b, ds = pair
    _, c = heads(b, ds)
    # An id is a hash of the parents it names, so a real cycle cannot be built; the clock rule catches any
    # claimed one (a child must have a larger clock than its parents), and a self-reference is refused outright.
    refused(b, ds, changeset(b, ds, [create_op()], clock=c - 1).to_json(), "parent cycle or a forged clock")
    ev = changeset(b, ds, [create_op()])
    selfish = sign_event(b.identity.secret, ev.created_at, KIND_CHANGESET,
                         (*ev.tags, ("e", ev.id, "", "parent")), ev.content)  # fmt: skip
    assert (
        ingest.ingest(b, [selfish.to_json()]).pending == 1
    )  # its claimed parent is unknown: held, not applied
    before = state_hash.state_hash(b, ds)
    orphan = changeset(b, ds, [create_op()], parents=["ee" * 32], clock=c + 5)
    report = ingest.ingest(b, [orphan.to_json()])
    assert report.pending == 2 and report.applied == 0 and not report.rejected
    assert state_hash.state_hash(b, ds) == before


def test_a_genesis_must_derive_its_dataset_id(tmp_path: Path) -> None:
    with Store.open(tmp_path / "x") as s:
        body = dumps(
            {"v": 1, "name": "Fake", "type": "t", "visibility": "public", "description": "", "nonce": "n"}
        )
        ev = sign_event(OTHER, 1_790_000_000, KIND_GENESIS, envelope_tags("ab" * 16, 0, []), body)
        report = ingest.ingest(s, [ev.to_json()])
        assert report.rejected[0][1] == "the dataset id does not derive from the genesis author and nonce"
        assert s.con.execute("SELECT count(*) FROM datasets").fetchone() == (0,)


def test_the_rest_of_a_batch_applies_and_log_rejected_shows_the_reasons(
    pair: tuple[Store, Store, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, b, ds = pair
    good = changeset(b, ds, [create_op()])
    report = ingest.ingest(
        b, ["{broken", good.to_json(), changeset(b, ds, [create_op(colour="x")]).to_json()]
    )
    assert report.applied == 1 and len(report.rejected) == 2
    home = b.home
    b.close()
    assert main(["log", ds, "--rejected", "--json", "--home", str(home)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [e["reason"] for e in shown] == [
        "op 0: SeedVariety has no field 'colour'"
    ]  # "{broken" has no dataset


FIELDS = [
    {"key": "k", "type": "string"}, {"key": "k", "type": "text"}, {"key": "k", "type": "integer"},
    {"key": "k", "type": "decimal", "scale": 2}, {"key": "k", "type": "decimal", "scale": 0},
    {"key": "k", "type": "boolean"}, {"key": "k", "type": "date"}, {"key": "k", "type": "datetime"},
    {"key": "k", "type": "choice", "choices": ["a", "b"]}, {"key": "k", "type": "reference"},
    {"key": "k", "type": "references"},
]  # fmt: skip
VALUES = [
    "a", "b", "", " x", "x ", "x\u00a0", "two\nlines", "\r", 0, 7, -7, 2**63 - 1, 2**63, -(2**63), 1.0, 7.5, 1e3,
    True, False, "7", "2.50", "2.5", "-0.00", "02.50", "+2.50", "1e2", "12", "-3", "2026-04-30", "2026-02-30",
    "2026-4-30", "0000-01-01", "2026-04-30T14:05:00", "2026-04-30T14:05", "2026-04-30 14:05:00",
    "2026-04-30T24:00:00", "2026-04-30T14:05:00Z", [], ["a", "b"], [" a"], ["a", 1], [["a"]], {"x": 1},
]  # fmt: skip


def test_the_set_based_value_check_agrees_with_the_canonical_one() -> None:
    con = duckdb.connect()
    disagreements = []
    for f in FIELDS:
        for v in VALUES:
            sql_ok = con.execute(
                f"SELECT coalesce({value_ok_sql(f, '$1::JSON')}, false)", [json.dumps(v)]
            ).fetchone()
            if bool(sql_ok and sql_ok[0]) != value_fits(f, v):
                disagreements.append((f["type"], v, value_fits(f, v)))
    assert disagreements == []


@pytest.mark.parametrize("spacing", ["", " ", "\n ", "\t", "\r\n"])
@pytest.mark.parametrize("bulk", [False, True])
def test_an_op_whose_f_is_null_is_refused_on_both_paths_whatever_the_whitespace(
    pair: tuple[Store, Store, str], monkeypatch: pytest.MonkeyPatch, spacing: str, bulk: bool
) -> None:
    b, ds = replica_on_path(pair, monkeypatch, bulk), pair[2]
    body = '{"v":1,"ops":[{"o":"create",' + _OP + ',"f"' + spacing + ":" + spacing + "null}]}"
    refused(b, ds, signed_body(b, ds, body), "op 0")


@pytest.mark.parametrize(
    "body",
    [
        '{"v":1,"ops":[{"o":"create",' + _OP + ',"o":"delete","f":{"species":"A","variety_name":"B"}}]}',
        '{"v":1,"ops":[{"o":"create",' + _OP + ',"f":{"species":"A","variety_name":"B","species":"C"}}]}',
        '{"v":1,"ops":[{"o":"create",' + _OP + ',"f":{"species":"A","variety_name":"B"}}],"ops":[]}',
        '{"v":1,"v":2,"ops":[{"o":"create",' + _OP + ',"f":{"species":"A","variety_name":"B"}}]}',
    ],
)
@pytest.mark.parametrize("bulk", [False, True])
def test_content_that_repeats_a_key_is_refused_on_both_paths(
    pair: tuple[Store, Store, str], monkeypatch: pytest.MonkeyPatch, body: str, bulk: bool
) -> None:
    """Python's JSON parser keeps the last of two equal keys and DuckDB's the first: replicas taking different
    paths would have applied different values."""
    b, ds = replica_on_path(pair, monkeypatch, bulk), pair[2]
    refused(b, ds, signed_body(b, ds, body), "repeats the key")


@pytest.mark.parametrize(
    "body",
    [
        '{ "v": 1, "ops": [ {"o": "create", ' + _OP + ', "f": {"species": "A", "variety_name": "B"}} ] }',
        '{"ops":[{"o":"create",' + _OP + ',"f":{"species":"\\u0041","variety_name":"B"}}],"v":1,"note":"x"}',
    ],
)
@pytest.mark.parametrize("bulk", [False, True])
def test_content_in_another_valid_form_applies_the_same_on_both_paths(
    pair: tuple[Store, Store, str], monkeypatch: pytest.MonkeyPatch, body: str, bulk: bool
) -> None:
    """Spacing, escapes, key order and unknown keys are another implementation's right: the set-based path hands
    such content to Python rather than reading it differently."""
    b, ds = replica_on_path(pair, monkeypatch, bulk), pair[2]
    report = ingest.ingest(b, [signed_body(b, ds, body)])
    assert report.applied == 1 and not report.rejected, report.to_dict()
    assert records.get_record(b, ds, "SeedVariety", "0190f0c0a0b07000800000000000abcd")["species"] == "A"
