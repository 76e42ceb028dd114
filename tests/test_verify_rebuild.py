"""`verify` finds tampering in the log or the op index; `rebuild` re-derives the same state."""

from engine import maintenance, records, state_hash
from engine.store import Store


def _seed(store: Store, ds: str) -> str:
    rid = records.create_record(
        store, ds, "SeedVariety", {"species": "Zea mays", "variety_name": "Painted Mountain"}
    )
    records.update_record(store, ds, "SeedVariety", rid, {"germination_days": 7})
    return rid


def test_a_clean_log_verifies_and_rebuilds_to_the_same_hash(store: Store, seeds: str) -> None:
    _seed(store, seeds)
    report = maintenance.verify(store, seeds)
    assert report.ok and report.events == 4 and report.problems == []
    assert maintenance.rebuild(store, seeds) == report.state_hash == state_hash.compute(store, seeds)


def test_an_edited_event_is_reported(store: Store, seeds: str) -> None:
    _seed(store, seeds)
    store.con.execute(
        "UPDATE events SET raw = replace(raw, 'Painted Mountain', 'Painted Valley') WHERE kind = 4872 AND raw LIKE '%Painted%'"
    )
    report = maintenance.verify(store, seeds)
    assert not report.ok
    assert [p["reason"] for p in report.problems] == ["the event id does not match its content"]


def test_a_tampered_op_index_is_reported_and_a_full_rebuild_repairs_it(store: Store, seeds: str) -> None:
    rid = _seed(store, seeds)
    good = state_hash.compute(store, seeds)
    store.con.execute("DELETE FROM record_ops WHERE op = 'update'")
    report = maintenance.verify(store, seeds)
    assert not report.ok and "op index does not match" in report.problems[0]["reason"]
    assert maintenance.rebuild(store, seeds, full=True) == good
    assert maintenance.verify(store, seeds).ok
    assert records.get_record(store, seeds, "SeedVariety", rid)["germination_days"] == 7


def test_a_value_that_does_not_fit_its_type_is_reported(store: Store, seeds: str) -> None:
    _seed(store, seeds)
    store.con.execute("""UPDATE record_ops SET fields = '{"germination_days": "soon"}' WHERE op = 'update'""")
    problems = [p["reason"] for p in maintenance.verify(store, seeds).problems]
    assert "1 value(s) of SeedVariety.germination_days do not fit its type" in problems


def test_rebuild_keeps_every_resource_of_a_multi_resource_dataset(store: Store) -> None:
    from engine import datasets

    ds = datasets.create_dataset(store, "Two", visibility="public")
    datasets.apply_schema(store, ds, [{"resource": "A", "fields": {"n": {"type": "string"}}},
                                      {"resource": "B", "fields": {"m": {"type": "integer"}}}])  # fmt: skip
    before = state_hash.compute(store, ds)
    assert maintenance.rebuild(store, ds) == before == state_hash.compute(store, ds)
    assert sorted(r.name for r in datasets.resources(store, ds)) == ["A", "B"]


def _slip_in(author: Store, store: Store, ds: str, species: str) -> str:
    """A create by `author`, signed on their heads, put straight into `store`'s log past every check; its id."""
    from engine import apply, records, writes
    from engine.protocol import KIND_CHANGESET, PROTOCOL_VERSION

    op = {"o": "create", "r": "SeedVariety", "id": records.new_record_id(),
          "f": {"species": species, "variety_name": "V"}}  # fmt: skip
    ev = writes.sign_on_heads(author, ds, KIND_CHANGESET, writes.dumps({"v": PROTOCOL_VERSION, "ops": [op]}))
    apply.insert_event_rows(store, [apply.check_envelope(ev)])
    return ev.id


def test_verify_judges_roles_again_and_finds_an_event_slipped_past_them(
    store: Store, seeds: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from engine import ingest, records, roles

    with Store.open(tmp_path / "helper") as helper, Store.open(tmp_path / "stranger") as stranger:
        for other in (helper, stranger):
            ingest.ingest(other, ingest.all_events(store, seeds))
        roles.grant(store, seeds, [helper.identity.pubkey], "contributor")
        ingest.ingest(helper, ingest.all_events(store, seeds))
        records.create_record(helper, seeds, "SeedVariety", {"species": "Allowed", "variety_name": "V"})
        ingest.ingest(store, ingest.all_events(helper, seeds))
        assert maintenance.verify(store, seeds).ok
        slipped = _slip_in(stranger, store, seeds, "Sneaky")
    report = maintenance.verify(store, seeds)
    assert not report.ok
    assert any(p["event"] == slipped and "not authorized" in p["reason"] and "may not write" in p["reason"]
               for p in report.problems)  # fmt: skip


def test_verify_finds_a_strangers_event_in_a_dataset_without_roles(
    store: Store, seeds: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from engine import ingest

    with Store.open(tmp_path / "stranger") as stranger:
        ingest.ingest(stranger, ingest.all_events(store, seeds))
        slipped = _slip_in(stranger, store, seeds, "S")
    assert [
        p["event"] for p in maintenance.verify(store, seeds).problems if "not authorized" in p["reason"]
    ] == [slipped]


def _forge_signature(store: Store, event_id: str) -> None:
    store.con.execute(
        """UPDATE events SET raw = regexp_replace(raw, '"sig":"[0-9a-f]{128}"', '"sig":"' || repeat('7', 128) || '"')
           WHERE id = ?""",
        [event_id],
    )


def _event_of_kind(store: Store, ds: str, kind: int) -> str:
    row = store.con.execute(
        "SELECT id FROM events WHERE dataset_id = ? AND kind = ? ORDER BY clock LIMIT 1", [ds, kind]
    ).fetchone()
    assert row
    return str(row[0])


def test_a_forged_signature_is_reported_and_the_events_after_it_are_judged_on_their_own(
    store: Store, seeds: str
) -> None:
    from engine.protocol import KIND_CHANGESET

    _seed(store, seeds)
    create = _event_of_kind(store, seeds, KIND_CHANGESET)
    _forge_signature(store, create)
    assert maintenance.verify(store, seeds).problems == [
        {"event": create, "reason": "the signature does not verify against the author's key"}
    ]


def test_an_event_stored_before_its_parent_breaks_the_lineage_and_the_first_failed_check_is_named(
    store: Store, seeds: str
) -> None:
    from engine.protocol import KIND_GENESIS, KIND_SCHEMA

    _seed(store, seeds)
    genesis, schema = _event_of_kind(store, seeds, KIND_GENESIS), _event_of_kind(store, seeds, KIND_SCHEMA)
    store.con.execute("UPDATE events SET clock = 99 WHERE id = ?", [genesis])  # log order now puts it last
    assert maintenance.verify(store, seeds).problems == [
        {"event": schema, "reason": f"parent {genesis[:12]} is missing or not older"}
    ]
    _forge_signature(store, schema)  # the signature is checked before the lineage
    assert maintenance.verify(store, seeds).problems == [
        {"event": schema, "reason": "the signature does not verify against the author's key"}
    ]
