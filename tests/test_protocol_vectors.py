"""The protocol's test vectors (tests/vectors/envelopes.json): each envelope type from key and inputs to the exact
event, and invalid events with the reason a receiver must give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine import ingest, state_hash
from engine.nostr_event import NostrEvent, compute_id, public_key_hex
from engine.store import Store

VECTORS = json.loads((Path(__file__).parent / "vectors" / "envelopes.json").read_text())


@pytest.mark.parametrize("v", VECTORS["valid"], ids=lambda v: v["name"])
def test_valid_vectors_give_the_exact_event(v: dict[str, Any]) -> None:
    ev = v["event"]
    tags = tuple(tuple(t) for t in v["tags"])
    assert ev["pubkey"] == public_key_hex(bytes.fromhex(v["secret_key"]))
    assert ev["id"] == compute_id(ev["pubkey"], v["created_at"], v["kind"], tags, v["content"])
    assert (ev["kind"], ev["created_at"], ev["content"], ev["tags"]) == (
        v["kind"],
        v["created_at"],
        v["content"],
        v["tags"],
    )
    NostrEvent.from_dict(ev).verify()


def test_all_five_envelope_types_have_vectors() -> None:
    assert {v["envelope"] for v in VECTORS["valid"]} == {
        "DatasetManifest", "SchemaBundle", "EventEnvelope", "Snapshot", "MergeProposal"
    }  # fmt: skip


def _receiver(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "r", memory=True)
    store.now = lambda: int(VECTORS["receiver_now"])
    return store


def test_the_valid_stream_applies_and_its_snapshot_bootstraps_a_fresh_store(tmp_path: Path) -> None:
    valid = [json.dumps(v["event"]) for v in VECTORS["valid"] if v["envelope"] != "MergeProposal"]
    stream = [e for e in valid if json.loads(e)["kind"] != 4876]
    snap = [e for e in valid if json.loads(e)["kind"] == 4876]
    with _receiver(tmp_path) as full, Store.open(tmp_path / "s", memory=True) as boot:
        boot.now = full.now
        assert not ingest.ingest(full, stream).rejected
        ds = VECTORS["dataset_id"]
        report = ingest.ingest(boot, [stream[0], *snap])
        assert report.snapshots == 1 and not report.rejected
        assert state_hash.state_hash(boot, ds) == state_hash.state_hash(full, ds) == json.loads(
            json.loads(snap[0])["content"])["state_hash"]  # fmt: skip


@pytest.mark.parametrize("v", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vectors_are_refused_with_their_reason(v: dict[str, Any], tmp_path: Path) -> None:
    with _receiver(tmp_path) as store:
        base = [json.dumps(x["event"]) for x in VECTORS["valid"][:3]]  # genesis, manifest, schema
        assert not ingest.ingest(store, base).rejected
        before = state_hash.state_hash(store, VECTORS["dataset_id"])
        report = ingest.ingest(store, [json.dumps(v["event"])])
        assert report.rejected and report.rejected[0][1] == v["reason"]
        assert state_hash.state_hash(store, VECTORS["dataset_id"]) == before
