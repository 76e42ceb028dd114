"""The SQL fold behind three-way reviews (`forks.fold`) against a plain Python fold kept here as the reference:
on random op histories of an upstream and a fork that inherited part of it, every view's states are the same,
and a review built from the SQL's changed fields only, or compared in SQL (`merge.record_diffs`), classifies every
record as one built from full states."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import forks, merge
from engine.forks import INHERITED_OFFSET, RecordState, States, View
from engine.projection import insert_ops
from engine.store import Store

UP, FORK = "u" * 32, "f" * 32
RECORDS = [("R", "r1"), ("R", "r2"), ("R", "r3"), ("S", "r1")]
FIELDS = ["a", "b", "c/~d"]  # a key a JSON path must escape


def reference_fold(
    store: Store, dataset_id: str, records: Sequence[tuple[str, str]], events: set[str] | None
) -> States:
    """Last-writer-wins record by record in Python, op after op (the fold the SQL replaced)."""
    out: States = {}
    rows = store.con.execute(
        """SELECT resource, record_id, event_id, clock, op, fields FROM record_ops WHERE dataset_id = ?
           ORDER BY clock, event_id, op_index""",
        [dataset_id],
    ).fetchall()
    wanted = set(records)
    for resource, rid, event_id, clock, op, fields_json in rows:
        key = (resource, rid)
        if key not in wanted or (clock >= 0 and events is not None and event_id not in events):
            continue
        fields = json.loads(fields_json) if fields_json else None
        state = out.setdefault(key, RecordState())
        if op != "update":
            state.alive = op != "delete"
            state.life_event = event_id
        if not fields:
            continue
        if op == "create":
            state.created_by = event_id
            for k in fields:
                state.updaters.pop(k, None)
        else:
            for k in fields:
                state.updaters[k] = event_id
        state.values.update(fields)
        state.values = {k: v for k, v in state.values.items() if v is not None}
    return out


# 1, 1.0 and true (0, -0.0 and false) differ in JSON text but are equal in Python: the SQL comparison must not
# report them as changes
value = st.one_of(
    st.none(),
    st.sampled_from(["x", "y", 'é/"q"', 1.0, 0.0, -0.0, [1, "x"]]),
    st.integers(0, 2),
    st.booleans(),
)
op = st.tuples(
    st.sampled_from(RECORDS),
    st.sampled_from(["create", "update", "update", "delete", "restore"]),
    st.dictionaries(st.sampled_from(FIELDS), value, max_size=3),
)
event = st.lists(op, min_size=1, max_size=3)


def _write(
    store: Store, dataset_id: str, events: list[list[Any]], prefix: str, first_clock: int
) -> list[str]:
    rows, ids = [], []
    for n, ops in enumerate(events):
        eid = f"{prefix}{n:03d}"
        ids.append(eid)
        for i, ((resource, rid), kind, fields) in enumerate(ops):
            text = json.dumps(fields, separators=(",", ":"), ensure_ascii=False) if fields else None
            rows.append((dataset_id, resource, rid, eid, first_clock + n // 2, i, kind, text))
    insert_ops(store.con, rows)
    return ids


def _same(sql: States, ref: States, records: Sequence[tuple[str, str]]) -> None:
    for key in records:
        a, b = sql.get(key, RecordState()), ref.get(key, RecordState())
        assert (a.alive, a.life_event, a.created_by) == (b.alive, b.life_event, b.created_by)
        assert a.values == b.values
        assert {k: a.setter(k) for k in a.values} == {k: b.setter(k) for k in b.values}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    upstream=st.lists(event, min_size=1, max_size=8),
    fork=st.lists(event, max_size=6),
    fork_point=st.integers(0, 8),
    base_point=st.integers(0, 8),
    fork_cut=st.integers(0, 6),
)
def test_the_sql_fold_and_review_equal_the_python_fold(
    tmp_path_factory: Any, upstream: list[Any], fork: list[Any], fork_point: int, base_point: int,
    fork_cut: int,
) -> None:  # fmt: skip
    home: Path = tmp_path_factory.mktemp("fold")
    with Store.open(home, memory=True) as store:
        up_ids = _write(store, UP, upstream, "u", 1)
        inherited = set(up_ids[:fork_point])
        store.con.execute(
            """INSERT INTO record_ops SELECT ?, resource, record_id, event_id, clock - ?, op_index, op, fields
               FROM record_ops WHERE dataset_id = ? AND event_id IN (SELECT unnest(?::VARCHAR[]))""",
            [FORK, INHERITED_OFFSET, UP, sorted(inherited)],
        )
        fork_ids = _write(store, FORK, fork, "v", 1)
        base_set, fork_set = set(up_ids[:base_point]), set(fork_ids[:fork_cut])
        views = [View(UP, base_set), View(UP), View(FORK, fork_set)]

        full = forks.fold(store, RECORDS, views)
        reference = [reference_fold(store, v.dataset_id, RECORDS, v.events) for v in views]  # type: ignore[arg-type]
        for sql_states, ref_states in zip(full, reference, strict=True):
            _same(sql_states, ref_states, RECORDS)

        changed = forks.fold(store, RECORDS, views, changed_only=True)
        empty = RecordState()
        for accept in (True, False):
            for key in RECORDS:
                b, t, i = (s.get(key, empty) for s in changed)
                rb, rt, ri = (s.get(key, empty) for s in reference)
                if not accept:  # a pull: the upstream comes in, the fork is the target
                    t, i, rt, ri = i, t, ri, rt
                got = merge._compare_record(key, b, t, i, accept)
                want = merge._compare_record(key, rb, rt, ri, accept)
                assert got == want

        for accept in (True, False):
            base, target, incoming = (
                (views[0], views[1], views[2]) if accept else (views[0], views[2], views[1])
            )
            ref_b, ref_t, ref_i = (reference[0], reference[1], reference[2]) if accept else (
                reference[0], reference[2], reference[1])  # fmt: skip
            expected = [
                d
                for key in RECORDS
                if (d := merge._compare_record(key, ref_b.get(key, empty), ref_t.get(key, empty),
                                               ref_i.get(key, empty), accept)) is not None
            ]  # fmt: skip
            assert merge.record_diffs(store, RECORDS, base, target, incoming, accept) == expected
