"""Snapshots: bootstrap without history, partial history shown, later history leaves the state hash unchanged."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from engine import datasets, ingest, maintenance, records, roles, snapshot, state_hash
from engine.nostr_event import NostrEvent, sign_event
from engine.store import Store
from sync import bundle
from tests.conftest import SEED_SCHEMA


def build(store: Store, n: int = 300) -> str:
    ds = datasets.create_dataset(store, "Seeds", visibility="public")
    datasets.apply_schema(store, ds, [SEED_SCHEMA])
    from engine.records import Change

    records.apply_changes(store, ds, [
        Change("create", "SeedVariety", None, {"species": f"S{i}", "variety_name": f"V {i}", "price": "1.25",
                                               "organic": i % 2 == 0, "sow_from": "2026-03-01", "notes": "a\nb"})
        for i in range(n)
    ])  # fmt: skip
    datasets.update_manifest(store, ds, name="Seed Library")
    return ds


def test_bootstrap_from_a_snapshot_then_import_the_history(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a") as a, Store.open(tmp_path / "b") as b:
        a.config.max_event_bytes = 4096  # many chunks
        ds = build(a)
        sent = state_hash.state_hash(a, ds)
        bundle.export_bundle(a, ds, tmp_path / "snap.kobold", use_snapshot=True)
        bundle.export_bundle(a, ds, tmp_path / "full.kobold")
        chunks = [
            json.loads(x) for x in gzip.decompress((tmp_path / "snap.kobold").read_bytes()).splitlines()[1:]
        ]
        assert len([c for c in chunks if c["kind"] == 4876]) > 5
        assert all(len(json.dumps(c, separators=(",", ":"))) <= 4096 for c in chunks)
        got = bundle.import_bundle(b, tmp_path / "snap.kobold")
        assert got.report.snapshots == 1 and not got.report.rejected
        assert (got.state_hash, got.history, got.name) == (sent, "partial", "Seed Library")
        assert maintenance.verify(b, ds).ok
        assert maintenance.rebuild(b, ds, full=True) == sent
        grant = roles.grant(a, ds, [b.identity.pubkey], "contributor")  # above the snapshot: b knows it
        assert ingest.ingest(b, [grant]).applied == 1
        rid = records.create_record(b, ds, "SeedVariety", {"species": "Zea", "variety_name": "Golden"})
        records.update_record(a, ds, "SeedVariety", rid_of(a, ds), {"germination_days": 4})
        bundle.export_bundle(a, ds, tmp_path / "full2.kobold")
        done = bundle.import_bundle(b, tmp_path / "full2.kobold")
        assert done.history == "complete" and done.report.completed_history == [ds]
        bundle.export_bundle(b, ds, tmp_path / "back.kobold")
        bundle.import_bundle(a, tmp_path / "back.kobold")
        assert records.get_record(a, ds, "SeedVariety", rid)["species"] == "Zea"
        assert state_hash.state_hash(a, ds) == state_hash.state_hash(b, ds)
        assert maintenance.verify(b, ds).ok


def rid_of(store: Store, ds: str) -> str:
    row = store.con.execute(f'SELECT min(_id) FROM "p_{ds}_SeedVariety"').fetchone()
    assert row
    return str(row[0])


def test_history_arriving_later_leaves_the_state_hash_unchanged(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a") as a, Store.open(tmp_path / "b") as b:
        ds = build(a)
        sent = state_hash.state_hash(a, ds)
        bundle.export_bundle(a, ds, tmp_path / "snap.kobold", use_snapshot=True)
        bundle.export_bundle(a, ds, tmp_path / "full.kobold")
        bundle.import_bundle(b, tmp_path / "snap.kobold")
        result = bundle.import_bundle(b, tmp_path / "full.kobold")
        assert (result.history, result.state_hash) == ("complete", sent)
        assert b.con.execute(
            "SELECT count(*) FROM record_ops WHERE event_id NOT IN (SELECT id FROM events)"
        ).fetchone() == (0,)


def _resigned(events: list[str], secret: bytes, edit: object = None) -> list[str]:
    """The snapshot events signed again by `secret`, chunk tags pointing at the new header."""
    header = NostrEvent.from_json(events[0])
    content = header.content
    if callable(edit):
        content = edit(content)
    new_header = sign_event(secret, header.created_at, header.kind, header.tags, content)
    out = [new_header.to_json()]
    for raw in events[1:]:
        ev = NostrEvent.from_json(raw)
        tags = tuple(("S", new_header.id) if t[0] == "S" else t for t in ev.tags)
        out.append(sign_event(secret, ev.created_at, ev.kind, tags, ev.content).to_json())
    return out


def test_a_snapshot_that_lies_about_its_state_hash_or_is_not_the_owners_is_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a") as a, Store.open(tmp_path / "b") as b:
        ds = build(a, 20)
        genesis = ingest.all_events(a, ds)[0]
        snap = [e.to_json() for e in snapshot.create(a, ds)]
        ingest.ingest(b, [genesis])
        before = state_hash.state_hash(b, ds)
        lying = _resigned(snap, a.identity.secret, lambda c: c.replace('"state_hash":"', '"state_hash":"0'))
        report = ingest.ingest(b, lying)
        assert report.rejected == [
            (json.loads(lying[0])["id"], "the snapshot's content does not match its declared state hash")
        ]
        assert state_hash.state_hash(b, ds) == before and snapshot.history_status(b, ds) == "complete"
        stranger = _resigned(snap, bytes.fromhex("33" * 32))
        report = ingest.ingest(b, stranger)
        assert report.rejected[0][1] == "only the dataset owner's snapshot is accepted"
        report = ingest.ingest(b, snap[:-1])
        assert "incomplete" in report.rejected[0][1]
        assert state_hash.state_hash(b, ds) == before
        assert ingest.ingest(b, snap).snapshots == 1
        assert state_hash.state_hash(b, ds) == state_hash.state_hash(a, ds)


def _compact(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _with_chunk(events: list[str], secret: bytes, content: str) -> list[str]:
    """The snapshot with its first data chunk's content replaced (re-signed by the same key)."""
    ev = NostrEvent.from_json(events[1])
    return [events[0], sign_event(secret, ev.created_at, ev.kind, ev.tags, content).to_json(), *events[2:]]


def test_a_snapshot_with_a_malformed_chunk_is_refused_and_leaves_nothing_behind(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a") as a:
        ds = build(a, 20)
        genesis = ingest.all_events(a, ds)[0]
        snap = [e.to_json() for e in snapshot.create(a, ds)]
        secret = a.identity.secret
    good = json.loads(json.loads(snap[1])["content"])
    row = good["rows"][0]
    broken = {
        "not JSON": '{"v":1,"part":1,"resource":"SeedVariety","rows":[',
        "rows not a list": _compact({**good, "rows": {"a": 1}}),
        "unknown resource": _compact({**good, "resource": "Nope"}),
        "row not a pair": _compact({**good, "rows": [[row[0]], *good["rows"][1:]]}),
        "row of three": _compact({**good, "rows": [[*row, 1], *good["rows"][1:]]}),
        "row an object": _compact({**good, "rows": [{"id": row[0]}, *good["rows"][1:]]}),
        "id not a string": _compact({**good, "rows": [[7, row[1]], *good["rows"][1:]]}),
        "bad id": _compact({**good, "rows": [["no spaces", row[1]], *good["rows"][1:]]}),
        "fields not an object": _compact({**good, "rows": [[row[0], [1]], *good["rows"][1:]]}),
    }
    for i, (case, content) in enumerate(broken.items()):
        with Store.open(tmp_path / f"b{i}") as b:
            ingest.ingest(b, [genesis])
            before = state_hash.state_hash(b, ds)
            report = ingest.ingest(b, _with_chunk(snap, secret, content))
            assert report.rejected == [(json.loads(snap[0])["id"], "a snapshot chunk is malformed")], case
            assert state_hash.state_hash(b, ds) == before, case
            assert snapshot.history_status(b, ds) == "complete", case
            assert b.con.execute("SELECT count(*) FROM record_ops").fetchone() == (0,), case
            assert ingest.ingest(b, snap).snapshots == 1, case  # the good snapshot still bootstraps
            assert state_hash.state_hash(b, ds) != before, case
